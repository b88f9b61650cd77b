"""One writer per workspace: two indexing runs at once would interleave their journals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from graphrag.errors import WorkspaceLockedError


@contextmanager
def workspace_lock(workspace: Path, timeout: float) -> Iterator[None]:
    workspace.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(workspace / "write.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise WorkspaceLockedError(
            f"another graphrag process is writing to {workspace} (lock {workspace / 'write.lock'}); "
            f"wait for it to finish, or set GRAPHRAG_LOCK_TIMEOUT to wait longer than {timeout:g}s"
        ) from None
    try:
        yield
    finally:
        lock.release()
