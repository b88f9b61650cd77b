"""Versioned schemas of the SQLite stores: an older file is upgraded in place, a newer one
is refused with a message that says what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from graphrag.errors import StoreError
from graphrag.stores.sqlite_graph import SQLiteGraphStore
from graphrag.stores.sqlite_state import SQLiteStateStore
from graphrag.stores.sqlite_state_schema import MIGRATIONS, SCHEMA_VERSION


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def _set_user_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def test_a_v1_state_store_gains_the_merge_aggregates_table(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with SQLiteStateStore(path) as store:
        store.put_aggregates({("n", "scrooge"): "{}"})
        assert store.get_aggregates("n", ["scrooge"]) == {"scrooge": "{}"}
    assert _user_version(path) == SCHEMA_VERSION == len(MIGRATIONS)


def test_a_state_store_from_a_newer_graphrag_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    SQLiteStateStore(path).close()
    _set_user_version(path, SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="newer than this graphrag.*upgrade graphrag"):
        SQLiteStateStore(path)


def test_a_graph_store_from_a_newer_graphrag_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "graph.sqlite"
    SQLiteGraphStore(path).close()
    _set_user_version(path, 99)
    with pytest.raises(StoreError, match="graph schema v99, newer than this graphrag"):
        SQLiteGraphStore(path)
