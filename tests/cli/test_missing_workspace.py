"""Reading commands on a mistyped or empty workspace: a clear error, exit 1, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.stores.sqlite_state import SQLiteStateStore
from tests.cli.support import graphrag


@pytest.mark.parametrize("command", [
    ["query", "Who is Scrooge?"], ["status"], ["stats"], ["delete", "abcdef123456"],
    ["export", "--format", "json", "--out", "OUT"],
])
def test_a_mistyped_workspace_is_an_error_and_is_not_created(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo-ws"
    command = [str(tmp_path / "graph.json") if a == "OUT" else a for a in command]
    proc = graphrag(*command, "--workspace", str(missing), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no workspace at" in proc.stderr and "typo-ws" in proc.stderr, proc.stderr
    assert "graphrag index" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # neither the workspace nor the export file


def test_a_folder_that_is_not_a_workspace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    proc = graphrag("query", "Who?", "--workspace", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1 and "is not a graphrag workspace" in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_querying_an_empty_workspace_says_to_index_first(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    SQLiteStateStore(workspace / "state.sqlite").close()
    before = sorted(p.name for p in workspace.iterdir())
    proc = graphrag("query", "Who is Scrooge?", "--workspace", str(workspace), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "has no indexed documents yet" in proc.stderr and "graphrag index" in proc.stderr
    assert "do not contain the answer" not in proc.stdout
    assert sorted(p.name for p in workspace.iterdir()) == before  # no vectors/, no graph.json
