"""What the SQLite-backed stores share: opening a file in WAL mode, versioned schema
migrations, a write transaction that takes the lock up front, and `IN (...)` queries
batched under SQLite's bound-parameter limit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphrag.errors import StoreError

# Older SQLite builds cap bound parameters at 999 per statement.
IN_BATCH = 500


def open_wal(path: Path, busy_timeout_s: float, what: str) -> sqlite3.Connection:
    """A connection to `path` in WAL mode (readers run while a writer writes), with
    isolation_level=None (we issue BEGIN/COMMIT ourselves, so a batch is exactly one
    transaction) and one connection shared by the store's threads behind its lock.
    `busy_timeout_s` is how long a write waits for another process's transaction; `what`
    names the store in errors."""
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open the {what} {path}: {e}") from e
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    except sqlite3.Error as e:
        conn.close()
        raise StoreError(f"cannot open the {what} {path}: {e}") from e
    if str(mode).lower() != "wal":
        conn.close()
        raise StoreError(f"could not put {path} in WAL mode (got {mode!r}); put the workspace on a local file system")
    return conn


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[str], what: str) -> None:
    """Bring the schema from its `user_version` to `len(migrations)`: entry i upgrades
    version i to i + 1. BEGIN IMMEDIATE takes the write lock first, so two processes opening
    a fresh workspace at once cannot both create the schema."""
    version_now = len(migrations)
    with immediate_transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > version_now:
            raise StoreError(
                f"{path} has {what} schema v{version}, newer than this graphrag (v{version_now}); upgrade graphrag"
            )
        for step in range(version, version_now):
            for statement in migrations[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
        # PRAGMA takes no bound parameters; the value is our own integer.
        conn.execute(f"PRAGMA user_version = {version_now}")


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on a connection opened with isolation_level=None. BEGIN
    IMMEDIATE takes the write lock first, so a second writer process waits (busy_timeout)
    instead of failing half-way; any error rolls the whole transaction back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may already have ended the transaction; a second error from
        # ROLLBACK would hide the first.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def select_in(db: sqlite3.Connection, sql: str, values: Iterable[Any], *params: Any) -> Iterator[Any]:
    """Rows of `sql`, whose `{in_}` becomes `IN (?, ...)` over the distinct `values`, run in
    batches under SQLite's bound-parameter limit; `params` bind before the batch."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), IN_BATCH):
        batch = unique[start : start + IN_BATCH]
        yield from db.execute(sql.format(in_="IN (" + ",".join("?" * len(batch)) + ")"), [*params, *batch])
