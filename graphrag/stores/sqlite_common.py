"""What the SQLite-backed stores share: a write transaction that takes the lock up front,
and `IN (...)` queries batched under SQLite's bound-parameter limit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# Older SQLite builds cap bound parameters at 999 per statement.
IN_BATCH = 500


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
