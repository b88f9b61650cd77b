"""The VectorStore on LanceDB: a local directory or any LanceDB URI (s3://, gs://, az://, db://).

Each named table holds (id, vector, text, metadata-as-JSON) plus a few plain columns copied
out of the metadata so that `search(where=...)` can filter on them in SQL. Below about
100k rows a brute-force scan answers in tens of milliseconds, so tables get an ANN index
(IVF_HNSW_SQ, cosine) only once they grow past `index_threshold`; the write that takes a table
past it builds the index, and rows written since are folded in once they pass
`_UNINDEXED_SHARE` of the table (until then a search scans them exactly, besides the index).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, BTree, HnswSq
from lancedb.table import Table

from graphrag.errors import StoreError
from graphrag.stores.base import VectorHit, VectorRow

log = logging.getLogger(__name__)

# Columns copied out of `metadata` so `where` can use them; tables not named here just get
# the base columns.
FILTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "chunks": ("document_id",),
    "entities": ("type",),
    "relations": ("source", "target"),
}

# Ids per `id IN (...)` predicate: keeps each SQL string a few tens of kilobytes.
_ID_BATCH = 1000

# With an ANN index, distances come from compressed vectors (and on a different scale);
# re-ranking this many candidates per result on the full vectors makes scores exact cosine.
_REFINE_FACTOR = 10

# Rows written after the ANN index was built are scanned exactly by every search until
# `optimize` folds them into the index; past this share of the table that scan costs more
# than the fold, which the next write then runs.
_UNINDEXED_SHARE = 0.1
# Rows from which a table gets a B-tree on id, whatever its ANN threshold.
_ID_INDEX_MIN_ROWS = 20_000


def sql_string(value: str) -> str:
    """A single-quoted SQL literal for LanceDB's (DataFusion) filters: quotes are doubled."""
    return "'" + value.replace("'", "''") + "'"


def _id_predicates(ids: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _ID_BATCH):
        batch = unique[start : start + _ID_BATCH]
        yield batch, "id IN (" + ",".join(sql_string(i) for i in batch) + ")"


def _json_default(value: Any) -> Any:
    # Metadata often carries numpy scalars (weights, scores) straight from the pipeline.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class LanceDBVectorStore:
    """Named vector tables in one LanceDB database; cosine similarity search."""

    def __init__(
        self,
        uri: str | Path,
        dim: int,
        *,
        index_threshold: int | None = 100_000,
        optimize_every: int = 100,
        storage_options: Mapping[str, str] | None = None,
        read_consistency_interval: timedelta | None = None,
    ) -> None:
        """`index_threshold`: rows from which a table gets an ANN index (None: never).
        `optimize_every`: writes to a table between compactions (merges leave small files).
        `read_consistency_interval`: how stale a reader may be when another process writes
        (None: see only this process's writes; timedelta(0): check on every read).
        """
        if dim <= 0:
            raise StoreError(f"vector dim must be positive, got {dim}")
        self.uri = str(uri)
        self.dim = dim
        self.index_threshold = index_threshold
        self.optimize_every = optimize_every
        # The ANN upkeep reads index statistics on writes; without this Lance adds the index's
        # centroids to them (megabytes) and warns once that it will stop doing so. The user's
        # own setting wins.
        os.environ.setdefault("LANCE_INCLUDE_VECTOR_CENTROIDS", "false")
        self._lock = threading.Lock()
        self._tables: dict[str, Table] = {}
        self._writes: dict[str, int] = {}
        self._text_indexed: set[str] = set()  # tables known to have a full-text index
        self._vector_indexed: set[str] = set()  # tables known to have the ANN index
        self._id_indexed: set[str] = set()  # tables known to have the B-tree on id
        try:
            self._db = lancedb.connect(
                self.uri,
                storage_options=dict(storage_options) if storage_options else None,
                read_consistency_interval=read_consistency_interval,
            )
            # Open every existing table now so a dim mismatch fails at start-up, not
            # half-way through an ingestion.
            for name in self._list_tables():
                self._tables[name] = self._checked(name, self._db.open_table(name))
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"cannot open the vector store {self.uri}: {e}") from e

    # --- tables

    def reload(self) -> None:
        """Sees writes made through other handles (another process) since tables were opened."""
        with self._lock:
            for table in self._tables.values():
                table.checkout_latest()

    def _list_tables(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = self._db.list_tables(page_token=token)
            names.extend(page.tables)
            token = page.page_token
            if not token:
                return names

    def _checked(self, name: str, table: Table) -> Table:
        schema = table.schema
        field = schema.field("vector") if "vector" in schema.names else None
        if field is None or not pa.types.is_fixed_size_list(field.type) or "id" not in schema.names:
            raise StoreError(
                f"table {name!r} in {self.uri} is not a graphrag vector table; "
                "point the vector store at its own directory"
            )
        if field.type.list_size != self.dim:
            raise StoreError(
                f"vectors in {self.uri} have dim {field.type.list_size} but the embedder "
                f"produces {self.dim}; use a new workspace or re-index"
            )
        return table

    def _schema(self, name: str) -> pa.Schema:
        fields = [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), self.dim)),
            pa.field("text", pa.string()),
            pa.field("metadata", pa.string()),
        ]
        fields += [pa.field(column, pa.string()) for column in FILTER_COLUMNS.get(name, ())]
        return pa.schema(fields)

    def _table(self, name: str, *, create: bool = False) -> Table | None:
        with self._lock:
            table = self._tables.get(name)
            if table is not None:
                return table
            try:
                # Another process may have created it since we opened.
                table = self._db.open_table(name)
            except ValueError:
                if not create:
                    return None
                try:
                    # exist_ok: a concurrent creator wins the race and we open its table.
                    table = self._db.create_table(name, schema=self._schema(name), exist_ok=True)
                except Exception as e:
                    raise StoreError(f"cannot create table {name!r} in {self.uri}: {e}") from e
            self._tables[name] = self._checked(name, table)
            return self._tables[name]

    # --- writes

    def upsert(self, table: str, rows: Sequence[VectorRow]) -> None:
        if not rows:
            return
        # merge_insert is undefined for duplicate keys in one batch: the last row wins here.
        latest = list({row.id: row for row in rows}.values())
        tbl = self._table(table, create=True)
        assert tbl is not None
        data = self._arrow_rows(table, tbl.schema, latest)
        try:
            tbl.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(
                data
            )
        except Exception as e:
            raise StoreError(f"upsert into {table!r} in {self.uri} failed: {e}") from e
        self._after_write(table, tbl)

    def _arrow_rows(self, table: str, schema: pa.Schema, rows: Sequence[VectorRow]) -> pa.Table:
        try:
            matrix = np.stack([np.asarray(r.vector, dtype=np.float32).reshape(-1) for r in rows])
        except ValueError as e:
            raise StoreError(f"vectors for {table!r} differ in length: {e}") from e
        if matrix.shape[1] != self.dim:
            raise StoreError(
                f"vectors for {table!r} have dim {matrix.shape[1]}, the store expects {self.dim}"
            )
        if not np.isfinite(matrix).all():
            bad = next(r.id for r, ok in zip(rows, np.isfinite(matrix).all(axis=1)) if not ok)
            raise StoreError(f"vector for {bad!r} in {table!r} has NaN or infinite values")
        metadata = [dict(r.metadata) for r in rows]
        try:
            metadata_json = [
                json.dumps(m, ensure_ascii=False, sort_keys=True, default=_json_default)
                for m in metadata
            ]
        except TypeError as e:
            raise StoreError(f"metadata for {table!r} is not JSON serializable: {e}") from e
        columns: dict[str, pa.Array] = {
            "id": pa.array([r.id for r in rows], pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), self.dim),
            "text": pa.array([r.text for r in rows], pa.string()),
            "metadata": pa.array(metadata_json, pa.string()),
        }
        # Filter columns follow the table's actual schema, so a table created by an older
        # version with other columns still accepts writes.
        for column in schema.names:
            if column not in columns:
                columns[column] = pa.array(
                    [None if m.get(column) is None else str(m[column]) for m in metadata],
                    pa.string(),
                )
        return pa.table(columns, schema=schema)

    def delete(self, table: str, ids: Iterable[str]) -> None:
        tbl = self._table(table)
        if tbl is None:
            return
        deleted = False
        for _, predicate in _id_predicates(ids):
            try:
                tbl.delete(predicate)
            except Exception as e:
                raise StoreError(f"delete from {table!r} in {self.uri} failed: {e}") from e
            deleted = True
        if deleted:
            self._after_write(table, tbl)

    def _after_write(self, name: str, table: Table) -> None:
        with self._lock:
            self._writes[name] = self._writes.get(name, 0) + 1
            due = self._writes[name] >= self.optimize_every
            if due:
                self._writes[name] = 0
        try:
            if due:
                self._optimize_table(name, table)
            else:
                self._maintain_ann_index(name, table)
        except StoreError as e:
            # The write itself succeeded; maintenance is retried at the next write.
            log.warning("%s", e)

    # --- maintenance

    def optimize(self) -> None:
        """Compacts every table, folds new rows into existing indexes, and builds the ANN
        index of tables that have grown past `index_threshold`. Cheap when nothing changed;
        run it at the end of an ingestion."""
        with self._lock:
            tables = list(self._tables.items())
        for name, table in tables:
            self._optimize_table(name, table)

    def _optimize_table(self, name: str, table: Table) -> None:
        try:
            table.optimize()
        except NotImplementedError:
            return  # LanceDB Cloud/Enterprise maintain their tables server-side.
        except Exception as e:
            raise StoreError(f"optimizing {name!r} in {self.uri} failed: {e}") from e
        # table.optimize() above folded new rows into an existing index; this builds a missing one.
        self._maintain_ann_index(name, table)

    def ensure_ann_index(self, table: str) -> bool:
        """Builds the ANN index of `table` if it has grown past `index_threshold` and has
        none (a workspace written before the threshold was lowered, or by another process),
        and folds rows written since into it. True when the table has the index."""
        tbl = self._table(table)
        if tbl is None:
            return False
        self._maintain_ann_index(table, tbl)
        return table in self._vector_indexed

    def has_ann_index(self, table: str) -> bool:
        tbl = self._table(table)
        return tbl is not None and _vector_index(tbl) is not None

    def _maintain_ann_index(self, name: str, table: Table) -> None:
        try:
            rows = table.count_rows()
            if rows >= _ID_INDEX_MIN_ROWS and name not in self._id_indexed:
                self._ensure_id_index(name, table)
            if self.index_threshold is None or rows < self.index_threshold:
                return
            index = _vector_index(table)
            if index is None:
                self._build_ann_index(name, table, rows)
            else:
                stats = table.index_stats(index)
                if stats is not None and stats.num_unindexed_rows > _UNINDEXED_SHARE * rows:
                    log.info("folding %d new rows of %r into its ANN index", stats.num_unindexed_rows, name)
                    table.optimize()
        except NotImplementedError:
            return  # LanceDB Cloud/Enterprise index server-side.
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"maintaining the ANN index of {name!r} in {self.uri} failed: {e}") from e
        with self._lock:
            self._vector_indexed.add(name)

    def _ensure_id_index(self, name: str, table: Table) -> None:
        """A B-tree on id: the join merge_insert and get() do on id reads it instead of
        every row (tables this large are searched in memory, without the ANN index, up to
        a million rows)."""
        try:
            if not any("id" in index.columns for index in table.list_indices()):
                table.create_index("id", config=BTree())
        except Exception as e:
            raise StoreError(f"indexing the ids of {name!r} in {self.uri} failed: {e}") from e
        with self._lock:
            self._id_indexed.add(name)

    def _build_ann_index(self, name: str, table: Table, rows: int) -> None:
        log.info("building the ANN index of %r in %s (%d rows; a minute or more per 100k rows on 2 cores)",
                 name, self.uri, rows)
        try:
            table.create_index("vector", config=HnswSq(distance_type="cosine"))
        except Exception as e:
            raise StoreError(f"building the ANN index of {name!r} in {self.uri} failed: {e}") from e

    # --- reads

    def get(self, table: str, ids: Iterable[str]) -> dict[str, VectorRow]:
        tbl = self._table(table)
        if tbl is None:
            return {}
        found: dict[str, VectorRow] = {}
        for batch, predicate in _id_predicates(ids):
            result = (
                tbl.search()
                .where(predicate)
                .select(["id", "vector", "text", "metadata"])
                .limit(len(batch))
                .to_arrow()
            )
            vectors = _matrix(result.column("vector"), self.dim)
            for i, (id_, text, meta) in enumerate(
                zip(
                    result.column("id").to_pylist(),
                    result.column("text").to_pylist(),
                    result.column("metadata").to_pylist(),
                )
            ):
                found[id_] = VectorRow(id=id_, vector=vectors[i], text=text, metadata=_meta(meta))
        return found

    def scan(self, table: str) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
        """Every row's id, vector (one (rows, dim) float32 matrix) and metadata, in one read
        of the table: what an in-memory search loads. `get` of every id costs a query per
        thousand ids (the 342k-row relation table of the 100k-entity bench: 39 s against a
        few seconds)."""
        tbl = self._table(table)
        if tbl is None:
            return [], np.empty((0, self.dim), dtype=np.float32), []
        result = tbl.search().select(["id", "vector", "metadata"]).limit(None).to_arrow()
        if result.num_rows == 0:  # a table whose rows were all deleted (`take` of [] fails)
            return [], np.empty((0, self.dim), dtype=np.float32), []
        order = sorted(range(result.num_rows), key=result.column("id").to_pylist().__getitem__)
        result = result.take(order)  # by id, as `get` of the sorted ids returns them
        return (
            result.column("id").to_pylist(),
            _matrix(result.column("vector"), self.dim),
            [_meta(m) for m in result.column("metadata").to_pylist()],
        )

    def ids(self, table: str) -> set[str]:
        tbl = self._table(table)
        if tbl is None:
            return set()
        return set(tbl.search().select(["id"]).limit(None).to_arrow().column("id").to_pylist())

    def count(self, table: str) -> int:
        tbl = self._table(table)
        return 0 if tbl is None else tbl.count_rows()

    def search(
        self, table: str, vector: np.ndarray, k: int, where: str | None = None
    ) -> list[VectorHit]:
        """The k rows closest to `vector` by cosine similarity (score = 1 - cosine
        distance, so 1 is identical), optionally only rows matching the SQL predicate
        `where` over id, text and the table's filter columns."""
        query_vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        return self.search_many(table, query_vector[None, :], k, where)[0]

    def search_many(
        self, table: str, vectors: np.ndarray, k: int, where: str | None = None, min_score: float | None = None
    ) -> list[list[VectorHit]]:
        """`search` for every row of `vectors`, in one query: LanceDB shares one pass over
        the table (or one visit of the ANN index's partitions) between them, where a query
        per vector pays the query's fixed cost each time. `min_score`: only rows at least
        this similar (a radius: the rows within it, up to k, whatever else the table holds)."""
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        tbl = self._table(table)
        if tbl is None or k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        if queries.shape[1] != self.dim:
            raise StoreError(f"query vector has dim {queries.shape[1]}, the store expects {self.dim}")
        many = len(queries) > 1
        query = tbl.search(list(queries) if many else queries[0], vector_column_name="vector").distance_type("cosine")
        if min_score is not None:
            query = query.distance_range(upper_bound=1.0 - min_score)
        if where:
            # prefilter: filter first, then take the top k, so k matches come back when
            # that many exist.
            query = query.where(where, prefilter=True)
        columns = ["id", "text", "metadata", "_distance"]
        try:
            result = query.refine_factor(_REFINE_FACTOR).select(columns).limit(k).to_arrow()
        except ValueError as e:
            raise StoreError(f"search in {table!r} failed (check the where clause): {e}") from e
        found: list[list[VectorHit]] = [[] for _ in range(len(queries))]
        which = result.column("query_index").to_pylist() if many else [0] * result.num_rows
        for q, id_, text, meta, distance in zip(
            which,
            result.column("id").to_pylist(),
            result.column("text").to_pylist(),
            result.column("metadata").to_pylist(),
            result.column("_distance").to_pylist(),
        ):
            found[q].append(VectorHit(id=id_, score=1.0 - float(distance), text=text, metadata=_meta(meta)))
        for hits in found:  # best first, as one query returns them
            hits.sort(key=lambda h: -h.score)
        return found

    def search_text(self, table: str, text: str, k: int) -> list[VectorHit]:
        """The k rows whose text best matches `text` by BM25 (English stemming, stop words
        dropped); `score` is the BM25 score, not a similarity. The full-text index is built
        on first use (well under a second per 100k rows); rows written since are searched
        too (unindexed rows are scanned) until `optimize()` folds them in."""
        tbl = self._table(table)
        if tbl is None or k <= 0 or not text.strip():
            return []
        with self._lock:
            if table not in self._text_indexed:
                if not any(i.index_type == "FTS" for i in tbl.list_indices()):
                    try:
                        tbl.create_index("text", config=FTS(language="English", stem=True, remove_stop_words=True))
                    except Exception as e:
                        raise StoreError(f"building the full-text index of {table!r} in {self.uri} failed: {e}") from e
                self._text_indexed.add(table)
        try:
            rows = tbl.search(text, query_type="fts").limit(k).select(["id", "_score"]).to_list()
        except Exception as e:
            raise StoreError(f"full-text search in {table!r} failed: {e}") from e
        hits = [VectorHit(id=r["id"], score=float(r["_score"]), text="") for r in rows]
        return sorted(hits, key=lambda h: (-h.score, h.id))

    def close(self) -> None:
        with self._lock:
            self._tables.clear()


def _vector_index(table: Table) -> str | None:
    """The name of the table's index on `vector`, if it has one."""
    return next((index.name for index in table.list_indices() if "vector" in index.columns), None)


def _matrix(column: pa.ChunkedArray, dim: int) -> np.ndarray:
    """A (rows, dim) float32 array from a fixed_size_list column, without a per-row loop."""
    if column.num_chunks == 0:
        return np.empty((0, dim), dtype=np.float32)
    flat = pa.concat_arrays([chunk.flatten() for chunk in column.chunks])
    return flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=True).reshape(-1, dim)


def _meta(raw: str | None) -> dict[str, Any]:
    return json.loads(raw) if raw else {}
