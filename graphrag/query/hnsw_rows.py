"""An HNSW graph over a large in-memory vector table, kept in the workspace between processes.

An exact search reads every row: on the 2-core VM a pass over 342k rows × 384 floats (the
100k-entity bench's relation table) costs tens of milliseconds even as 8-bit codes, the
memory bandwidth's floor, and LanceDB's own ANN index costs 7–13 ms a vector, most of it
the query's fixed cost. An HNSW graph (usearch, 8-bit vectors) visits a few thousand rows
per vector, ~1–3 ms at 342k rows; its candidates (CANDIDATES_PER_HIT per hit asked) are
scored again on the float32 rows, so every returned score is exact and only a near-tie at
the k-th place can be missed (recall measured in the README).

The graph takes a minute or more to build at a few hundred thousand rows, so it is saved
under `<workspace>/ann/` and brought up to date at each load: rows are keyed by id, with a
fingerprint of their vector; rows added, changed or removed since the graph was saved are
added to or removed from it (the cost of the change, not of the table), and it is saved
again once SAVE_SHARE of the rows changed; past REBUILD_SHARE it is built anew. A failed
save (a read-only workspace) leaves the graph in memory for this process.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

log = logging.getLogger(__name__)

# Graph parameters (usearch): 16 links per node, 300 candidates while linking. On the 100k
# bench's relation table (342k rows of hashed vectors, the hard case: a keyword's vector lies
# far from every row) these found 0.968 / 0.988 / 0.992 of the exact top 20 at a search
# breadth (`ef`) of 256 / 512 / 768, 0.8 / 1.3 / 1.9 ms a vector (94 vectors, a busy VM);
# 32 links and 400 while linking: 0.980 / 0.992 / 0.996 at 256 / 512 / 1024, built in 181 s
# instead of 107 s.
CONNECTIVITY = 16
EXPANSION_ADD = 300
CANDIDATES_PER_HIT = 5
# The vectors of one search (a question's keywords) spread over two threads: four vectors on
# the 342k-row graph, 11.2 -> 4.1 ms with a core free, 10.1 -> 11.5 ms with none (the VM busy).
SEARCH_THREADS = 2
# A graph is saved again once this share of its rows changed: until then each process adds
# the few changed rows itself (~3k rows a second) rather than rewrite the whole graph
# (hundreds of MB at a few 100k rows) after every small update.
SAVE_SHARE = 0.01
# Past this share of changed rows a fresh build costs about what the updates would, and
# leaves a graph without removed nodes.
REBUILD_SHARE = 0.25
# A row's fingerprint: its float32 bits times fixed odd 64-bit numbers, summed modulo 2^64
# (two such sums). Integer arithmetic is exact, so a row has the same fingerprint wherever
# it sits in the table (a float product may round differently by position), and a changed
# vector changes it but for a 2^-128 coincidence. 0.2 s for 342k rows × 384.
_FINGERPRINT_BLOCK = 4096


def _fingerprints(matrix: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(matrix, dtype=np.float32).view(np.uint32)
    rng = np.random.default_rng(20261203)
    coefficients = rng.integers(1, 2**62, size=(bits.shape[1], 2), dtype=np.uint64) | np.uint64(1)
    out = np.empty((len(bits), 2), dtype=np.uint64)
    for start in range(0, len(bits), _FINGERPRINT_BLOCK):
        out[start : start + _FINGERPRINT_BLOCK] = bits[start : start + _FINGERPRINT_BLOCK].astype(np.uint64) @ coefficients
    return out


@dataclass
class _Saved:
    token: str
    key_ids: np.ndarray  # id of every key ("" for a key whose row was removed)
    fingerprints: np.ndarray  # (keys, 2) uint64


class HnswRows:
    """Approximate nearest rows of one table (cosine), re-ranked exactly on its float32 rows."""

    def __init__(self, index: object, row_of_key: np.ndarray, ef: int) -> None:
        self.index = index
        self.row_of_key = row_of_key  # key -> row of the current matrix (-1: removed)
        self.ef = ef
        self.updated = 0  # rows added to or removed from a saved graph by this load
        self.built = False  # built anew by this load

    @classmethod
    def open(cls, folder: Path | None, table: str, ids: list[str], matrix: np.ndarray, *, ef: int) -> "HnswRows":
        """The graph of `table` saved in `folder`, brought up to date with `ids`/`matrix`
        (unit rows), or a new one; saved back when it changed (`folder` None: not kept).
        Processes take turns per table (a lock file), so a second one waits for the first's
        build and then reads it instead of building its own."""
        if folder is None:
            return cls._open(None, table, ids, matrix, ef)
        lock = FileLock(str(folder / f"{table}.lock"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except OSError:  # a read-only workspace: nothing is written, nothing to guard
            return cls._open(folder, table, ids, matrix, ef)
        try:
            return cls._open(folder, table, ids, matrix, ef)
        finally:
            lock.release()

    @classmethod
    def _open(cls, folder: Path | None, table: str, ids: list[str], matrix: np.ndarray, ef: int) -> "HnswRows":
        fingerprints = _fingerprints(matrix)
        saved = _read(folder, table) if folder is not None else None
        index = _restore(folder, table, saved, matrix.shape[1]) if folder is not None and saved is not None else None
        rows = cls(None, np.zeros(0, dtype=np.int64), ef)
        changed = -1
        if index is not None and saved is not None:
            key_ids, key_fps, changed = rows._update(index, saved, ids, matrix, fingerprints)
        if index is None or changed < 0:
            index = rows._build(table, ids, matrix)
            key_ids, key_fps = np.asarray(ids, dtype=str), fingerprints
        rows.index = index
        if folder is not None and (rows.built or rows.updated > SAVE_SHARE * len(ids)):
            _write(folder, table, index, key_ids, key_fps)
        return rows

    def _build(self, table: str, ids: list[str], matrix: np.ndarray) -> object:
        from usearch.index import Index

        started = time.perf_counter()
        log.warning("building the HNSW graph of %s (%d rows): once, then updated with the rows that change", table, len(ids))
        index = Index(ndim=matrix.shape[1], metric="cos", dtype="i8", connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD)
        if len(ids):
            index.add(np.arange(len(ids), dtype=np.uint64), matrix, threads=0)
        self.row_of_key = np.arange(len(ids), dtype=np.int64)
        self.built = True
        log.info("built the HNSW graph of %s in %.1f s", table, time.perf_counter() - started)
        return index

    def _update(
        self, index: object, saved: _Saved, ids: list[str], matrix: np.ndarray, fingerprints: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Brings `index` (keyed as `saved`) up to date with the current rows; the new key
        table and the number of rows changed, or -1 when a fresh build is due."""
        key_of_id = {key_id: key for key, key_id in enumerate(saved.key_ids.tolist()) if key_id}
        current = set(ids)
        removed = [key for key_id, key in key_of_id.items() if key_id not in current]
        row_keys = np.fromiter((key_of_id.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        known = row_keys >= 0
        same = np.zeros(len(ids), dtype=bool)
        same[known] = np.all(saved.fingerprints[row_keys[known]] == fingerprints[known], axis=1)
        stale = np.flatnonzero(known & ~same)
        new = np.flatnonzero(~known)
        changed = len(removed) + len(stale) + len(new)
        if changed > REBUILD_SHARE * max(len(ids), 1):
            return saved.key_ids, saved.fingerprints, -1
        key_ids = saved.key_ids.astype(object)
        key_fps = saved.fingerprints.copy()
        drop = np.asarray(removed + row_keys[stale].tolist(), dtype=np.uint64)
        if len(drop):
            index.remove(drop)  # type: ignore[attr-defined]
            key_ids[np.asarray(removed, dtype=np.int64)] = ""
        if len(new):
            row_keys[new] = np.arange(len(key_ids), len(key_ids) + len(new))
            key_ids = np.concatenate([key_ids, np.asarray([ids[i] for i in new], dtype=object)])
            key_fps = np.vstack([key_fps, np.zeros((len(new), 2), dtype=np.uint64)])
        added = np.concatenate([stale, new]).astype(np.int64)
        if len(added):
            index.add(row_keys[added].astype(np.uint64), matrix[added], threads=0)  # type: ignore[attr-defined]
            key_fps[row_keys[added]] = fingerprints[added]
        self.row_of_key = np.full(len(key_ids), -1, dtype=np.int64)
        self.row_of_key[row_keys] = np.arange(len(ids))
        self.updated = changed
        return np.asarray(key_ids, dtype=str), key_fps, changed

    def with_rows(self, matrix: np.ndarray, written: np.ndarray, removed: np.ndarray) -> "HnswRows":
        """The graph after a catch-up (loaded_table.py) wrote the vectors of rows `written` of
        `matrix` (overwritten or new) and removed rows `removed`: their old nodes leave the
        graph, the written rows come in under new keys. The usearch index is shared and
        changed in place (it takes adds and removals beside searches); the key table is new,
        so a search in flight keeps the one it started with. Not saved: the next process's
        load brings the saved graph up to date by the rows' fingerprints."""
        key_of_row = np.full(len(matrix), -1, dtype=np.int64)
        live = np.flatnonzero(self.row_of_key >= 0)
        key_of_row[self.row_of_key[live]] = live
        gone = key_of_row[np.concatenate([written, removed])]
        gone = gone[gone >= 0]
        row_of_key = self.row_of_key.copy()
        if len(gone):
            self.index.remove(gone.astype(np.uint64))  # type: ignore[attr-defined]
            row_of_key[gone] = -1
        if len(written):
            keys = np.arange(len(row_of_key), len(row_of_key) + len(written))
            self.index.add(keys.astype(np.uint64), matrix[written], threads=0)  # type: ignore[attr-defined]
            row_of_key = np.concatenate([row_of_key, written])
        return HnswRows(self.index, row_of_key, self.ef)

    def renumbered(self, new_row: np.ndarray) -> "HnswRows":
        """The same graph over a matrix whose row r moved to `new_row[r]` (-1: gone)."""
        live = self.row_of_key >= 0
        row_of_key = np.full(len(self.row_of_key), -1, dtype=np.int64)
        row_of_key[live] = new_row[self.row_of_key[live]]
        return HnswRows(self.index, row_of_key, self.ef)

    def search(self, matrix: np.ndarray, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query row, the rows of `matrix` found closest and their float32 scores,
        best first (ties by row), as `quantized_scan.exact_top_k` returns them."""
        n = len(matrix)
        k = min(k, n)
        count = min(n, max(CANDIDATES_PER_HIT * k, k))
        self.index.expansion_search = max(self.ef, count)  # type: ignore[attr-defined]
        threads = SEARCH_THREADS if len(queries) > 1 else 1
        matches = self.index.search(queries, count, threads=threads)  # type: ignore[attr-defined]
        if hasattr(matches, "counts"):  # several queries: BatchMatches
            keys, counts = matches.keys, matches.counts
        else:  # one query: Matches
            keys, counts = matches.keys[None, :], [len(matches.keys)]
        found = []
        for query, query_keys, found_count in zip(queries, keys, counts):
            query_keys = query_keys[:found_count].astype(np.int64)
            # a key added by a catch-up after this search's key table was taken
            rows = self.row_of_key[query_keys[query_keys < len(self.row_of_key)]]
            rows = np.unique(rows[rows >= 0])
            if len(rows) < k:  # a graph left with fewer reachable rows than asked: read them all
                rows = np.arange(n)
            scores = matrix[rows] @ query
            order = np.lexsort((rows, -scores))[:k]
            found.append((rows[order], scores[order]))
        return found


def _index_path(folder: Path, table: str, token: str) -> Path:
    return folder / f"{table}.{token}.usearch"


def _keys_path(folder: Path, table: str) -> Path:
    return folder / f"{table}.keys.npz"


def _read(folder: Path, table: str) -> _Saved | None:
    try:
        with np.load(_keys_path(folder, table), allow_pickle=False) as data:
            return _Saved(str(data["token"]), data["key_ids"], data["fingerprints"])
    except FileNotFoundError:
        return None
    except Exception as e:  # truncated, not an npz, fields missing: build again
        log.warning("the saved HNSW graph of %s is unreadable (%s); building it again", table, e)
        return None


def _restore(folder: Path, table: str, saved: _Saved, dim: int) -> object | None:
    """The saved graph, or None when it is missing, damaged or does not match its key table."""
    from usearch.index import Index

    path = _index_path(folder, table, saved.token)
    try:
        # Rows the update adds are linked as carefully as the build's (restore forgets it).
        index = Index.restore(str(path), expansion_add=EXPANSION_ADD)
    except Exception as e:  # usearch raises RuntimeError/ValueError on a truncated file
        log.warning("the saved HNSW graph of %s is unreadable (%s); building it again", table, e)
        return None
    if index is None or index.ndim != dim or len(index) > len(saved.key_ids):
        if index is not None or path.exists():
            log.warning("the saved HNSW graph of %s does not match its rows; building it again", table)
        return None
    return index


def _write(folder: Path, table: str, index: object, key_ids: np.ndarray, fingerprints: np.ndarray) -> None:
    """The graph under a new name, flushed to disk and checked whole, then its key table (one
    atomic rename names the graph in use), then the older graphs go: a crash at any point
    leaves a matching pair or none. Called under the table's lock file (`open`)."""
    token = secrets.token_hex(6)
    graph = _index_path(folder, table, token)
    tmp = folder / f"{table}.keys.{token}.tmp.npz"
    try:
        index.save(str(graph))  # type: ignore[attr-defined]
        # usearch does not report a short write (a full disk): compare the size it meant.
        if graph.stat().st_size != index.serialized_length:  # type: ignore[attr-defined]
            raise OSError(f"{graph.name}: {graph.stat().st_size} of {index.serialized_length} bytes written")  # type: ignore[attr-defined]
        np.savez(tmp, token=np.asarray(token), key_ids=np.asarray(key_ids, dtype=str), fingerprints=fingerprints)
        for path in (graph, tmp):
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, _keys_path(folder, table))
    except Exception as e:  # usearch reports a failed save as RuntimeError
        log.warning("could not save the HNSW graph of %s in %s (%s); it stays in memory", table, folder, e)
        graph.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
        return
    for old in folder.glob(f"{table}.*.usearch"):
        if old.name != graph.name:
            old.unlink(missing_ok=True)
