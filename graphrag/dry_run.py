"""A dry run writes nothing: on a workspace that does not exist yet, the estimate runs in a
scratch workspace that is removed afterwards, so the real one is never created."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graphrag.settings import Settings


@contextmanager
def estimate_settings(settings: Settings) -> Iterator[Settings]:
    """`settings` itself when its workspace holds an index (reads it, writes nothing), else
    a copy pointing at a throw-away workspace (an empty index reuses nothing anyway)."""
    if settings.state_path.is_file():
        yield settings
        return
    scratch = Path(tempfile.mkdtemp(prefix="graphrag-dry-run-"))
    try:
        yield settings.model_copy(update={
            "workspace": scratch,
            # Neo4j is only read, under the namespace the real run would use.
            "graph_namespace": settings.resolved_graph_namespace,
            "vector_uri": None,
        })
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
