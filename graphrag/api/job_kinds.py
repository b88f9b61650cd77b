"""What each kind of API job does, as a function of its stored spec (plain JSON, so that a
job outlives the server that accepted it)."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from graphrag.api.jobs import Executor
from graphrag.core import GraphRAG
from graphrag.progress import ProgressCallback


def discard_upload(path: Path, upload_dir: Path) -> None:
    """Removes an uploaded file's folder (never anything outside the upload folder)."""
    try:
        if path.is_relative_to(upload_dir.resolve()):
            shutil.rmtree(path.parent, ignore_errors=True)
    except OSError:
        pass


def job_executor(rag: GraphRAG, upload_dir: Path) -> Executor:
    def execute(kind: str, spec: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
        if kind in ("index", "scan"):
            return rag.index(list(spec["paths"]), progress, prune=bool(spec.get("prune", False))).to_dict()
        if kind == "delete":
            removed = rag.delete(list(spec["refs"]), progress)
            for record in removed:
                discard_upload(Path(record.source), upload_dir)
            return {"deleted": [asdict(r) for r in removed]}
        if kind == "reextract":
            refs = spec.get("refs")
            return rag.reextract(
                None if refs is None else list(refs), dry_run=bool(spec.get("dry_run")), progress=progress
            ).to_dict()
        raise ValueError(f"unknown job kind {kind!r}")

    return execute
