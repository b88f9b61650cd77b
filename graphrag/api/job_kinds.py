"""What each kind of API job does, as a function of its stored spec (plain JSON, so that a
job outlives the server that accepted it)."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Any

from graphrag.api.jobs import Executor, Job
from graphrag.core import GraphRAG
from graphrag.progress import ProgressCallback


def discard_upload(path: Path, upload_dir: Path) -> None:
    """Removes an uploaded file's folder (never anything outside the upload folder)."""
    try:
        if path.is_relative_to(upload_dir.resolve()):
            shutil.rmtree(path.parent, ignore_errors=True)
    except OSError:
        pass


def job_executor(rag: GraphRAG, upload_dir: Path, queued: Callable[[], Iterable[Job]] = lambda: ()) -> Executor:
    """`queued`: the jobs not yet finished. A delete keeps the upload of a document that an
    index job queued after it still reads: the same content lands on the same path, so the
    same text added again while its delete waits would otherwise lose its file."""

    def still_read(source: str) -> bool:
        return any(job.kind == "index" and source in job.spec.get("paths", ()) for job in queued())

    def execute(kind: str, spec: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
        if kind in ("index", "scan"):
            return rag.index(list(spec["paths"]), progress, prune=bool(spec.get("prune", False))).to_dict()
        if kind == "delete":
            removed = rag.delete(list(spec["refs"]), progress)
            for record in removed:
                if not still_read(record.source):
                    discard_upload(Path(record.source), upload_dir)
            return {"deleted": [asdict(r) for r in removed]}
        if kind == "reextract":
            refs = spec.get("refs")
            return rag.reextract(
                None if refs is None else list(refs), dry_run=bool(spec.get("dry_run")), progress=progress
            ).to_dict()
        raise ValueError(f"unknown job kind {kind!r}")

    return execute
