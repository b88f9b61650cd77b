"""The API's background jobs, kept in the workspace's state database (table `api_jobs`),
so that an accepted request survives a server restart: the next server resumes every job
that was queued or running.

Its own connection and table, created if missing: jobs are the API's business, and the
state store's schema (documents, chunks, records) stays as it is.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from graphrag.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_jobs (
    track_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    document_ids TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    result TEXT,
    error TEXT
)
"""
_FIELDS = ("track_id", "kind", "spec", "document_ids", "status", "attempts", "created_at", "started_at",
           "finished_at", "result", "error")
_JSON_FIELDS = ("spec", "document_ids", "result")


class SQLiteJobStore:
    """Job rows as dicts with the fields above (`spec`, `document_ids`, `result` as JSON values)."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self, *, create: bool) -> sqlite3.Connection | None:
        """The connection, opened on first use; a server that has accepted no job yet
        creates nothing (a mistyped workspace stays absent)."""
        if self._conn is None:
            if not create and not self.path.exists():
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(_SCHEMA)
            except sqlite3.Error as e:
                raise StoreError(f"cannot open the job table in {self.path}: {e}") from e
            self._conn = conn
        return self._conn

    def save(self, job: dict[str, Any]) -> None:
        row = [json.dumps(job.get(f)) if f in _JSON_FIELDS else job.get(f) for f in _FIELDS]
        with self._lock:
            db = self._db(create=True)
            assert db is not None
            db.execute(
                f"INSERT OR REPLACE INTO api_jobs ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})", row
            )

    def unfinished(self) -> list[dict[str, Any]]:
        """Jobs queued or running when the last server stopped, oldest first."""
        return self._select("WHERE status IN ('queued', 'running') ORDER BY created_at")

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return self._select("ORDER BY created_at DESC LIMIT ?", limit)[::-1]

    def _select(self, clause: str, *params: Any) -> list[dict[str, Any]]:
        with self._lock:
            db = self._db(create=False)
            if db is None:
                return []
            rows = db.execute(f"SELECT {', '.join(_FIELDS)} FROM api_jobs {clause}", params).fetchall()
        return [
            {f: (json.loads(v) if f in _JSON_FIELDS and v is not None else v) for f, v in zip(_FIELDS, row)}
            for row in rows
        ]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
