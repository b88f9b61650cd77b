"""Commands that read an index refuse a workspace that has none, before anything is opened:
a mistyped `--workspace` must not create a folder, load models and answer from nothing."""

from __future__ import annotations

from graphrag.errors import WorkspaceNotFoundError
from graphrag.settings import Settings
from graphrag.stores.base import StateStore


def require_workspace(settings: Settings) -> None:
    """Raises unless `settings.workspace` holds an index (its state database)."""
    workspace = settings.workspace
    if settings.state_path.is_file():
        return
    where = f"{workspace} (resolved: {workspace.resolve()})"
    if not workspace.exists():
        problem = f"no workspace at {where}"
    else:
        problem = f"{where} is not a graphrag workspace (no {settings.state_path.name})"
    raise WorkspaceNotFoundError(
        f"{problem}; check --workspace / GRAPHRAG_WORKSPACE, or create it with `graphrag index PATH`"
    )


def require_indexed_chunks(settings: Settings, state: StateStore) -> None:
    """Raises when the workspace exists but nothing has been indexed into it yet."""
    if state.count_chunks() == 0:
        raise WorkspaceNotFoundError(
            f"workspace {settings.workspace} has no indexed documents yet; "
            "run `graphrag index PATH` first (`graphrag status` shows failed ones)"
        )
