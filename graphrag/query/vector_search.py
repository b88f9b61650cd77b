"""Many query vectors against one vector table, fast on a warm process.

A table small enough (`max_cached_rows`) is read from the `VectorStore` once and searched in
memory: one matrix product answers every query vector of a question in well under a
millisecond per thousand rows, where a round trip per vector costs tens. A table too large
for the cache (32 MB of floats and up) is also kept as 8-bit codes, scanned first and
re-ranked on the float32 rows whose score can reach the top k: the same exact hits, reading a
quarter of the bytes (quantized_scan.py). From `hnsw_min_rows` a scan, even of 8-bit codes,
costs tens of milliseconds (the memory bandwidth's floor), so such a table is searched
through an HNSW graph kept in the workspace and re-ranked on its float32 rows
(hnsw_rows.py). Tables past `max_cached_rows` are
searched through the store, on the store's ANN index, all of a search's vectors in one call
when the store can (`search_many`: LanceDB visits the index once for them): loading such a
table asks the store to build the index if it has none yet (`ensure_ann_index`), since an
exact scan of a few hundred thousand rows costs a hundred milliseconds or more per vector.

The hits of each query vector are remembered (a bounded LRU, per table, whichever way the
table was searched): the modes of one question ask about the same vectors more than once
(mix: local's and ppr's entity searches share the keyword vectors), and `prefetch` lets a mode ask for all of a question's vectors of
a table in one pass over its matrix, which costs about as much as one vector does: the time
goes into reading the matrix (on the MuSiQue dev workspace, 30 MB of relation vectors).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from graphrag.query.hnsw_rows import HnswRows
from graphrag.query.loaded_table import LoadedTable, caught_up, unit_rows
from graphrag.query.quantized_scan import QUANTIZE_FROM_BYTES, Int8Rows, exact_top_k
from graphrag.stores.base import VectorHit, VectorStore

REMEMBERED_ROWS = 4096  # query vectors whose hits are kept, over all tables
# Rows a search asks for beyond k, so that rows tied at the k-th score rank by id whichever
# order the table holds them in (a fresh load holds them by id, a caught-up one appends).
TIE_ROOM = 4
# Scores equal to this many decimals are ties: a product's last bits depend on the shape of
# the matrix it runs over (0.0 in one layout is -2e-10 in another), which must not reorder
# two rows a fresh load and a caught-up table both hold.
TIE_DECIMALS = 6


class _BlasLimit:
    """BLAS threads limited while any search runs, restored when the last one ends. The
    limit is process-wide (the BLAS library has one setting), so overlapping searches of
    several request threads share one limit instead of each restoring what another set."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._active = 0
        self._context: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0:
                self._context = _controller().limit(limits=self.threads, user_api="blas")
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._context is not None:
                self._context.restore_original_limits()
                self._context = None


_controller_cache: tuple[int, Any] | None = None


def _controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries. Scanning them costs ~1 ms on a busy
    machine, as much as a search of a few thousand rows, so the scan is kept until a module is
    imported: a BLAS loaded after the first search (spaCy's BLIS, say) comes with an import,
    and would otherwise keep its own thread count. Called under a `_BlasLimit`'s lock."""
    global _controller_cache
    from threadpoolctl import ThreadpoolController

    n_modules = len(sys.modules)
    if _controller_cache is None or _controller_cache[0] != n_modules:
        _controller_cache = (n_modules, ThreadpoolController())
    return _controller_cache[1]


_blas_limits: dict[int, _BlasLimit] = {}
_blas_limits_lock = threading.Lock()


def _shared_blas_limit(threads: int) -> _BlasLimit:
    with _blas_limits_lock:
        return _blas_limits.setdefault(threads, _BlasLimit(threads))


class VectorSearcher:
    def __init__(
        self,
        store: VectorStore,
        max_cached_rows: int,
        blas_threads: int = 1,
        *,
        hnsw_min_rows: int = 0,
        hnsw_folder: Path | None = None,
        hnsw_ef: int = 512,
    ) -> None:
        """`hnsw_min_rows`: in-memory tables from this many rows are searched through an HNSW
        graph (hnsw_rows.py) kept in `hnsw_folder` (0: never; None folder: rebuilt per process)."""
        self.store = store
        self.max_cached_rows = max_cached_rows
        self.blas_threads = blas_threads
        self.hnsw_min_rows = hnsw_min_rows
        self.hnsw_folder = hnsw_folder
        self.hnsw_ef = hnsw_ef
        self._generation = 0  # bumped by invalidate: hits of an older table are not kept
        self._tables: dict[str, LoadedTable | None] = {}  # None: searched through the store
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}  # per table, held while it loads
        # (table, vector bytes) -> the best hits found for it, as many as were asked
        self._hits: OrderedDict[tuple[str, bytes], list[VectorHit]] = OrderedDict()
        self._hits_lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._tables.clear()
            self._generation += 1
        self.forget_hits()

    def forget_hits(self) -> None:
        """Forgets the remembered hits (the tables stay loaded)."""
        with self._hits_lock:
            self._hits.clear()

    def prefetch(self, table: str, queries: np.ndarray, k: int) -> None:
        """Searches every row of `queries` at once, so that later searches of any of them
        with up to `k` hits are answered from memory (a search remembers its hits, whichever
        way the table is searched)."""
        self.search(table, queries, k)

    def search(self, table: str, queries: np.ndarray, k: int) -> list[list[VectorHit]]:
        """Hits per query row, best first; `text` is left empty (fetch texts for the few
        hits you keep)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        generation = self._generation
        cached = self._cached(table)
        if cached is not None and not cached.live_rows():
            return [[] for _ in range(len(queries))]
        if cached is not None:
            k = min(k, cached.live_rows())
        keys = [(table, q.tobytes()) for q in queries]
        results: list[list[VectorHit] | None] = []
        with self._hits_lock:
            for key in keys:
                known = self._hits.get(key)
                if known is not None and len(known) >= k:
                    self._hits.move_to_end(key)
                    results.append(known[:k])
                else:
                    results.append(None)
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            found = (
                self._search_store(table, queries[missing], k)
                if cached is None
                else self._search_matrix(cached, queries[missing], k)
            )
            with self._hits_lock:
                current = generation == self._generation
                for i, hits in zip(missing, found):
                    results[i] = hits
                    if current:
                        self._hits[keys[i]] = hits
                        self._hits.move_to_end(keys[i])
                while len(self._hits) > REMEMBERED_ROWS:
                    self._hits.popitem(last=False)
        return [r or [] for r in results]

    def _search_store(self, table: str, queries: np.ndarray, k: int) -> list[list[VectorHit]]:
        search_many = getattr(self.store, "search_many", None)
        if search_many is not None and len(queries) > 1:  # one query for all the vectors (LanceDB)
            found = search_many(table, queries, k)
        else:
            found = [self.store.search(table, q, k) for q in queries]
        return [[VectorHit(h.id, h.score, "", h.metadata) for h in hits] for hits in found]

    def _search_matrix(self, cached: LoadedTable, queries: np.ndarray, k: int) -> list[list[VectorHit]]:
        # Rows removed by a catch-up stay in the matrix until compaction: ask for as many more.
        # Rows tied at the k-th score rank by id (below): ask for a few more to choose among.
        n = len(cached.ids)
        asked = min(k + cached.removed, n)
        if cached.hnsw is not None or cached.quantized is not None:
            with self._blas_limit():
                if cached.hnsw is not None:
                    best = cached.hnsw.search(cached.matrix, queries, min(asked + TIE_ROOM, n))
                else:
                    assert cached.quantized is not None
                    best = exact_top_k(cached.matrix, cached.quantized, queries, min(asked + TIE_ROOM, n))
        else:
            with self._blas_limit():
                sims = queries @ cached.matrix.T
            best = []
            for row in sims:
                tie = np.round(row, TIE_DECIMALS)
                kth = np.partition(tie, n - asked)[n - asked]
                candidates = np.flatnonzero(tie >= kth)  # and every row tied at the k-th score
                if len(candidates) > asked + TIE_ROOM:  # a crowd tied (hashed vectors sharing nothing: 0.0)
                    above = np.flatnonzero(tie > kth)
                    tied = sorted(np.flatnonzero(tie == kth).tolist(), key=lambda r: cached.ids[r] or "\uffff")
                    candidates = np.concatenate([above, np.asarray(tied[: asked - len(above)], dtype=np.int64)])
                best.append((candidates, row[candidates]))
        ids, metadata = cached.ids, cached.metadata
        found: list[list[VectorHit]] = []
        for rows, scores in best:
            hits = [(float(s), ids[j], j) for j, s in zip(rows.tolist(), scores.tolist()) if ids[j] is not None]
            # Ties by id: a fresh load holds the rows sorted by id, a caught-up one appends.
            hits.sort(key=lambda h: (-round(h[0], TIE_DECIMALS), h[1]))
            found.append([VectorHit(i, s, "", metadata[j]) for s, i, j in hits[:k]])  # type: ignore[arg-type]
        return found

    def catch_up(self, changed: Mapping[str, set[str]]) -> None:
        """Brings the loaded tables up to date with an update that wrote or removed the rows of
        `changed` (table -> ids), reading just those rows (loaded_table.py); a table where
        much changed, or whose row count then disagrees with the store's, is dropped and read
        again by its next search. Remembered hits are forgotten."""
        with self._lock:
            loaded = {t: c for t, c in self._tables.items() if c is not None and changed.get(t)}
        for table, current in loaded.items():
            with self._loading.setdefault(table, threading.Lock()):
                with self._lock:
                    if self._tables.get(table) is not current:  # dropped or replaced meanwhile
                        continue
                ids = set(changed[table])
                updated = caught_up(current, ids, self.store.get(table, sorted(ids))) if current.live_rows() else None
                if updated is not None and updated.live_rows() != self.store.count(table):
                    updated = None  # rows written outside the change log: read the table again
                if updated is not None and updated.hnsw is None:
                    if 0 < self.hnsw_min_rows <= updated.live_rows():
                        updated = None  # grown past the HNSW threshold: loaded again with a graph
                    elif updated.matrix.nbytes >= QUANTIZE_FROM_BYTES:
                        # rebuilt whole: below the HNSW threshold, a few tens of ms
                        updated = replace(updated, quantized=Int8Rows.of(updated.matrix))
                with self._lock:
                    if updated is None:
                        self._tables.pop(table, None)
                    else:
                        self._tables[table] = updated
        with self._lock:
            # After the tables: a search that began on an old table does not remember its hits.
            self._generation += 1
        self.forget_hits()

    def _blas_limit(self) -> contextlib.AbstractContextManager[Any]:
        """The BLAS thread limit around a search's matrix product. A product of a few query
        vectors with a table is small: a second thread saves little when a core is free and,
        when none is (other requests, other processes), waiting for it costs ten times the
        product itself."""
        if self.blas_threads <= 0:
            return contextlib.nullcontext()
        return _shared_blas_limit(self.blas_threads)

    def _cached(self, table: str) -> LoadedTable | None:
        """The loaded table, loading it once. Loading (a scan, an HNSW graph's first build: a
        minute or more at a few 100k rows) holds only that table's lock, so searches of the
        tables already loaded go on meanwhile."""
        with self._lock:
            if table in self._tables:
                return self._tables[table]
            loading = self._loading.setdefault(table, threading.Lock())
            generation = self._generation
        with loading:
            with self._lock:
                if table in self._tables:  # loaded by the thread this one waited for
                    return self._tables[table]
            loaded = self._load(table)
            with self._lock:
                if generation == self._generation:  # not invalidated while loading
                    self._tables[table] = loaded
            return loaded

    def _load(self, table: str) -> LoadedTable | None:
        if self.max_cached_rows <= 0 or self.store.count(table) > self.max_cached_rows:
            ensure_index = getattr(self.store, "ensure_ann_index", None)
            if ensure_index is not None:
                # Normally built by the write that passed the store's threshold; a workspace
                # written by an older version, or with a higher threshold, gets it here once.
                ensure_index(table)
            return None
        scan = getattr(self.store, "scan", None)  # one read of the whole table (LanceDB)
        if scan is not None:
            ids, matrix, metadata = scan(table)
        else:
            rows = self.store.get(table, sorted(self.store.ids(table)))
            ids = list(rows)
            matrix = np.stack([np.asarray(rows[i].vector, dtype=np.float32) for i in ids]) if ids else None
            metadata = [rows[i].metadata for i in ids]
        if not ids:
            return LoadedTable([], np.zeros((0, 1), dtype=np.float32), [])
        matrix = unit_rows(matrix)
        if 0 < self.hnsw_min_rows <= len(ids):
            hnsw = HnswRows.open(self.hnsw_folder, table, ids, matrix, ef=self.hnsw_ef)
            return LoadedTable(ids, matrix, metadata, hnsw=hnsw)
        quantized = Int8Rows.of(matrix) if matrix.nbytes >= QUANTIZE_FROM_BYTES else None
        return LoadedTable(ids, matrix, metadata, quantized)

