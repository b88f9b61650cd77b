"""A vector table held in memory for search, and how it catches up with the rows an update changed.

Loading a table reads every row (the 100k-entity bench's 342k relation rows: 1.5–3 s, and
the HNSW graph's check of every row's fingerprint). A long-lived process (the API) that sees
one small document indexed reads just the changed rows instead (`caught_up`): a changed or
new row goes into spare capacity at the end, and the row it replaces or a removed one stays
where it is with its id set to None until such rows pass COMPACT_SHARE of the table. So an
update costs what it changed, not what the table holds.

Searches in flight keep the table object they started with: a catch-up builds a new object
(copying the id and metadata lists) and writes only past the old object's last row, so on
the exact and 8-bit paths a search that began before an update answers from the rows before
it. The HNSW graph is one usearch index, changed in place: a search in flight on it may miss
a row the update changed (never an error, nor a row under another id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphrag.query.hnsw_rows import HnswRows
from graphrag.query.quantized_scan import Int8Rows
from graphrag.stores.base import VectorRow

# Past this share of a table's rows changed in one catch-up (and this many rows: a small
# table is cheap to catch up either way), reading the whole table again costs about the same
# and leaves no removed rows behind.
RELOAD_SHARE = 0.25
RELOAD_MIN_ROWS = 256
# Removed rows kept in place until they are this share of the table: each search asks for as
# many more hits as there are removed rows (they are dropped from its answer).
COMPACT_SHARE = 0.02
# New rows go into spare capacity; when it runs out the rows are copied into a buffer this
# much larger, so appending costs the copy once every many updates.
GROWTH = 1.25


@dataclass(frozen=True)
class LoadedTable:
    ids: list[str | None]  # None: a row removed since the table was read
    matrix: np.ndarray  # (rows, dim), unit rows; a view of `buffer`'s first rows
    metadata: list[Mapping[str, Any]]
    quantized: Int8Rows | None = None  # the 8-bit copy of a large table (quantized_scan.py)
    hnsw: HnswRows | None = None  # the graph of a table past `hnsw_min_rows` (hnsw_rows.py)
    removed: int = 0  # rows whose id is None
    buffer: np.ndarray | None = None  # the rows and spare capacity (None: `matrix` has none)
    # id -> row, built by the first catch-up and then kept up to date (shared by the
    # successive objects of a table: only catch-ups read it)
    row_of_id: dict[str, int] | None = None

    def live_rows(self) -> int:
        return len(self.ids) - self.removed


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """`matrix` with every row scaled to length 1, in place. The norms are summed in float64:
    a float32 sum's order (so its last bits) depends on the array's shape, and a row read
    alone by a catch-up must get the vector a whole-table load gives it."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))[:, None]
    matrix /= np.where(norms > 0, norms, 1.0).astype(np.float32)
    return matrix


def caught_up(table: LoadedTable, asked: set[str], rows: Mapping[str, VectorRow]) -> LoadedTable | None:
    """`table` after an update that wrote or removed the rows of `asked` (`rows`: those of them
    the store holds now; an asked id missing from it was removed). None when so much changed
    that reading the table again is as cheap. The 8-bit copy, if any, is the caller's to rebuild."""
    row_of_id = table.row_of_id
    if row_of_id is None:
        row_of_id = {i: r for r, i in enumerate(table.ids) if i is not None}
    # A changed row is removed and appended anew, never overwritten: the rows an older table
    # object holds (a search in flight) stay as they were.
    removed = [row_of_id[i] for i in asked if i in row_of_id]
    appended = sorted(i for i in asked if i in rows)
    if len(removed) + len(appended) > max(RELOAD_SHARE * table.live_rows(), RELOAD_MIN_ROWS):
        return None
    n = len(table.ids)
    buffer = table.buffer if table.buffer is not None else table.matrix
    if n + len(appended) > len(buffer):
        grown = np.empty((max(n + len(appended), int(n * GROWTH) + 64), table.matrix.shape[1]), dtype=np.float32)
        grown[:n] = table.matrix
        buffer = grown
    if appended:
        buffer[n : n + len(appended)] = unit_rows(np.stack([np.asarray(rows[i].vector, dtype=np.float32) for i in appended]))
    ids = list(table.ids)
    for r in removed:
        ids[r] = None
    ids += appended
    metadata = list(table.metadata) + [rows[i].metadata for i in appended]
    # Shared with the older objects, which do not read it; if the caller then drops this
    # table (a count mismatch), the older ones go with it.
    for i in asked:
        row_of_id.pop(i, None)
    row_of_id.update((i, r) for r, i in enumerate(appended, start=n))
    matrix = buffer[: len(ids)]
    hnsw = table.hnsw.with_rows(matrix, np.arange(n, len(ids)), np.asarray(removed, dtype=np.int64)) \
        if table.hnsw is not None else None
    out = LoadedTable(
        ids, matrix, metadata, hnsw=hnsw, removed=table.removed + len(removed), buffer=buffer, row_of_id=row_of_id
    )
    return _compacted(out) if out.removed > COMPACT_SHARE * len(ids) else out


def _compacted(table: LoadedTable) -> LoadedTable:
    """The table without its removed rows (a copy of the rows that stay)."""
    keep = np.flatnonzero(np.fromiter((i is not None for i in table.ids), dtype=bool, count=len(table.ids)))
    new_row = np.full(len(table.ids), -1, dtype=np.int64)
    new_row[keep] = np.arange(len(keep))
    ids = [table.ids[r] for r in keep.tolist()]
    hnsw = table.hnsw.renumbered(new_row) if table.hnsw is not None else None
    return LoadedTable(
        ids, table.matrix[keep], [table.metadata[r] for r in keep.tolist()], hnsw=hnsw,
        row_of_id={i: r for r, i in enumerate(ids)},  # type: ignore[misc]
    )
