"""Where resolution keeps what it knows: the live names with the features comparison needs,
a word index over them, scored candidate pairs with their evidence, manual decisions, and
which entity each name belongs to. One SQLite file beside the state store.

Everything here except `decisions` is derived from the live extraction records and can be
rebuilt; `decisions` (merges and splits made by a person) is data and survives re-indexing
and deletes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphrag.errors import StoreError

_IN_BATCH = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS names (
    key       TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    families  TEXT NOT NULL,
    n_sources INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS terms (
    term TEXT NOT NULL,
    key  TEXT NOT NULL,
    PRIMARY KEY (term, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS terms_by_key ON terms(key);
CREATE TABLE IF NOT EXISTS pairs (
    a        TEXT NOT NULL,
    b        TEXT NOT NULL,
    score    REAL NOT NULL,
    method   TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pairs_by_b ON pairs(b);
CREATE TABLE IF NOT EXISTS aliases (
    key       TEXT PRIMARY KEY,
    canonical TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS aliases_by_canonical ON aliases(canonical);
CREATE TABLE IF NOT EXISTS decisions (
    a        TEXT NOT NULL,
    b        TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('merge', 'split')),
    note     TEXT NOT NULL DEFAULT '',
    at       REAL NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class NameRecord:
    key: str
    name: str
    families: tuple[str, ...]  # type families the extractors gave this name
    n_sources: int  # live chunks that mention it


@dataclass(frozen=True)
class PairRecord:
    a: str
    b: str
    score: float
    method: str  # how it was scored: "same-core", "extends", "near-identical", "llm", ...
    evidence: dict[str, Any]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


class SQLiteResolutionStore:
    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the resolution store {self.path}: {e}") from e

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _select_in(self, sql: str, values: Iterable[str], more: tuple = ()) -> Iterator[Any]:
        """`more`: the parameters after the IN list."""
        unique = list(dict.fromkeys(values))
        with self._lock:
            for start in range(0, len(unique), _IN_BATCH):
                batch = unique[start : start + _IN_BATCH]
                marks = "IN (" + ",".join("?" * len(batch)) + ")"
                yield from self._conn.execute(sql.format(in_=marks), [*batch, *more]).fetchall()

    # --- names and their word index
    def put_names(self, records: Iterable[NameRecord], terms: Mapping[str, Iterable[str]]) -> None:
        with self.transaction() as db:
            for r in records:
                db.execute(
                    "INSERT OR REPLACE INTO names VALUES (?, ?, ?, ?)",
                    (r.key, r.name, json.dumps(list(r.families)), r.n_sources),
                )
                db.execute("DELETE FROM terms WHERE key = ?", (r.key,))
                db.executemany("INSERT OR IGNORE INTO terms VALUES (?, ?)", [(t, r.key) for t in terms[r.key]])

    def drop_names(self, keys: Iterable[str]) -> None:
        with self.transaction() as db:
            for key in keys:
                db.execute("DELETE FROM names WHERE key = ?", (key,))
                db.execute("DELETE FROM terms WHERE key = ?", (key,))
                db.execute("DELETE FROM aliases WHERE key = ?", (key,))

    def names(self, keys: Iterable[str]) -> dict[str, NameRecord]:
        return {
            row[0]: NameRecord(row[0], row[1], tuple(json.loads(row[2])), row[3])
            for row in self._select_in("SELECT key, name, families, n_sources FROM names WHERE key {in_}", keys)
        }

    def keys_with_terms(self, terms: Iterable[str]) -> dict[str, set[str]]:
        """term -> live keys indexed under it."""
        out: dict[str, set[str]] = {}
        for term, key in self._select_in("SELECT term, key FROM terms WHERE term {in_}", terms):
            out.setdefault(term, set()).add(key)
        return out

    def count_names(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM names").fetchone()[0]

    def all_keys(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT key FROM names")}

    # --- small facts about the store itself (which derived data is complete)
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- scored pairs
    def replace_pairs(self, keys: Iterable[str], pairs: Iterable[PairRecord]) -> None:
        """Drops every computed pair touching `keys`, then stores `pairs`."""
        keys = list(keys)
        with self.transaction() as db:
            for start in range(0, len(keys), _IN_BATCH):
                batch = keys[start : start + _IN_BATCH]
                marks = ",".join("?" * len(batch))
                db.execute(f"DELETE FROM pairs WHERE a IN ({marks}) OR b IN ({marks})", [*batch, *batch])
            for p in pairs:
                a, b = _pair(p.a, p.b)
                db.execute(
                    "INSERT OR REPLACE INTO pairs VALUES (?, ?, ?, ?, ?)",
                    (a, b, p.score, p.method, json.dumps(p.evidence, sort_keys=True)),
                )

    def long_forms(self, shorts: Iterable[str]) -> dict[str, dict[str, Any]]:
        """short -> {long form: the candidates its pair recorded} for every stored pair whose
        evidence names `short` the short form. The evidence is read in SQLite, not parsed
        here: a crowd's short name has ~10^3 pairs."""
        shorts = set(shorts)
        sql = ("SELECT a, b, json_extract(evidence, '$.short'), json_extract(evidence, '$.candidates') "
               "FROM pairs WHERE {side} {{in_}}")
        out: dict[str, dict[str, Any]] = {}
        for side in ("a", "b"):
            for a, b, short, candidates in self._select_in(sql.format(side=side), shorts):
                if short in shorts and short in (a, b):
                    out.setdefault(short, {})[b if short == a else a] = candidates
        return out

    def set_pair(self, pair: PairRecord) -> None:
        self.replace_pairs([], [pair])

    def pairs_of(self, keys: Iterable[str], min_score: float = 0.0, method: str | None = None) -> list[PairRecord]:
        """Filtered in SQLite, before any evidence is parsed: a crowd's short name has ~10^3
        pairs, none of them a link."""
        keys = list(keys)
        where, more = "score >= ?", (min_score,)
        if method is not None:
            where, more = where + " AND method = ?", (min_score, method)
        rows: set[tuple] = set()
        for side in ("a", "b"):
            sql = f"SELECT a, b, score, method, evidence FROM pairs WHERE {side} {{in_}} AND {where}"
            rows |= set(self._select_in(sql, keys, more))
        return sorted((PairRecord(a, b, s, m, json.loads(e)) for a, b, s, m, e in rows), key=lambda p: (p.a, p.b))

    def pairs_between(self, low: float, high: float, limit: int = 100) -> list[PairRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT a, b, score, method, evidence FROM pairs WHERE score >= ? AND score < ? "
                "ORDER BY score DESC, a, b LIMIT ?",
                (low, high, limit),
            ).fetchall()
        return [PairRecord(a, b, s, m, json.loads(e)) for a, b, s, m, e in rows]

    # --- manual decisions
    def put_decision(self, a: str, b: str, decision: str, note: str = "") -> None:
        a, b = _pair(a, b)
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?)", (a, b, decision, note, time.time()))

    def delete_decision(self, a: str, b: str) -> bool:
        a, b = _pair(a, b)
        with self.transaction() as db:
            return db.execute("DELETE FROM decisions WHERE a = ? AND b = ?", (a, b)).rowcount > 0

    def decisions_of(self, keys: Iterable[str]) -> dict[tuple[str, str], str]:
        keys = list(keys)
        rows = set(self._select_in("SELECT a, b, decision FROM decisions WHERE a {in_}", keys))
        rows |= set(self._select_in("SELECT a, b, decision FROM decisions WHERE b {in_}", keys))
        return {(a, b): d for a, b, d in rows}

    def list_decisions(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT a, b, decision, note, at FROM decisions ORDER BY at, a, b").fetchall()
        return [{"a": a, "b": b, "decision": d, "note": n, "at": at} for a, b, d, n, at in rows]

    # --- which entity each name belongs to
    def canonical_of(self, keys: Iterable[str]) -> dict[str, str]:
        """Names without a row are their own entity."""
        keys = list(keys)
        found = dict(self._select_in("SELECT key, canonical FROM aliases WHERE key {in_}", keys))
        return {k: found.get(k, k) for k in keys}

    def members_of(self, canonicals: Iterable[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for key, canonical in self._select_in("SELECT key, canonical FROM aliases WHERE canonical {in_}", canonicals):
            out.setdefault(canonical, set()).add(key)
        return out

    def set_canonical(self, mapping: Mapping[str, str]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO aliases VALUES (?, ?)", list(mapping.items()))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
