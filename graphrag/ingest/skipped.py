"""Files a folder or glob holds that indexing leaves out because of their type, counted by
extension so a run can say what it did not read (`iter_sources` filters them silently)."""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from graphrag.ingest.load import SUPPORTED_SUFFIXES


def skipped_by_extension(paths: Iterable[str | os.PathLike[str]]) -> Counter[str]:
    """Extension -> number of files under the folders and globs of `paths` that are not
    indexed for their type (hidden files and folders are not counted: they are never read).
    A file named explicitly is not counted: loading it reports the unsupported type."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            seen.update(_walk(path))
        elif not path.exists() and any(ch in str(raw) for ch in "*?["):
            for hit in glob.glob(str(path), recursive=True):
                p = Path(hit)
                seen.update(_walk(p) if p.is_dir() else [p.resolve()] if p.is_file() else [])
    return Counter(_label(p) for p in seen if p.suffix.lower() not in SUPPORTED_SUFFIXES)


def _walk(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath, name).resolve()


def _label(path: Path) -> str:
    return path.suffix.lower() or "(no extension)"


def describe_skipped(counts: Counter[str], limit: int = 8) -> str | None:
    """`skipped 7 files of other types: .csv 4, .png 3 (indexed: .htm, .html, ...)`, or None."""
    total = sum(counts.values())
    if not total:
        return None
    kinds = ", ".join(f"{ext} {n}" for ext, n in counts.most_common(limit))
    if len(counts) > limit:
        kinds += f", {len(counts) - limit} more kinds"
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    return f"skipped {total:,} file{'s' if total != 1 else ''} of other types: {kinds} (indexed types: {supported})"
