"""Many query vectors against one vector table, fast on a warm process.

A table small enough (`max_cached_rows`) is read from the `VectorStore` once and searched in
memory: one matrix product answers every query vector of a question in well under a
millisecond per thousand rows, where a round trip per vector costs tens. Larger tables are
searched through the store, one call per vector.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphrag.stores.base import VectorHit, VectorStore


@dataclass(frozen=True)
class _Table:
    ids: list[str]
    matrix: np.ndarray  # (rows, dim), unit rows
    metadata: list[Mapping[str, Any]]


class VectorSearcher:
    def __init__(self, store: VectorStore, max_cached_rows: int) -> None:
        self.store = store
        self.max_cached_rows = max_cached_rows
        self._tables: dict[str, _Table | None] = {}  # None: searched through the store
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._tables.clear()

    def search(self, table: str, queries: np.ndarray, k: int) -> list[list[VectorHit]]:
        """Hits per query row, best first; `text` is left empty (fetch texts for the few
        hits you keep)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        cached = self._cached(table)
        if cached is None:
            return [
                [VectorHit(h.id, h.score, "", h.metadata) for h in self.store.search(table, q, k)]
                for q in queries
            ]
        if not cached.ids:
            return [[] for _ in range(len(queries))]
        sims = queries @ cached.matrix.T
        k = min(k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        results: list[list[VectorHit]] = []
        for row, candidates in zip(sims, top):
            ranked = candidates[np.argsort(-row[candidates], kind="stable")]
            results.append([VectorHit(cached.ids[i], float(row[i]), "", cached.metadata[i]) for i in ranked])
        return results

    def _cached(self, table: str) -> _Table | None:
        with self._lock:
            if table in self._tables:
                return self._tables[table]
            loaded = self._load(table)
            self._tables[table] = loaded
            return loaded

    def _load(self, table: str) -> _Table | None:
        if self.max_cached_rows <= 0 or self.store.count(table) > self.max_cached_rows:
            return None
        rows = self.store.get(table, sorted(self.store.ids(table)))
        if not rows:
            return _Table([], np.zeros((0, 1), dtype=np.float32), [])
        ids = list(rows)
        matrix = np.stack([np.asarray(rows[i].vector, dtype=np.float32) for i in ids])
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix /= np.where(norms > 0, norms, 1.0)
        return _Table(ids, matrix, [rows[i].metadata for i in ids])
