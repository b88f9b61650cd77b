"""Plan: load the sources and sort their documents into new-or-changed, unchanged,
unloadable and removed, and record the sources that produced no document."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from graphrag.errors import SourceNotFoundError
from graphrag.index_report import IndexPlan, IndexReport, ProgressCallback, placeholder_id
from graphrag.ingest.load import LoadResult, iter_sources, load_source
from graphrag.models import DocumentRecord
from graphrag.settings import Settings
from graphrag.stores.base import StateStore


def missing_sources(paths: Sequence[str]) -> list[str]:
    """The paths that do not exist and the patterns that match no file: argument errors,
    reported before anything is recorded."""
    missing = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.exists() or path.is_symlink():
            continue
        if any(ch in str(raw) for ch in "*?[") and glob.glob(str(path), recursive=True):
            continue
        missing.append(str(raw))
    return missing


def check_sources(paths: Sequence[str]) -> None:
    missing = missing_sources(paths)
    if missing:
        raise SourceNotFoundError(
            f"no such file or folder: {', '.join(missing)}; give existing files, folders or globs that match files"
        )


def plan_sources(
    paths: Sequence[str], settings: Settings, state: StateStore, progress: ProgressCallback
) -> IndexPlan:
    """Loads the sources and sorts their documents into new-or-changed and unchanged."""
    sources = iter_sources(paths)
    plan = IndexPlan()
    seen: set[str] = set()
    for i, source in enumerate(sources):
        result = load_source(source, settings)
        progress("load", i + 1, len(sources))
        if result.status != "loaded":
            plan.unloadable.append(result)
            continue
        plan.record_errors.extend({"source": result.source, "reason": e} for e in result.errors)
        for doc in result.documents:
            plan.sources.add(doc.source)
            if doc.id in seen:
                continue
            seen.add(doc.id)
            existing = state.get_document(doc.id)
            if existing is not None and existing.status == "processed":
                plan.unchanged.append(doc.id)
            else:
                plan.todo.append(doc)
    plan.removed = removed_under(state, paths, plan.sources | {r.source for r in plan.unloadable})
    return plan


def removed_under(state: StateStore, paths: Sequence[str], present: set[str]) -> list[str]:
    """Indexed documents whose source lies under `paths` but was not found there now."""
    roots = [str(Path(p).resolve()) for p in paths if not any(ch in str(p) for ch in "*?[")]
    removed: dict[str, None] = {}
    for root in roots:
        # Only the documents under this root: adding one file to a large workspace must
        # not read every document record.
        for record in state.documents_under(root):
            if record.status not in ("processed", "processing") or record.source in present:
                continue
            file_path = record.source.split("#", 1)[0]
            if file_path == root or file_path.startswith(root.rstrip("/") + "/"):
                removed.setdefault(record.id)
    return list(removed)


def record_plan(state: StateStore, plan: IndexPlan, report: IndexReport) -> None:
    report.documents_unchanged += len(plan.unchanged)
    report.documents_failed += len(plan.record_errors)
    report.failures.extend(plan.record_errors)
    for result in plan.unloadable:
        _record_unloadable(state, result, report)


def _record_unloadable(state: StateStore, result: LoadResult, report: IndexReport) -> None:
    status = "skipped" if result.status == "skipped" else "failed"
    record = DocumentRecord(
        id=placeholder_id(result.source),
        source=result.source,
        title=result.source,
        content_hash="",
        status=status,
        error=result.reason,
    )
    state.upsert_document(record)
    if status == "skipped":
        report.documents_skipped += 1
    else:
        report.documents_failed += 1
    report.failures.append({"source": result.source, "reason": result.reason or status})
