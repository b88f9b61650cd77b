"""The log of the keys a graph store wrote, which the processes that cache the graph beside
it (the query engine's vector tables and PPR graph) catch up from instead of loading
everything again after an update.

A log is a table of (seq, kind, key) with increasing sequence numbers; a reader keeps the
sequence it caught up to (its mark) and asks for the keys written after it
(`read_changes`). The embedded store (sqlite_graph.py) appends its rows in the transaction
that writes the graph. `ChangeLog` is the log of a store whose writes are committed
elsewhere (Neo4j): a SQLite file in the workspace, beside the state store and the vector
tables that the readers share anyway, so the database holds no bookkeeping nodes of ours
and its write path is unchanged.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from graphrag.errors import StoreError
from graphrag.stores.sqlite_common import immediate_transaction, migrate, open_wal

KINDS = ("document", "chunk", "entity", "relation")
# Rows kept for readers to catch up from; a reader further behind loads everything again
# (still correct, only slower).
CHANGE_LOG_KEEP = 200_000
DEFAULT_FILENAME = "graph_changes.sqlite"

Changes = dict[str, set[str]]

_MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    noted INTEGER NOT NULL,      -- the last sequence given to a key
    published INTEGER NOT NULL,  -- readers see the keys up to here
    floor INTEGER NOT NULL       -- the oldest mark the log still answers from
);
""",
]


def read_changes(conn: sqlite3.Connection, mark: int, last: int, floor: int | None = None) -> Changes | None:
    """kind -> the keys of `changes` rows with mark < seq <= last; None when the log no
    longer reaches back to `mark` (pruned, or a log started after it: `floor`, else its
    oldest row). Runs in the caller's read transaction."""
    changed: Changes = {kind: set() for kind in KINDS}
    if last == mark:
        return changed
    if floor is None:
        oldest = conn.execute("SELECT MIN(seq) FROM changes").fetchone()[0]
        if oldest is None or oldest > mark + 1:
            return None
    elif mark < floor:
        return None
    for kind, key in conn.execute("SELECT kind, key FROM changes WHERE seq > ? AND seq <= ?", (mark, last)):
        changed[kind].add(key)
    return changed


class ChangeLog:
    """The change log of a graph store that commits its writes elsewhere.

    The store names the keys it is about to write (`note`) before writing them, and
    `publish`es them once the update is whole (its `flush`, which the indexer calls after
    the vectors are written): readers are told only of published keys, so they never read a
    key's vector before the update wrote it. A key named but then not written (a failed or
    killed write) costs a reader one needless re-read; a key written but never named would
    be missed, which noting first rules out. Notes of a run killed before publishing are
    published by the next run's flush, even when that run finds the graph already written.

    A log made anew (its file deleted, or `reset` when the workspace's graph is dropped)
    starts its sequence at a random number, so a mark a reader took from the old one is
    below its floor or above its end and sends the reader to load everything again. (A
    process that has the old file open while it is deleted keeps reading the deleted file
    and is not told: delete workspace files with the processes that use them stopped.)

    One writer at a time: `publish` tells readers of every key noted so far, so a second
    writer's flush while the first is between its graph and vector writes would tell them
    too early. Every writing command holds the workspace lock (graphrag/workspace_lock.py),
    as it must for the state store's journal anyway."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection, shared by the store's threads
        self._conn = open_wal(self.path, busy_timeout_s, "graph change log")
        try:
            # A power cut may undo the last notes; it also ended every reader, which then
            # loads everything anyway.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            migrate(self._conn, self.path, _MIGRATIONS, "change log")
            with self._write() as conn:
                if conn.execute("SELECT 1 FROM log").fetchone() is None:
                    start = _random_start()
                    conn.execute("INSERT INTO log VALUES (1, ?, ?, ?)", (start, start, start))
        except BaseException as e:
            self._conn.close()
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"cannot open the graph change log {self.path}: {e}") from e
            raise

    def note(self, kind: str, keys: Iterable[str]) -> None:
        """Names `keys` of `kind` (one of KINDS) as about to be written."""
        keys = sorted(set(keys))
        if not keys:
            return
        with self._write() as conn:
            (noted,) = conn.execute("SELECT noted FROM log").fetchone()
            conn.executemany("INSERT INTO changes VALUES (?, ?, ?)",
                             ((noted + 1 + i, kind, key) for i, key in enumerate(keys)))
            conn.execute("UPDATE log SET noted = ?", (noted + len(keys),))

    def publish(self) -> None:
        """Tells readers of every key noted so far; prunes what no reader needs any more."""
        with self._write() as conn:
            noted, published, floor = conn.execute("SELECT noted, published, floor FROM log").fetchone()
            if noted == published:
                return
            floor = max(floor, noted - CHANGE_LOG_KEEP)
            conn.execute("DELETE FROM changes WHERE seq <= ?", (floor,))
            conn.execute("UPDATE log SET published = ?, floor = ?", (noted, floor))

    def reset(self) -> None:
        """Forgets every key: the graph was dropped, so every reader loads everything again."""
        with self._write() as conn:
            start = _random_start()
            conn.execute("DELETE FROM changes")
            conn.execute("UPDATE log SET noted = ?, published = ?, floor = ?", (start, start, start))

    def mark(self) -> int:
        """The last published sequence: `changes_since` it names what is published later."""
        with self._read() as conn:
            return int(conn.execute("SELECT published FROM log").fetchone()[0])

    def changes_since(self, mark: int) -> tuple[int, Changes] | None:
        """(the new mark, kind -> the keys published after `mark`); None when the log no
        longer reaches back to `mark`."""
        with self._read() as conn:
            published, floor = conn.execute("SELECT published, floor FROM log").fetchone()
            changed = read_changes(conn, mark, published, floor) if mark <= published else None
            return None if changed is None else (published, changed)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                with immediate_transaction(self._conn) as conn:
                    yield conn
            except sqlite3.Error as e:
                raise StoreError(f"cannot write the graph change log {self.path}: {e}; check the disk") from e

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One snapshot: a publish or a prune cannot land between its reads."""
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                try:
                    yield self._conn
                finally:
                    self._conn.execute("COMMIT")
            except sqlite3.Error as e:
                raise StoreError(f"cannot read the graph change log {self.path}: {e}") from e


def _random_start() -> int:
    """Where a log's sequence starts: anywhere in the lower half of int64, leaving the upper
    half for its keys. An old mark falls inside a new log's published range with odds of
    about (keys published since) / 2**62: nil, with no clock that may step back involved."""
    return secrets.randbelow(2**62)
