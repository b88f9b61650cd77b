"""The default StateStore: one SQLite file in WAL mode.

WAL lets readers (the query API) run while an ingestion writes, and `busy_timeout` makes
a second writer process wait instead of failing at once. One connection is shared by
every thread behind a lock: SQLite serializes writers anyway, and a single connection
keeps transactions simple.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from graphrag.errors import DocumentNotFoundError, StoreError
from graphrag.models import Chunk, DocumentRecord, DocumentStatus, Extraction
from graphrag.stores.sqlite_common import migrate, open_wal
from graphrag.stores.sqlite_common import select_in as _select_in
from graphrag.stores.sqlite_state_schema import MIGRATIONS

# Parsed extraction records kept in memory per process (a few KB each).
EXTRACTION_CACHE_RECORDS = 20_000


# Embeddings are stored little-endian whatever the host, so a workspace copied between
# machines still decodes.
_VECTOR_DTYPE = np.dtype("<f4")

_VALID_STATUSES: frozenset[str] = frozenset(get_args(DocumentStatus))
_PENDING_KINDS = frozenset({"entity", "relation", "document", "chunk", "record"})
_SELECT_RECORDS = "SELECT text_hash, record FROM extractions WHERE extractor_id = ? AND text_hash {in_}"


class SQLiteStateStore:
    """Documents, chunks, extraction records, the chunk -> key index and the caches."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float = 30.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        """`busy_timeout_s`: how long a write waits for another process's transaction.
        `synchronous`: NORMAL (default) survives any process crash, and the database is
        never corrupted, but a power cut may undo the last few commits (which the pipeline
        simply redoes); FULL fsyncs every commit, ~3 ms each on a typical disk."""
        if synchronous not in ("NORMAL", "FULL"):
            raise StoreError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Parsed extraction records by (extractor id, text hash) -> (stored text, record):
        # rebuilding a hub entity reads thousands of records, and validating them was a
        # large part of an update. A hit needs the stored text unchanged, so a record
        # replaced by any process is parsed again, never served stale.
        self._extraction_cache: OrderedDict[tuple[str, str], tuple[str, Extraction]] = OrderedDict()
        self._closed = False
        self._conn = open_wal(self.path, busy_timeout_s, "state store")
        try:
            # Validated above; PRAGMA values cannot be bound parameters.
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            migrate(self._conn, self.path, MIGRATIONS, "state")
        except BaseException as e:
            self._conn.close()
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"cannot open the state store {self.path}: {e}") from e
            raise

    # --- plumbing

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, rolled back whole on any error."""
        with self._lock:
            self._check_open()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise StoreError(f"state store {self.path}: {e}") from e
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as e:
                self._rollback()
                if isinstance(e, sqlite3.Error):
                    raise StoreError(f"state store {self.path}: {e}") from e
                raise

    def _rollback(self) -> None:
        # A failed COMMIT may already have ended the transaction; a second error from
        # ROLLBACK would hide the first.
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            try:
                yield self._conn
            except sqlite3.Error as e:
                raise StoreError(f"state store {self.path}: {e}") from e

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the state store {self.path} is closed")

    # --- documents

    def upsert_document(self, record: DocumentRecord) -> None:
        self._check_status(record.status)
        with self._write() as db:
            db.execute(
                """
                INSERT INTO documents
                    (id, source, title, content_hash, status, error, n_chunks, ingested_at, timings)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                    source = excluded.source, title = excluded.title,
                    content_hash = excluded.content_hash, status = excluded.status,
                    error = excluded.error, n_chunks = excluded.n_chunks,
                    ingested_at = excluded.ingested_at, timings = excluded.timings
                """,
                (record.id, record.source, record.title, record.content_hash, record.status,
                 record.error, record.n_chunks, record.ingested_at, json.dumps(record.timings)),
            )

    def get_document(self, document_id: str) -> DocumentRecord | None:
        with self._read() as db:
            row = db.execute(_SELECT_DOCUMENTS + " WHERE id = ?", (document_id,)).fetchone()
        return _document(row) if row else None

    def find_documents_by_source(self, source: str) -> list[DocumentRecord]:
        with self._read() as db:
            rows = db.execute(
                _SELECT_DOCUMENTS + " WHERE source = ? ORDER BY id", (source,)
            ).fetchall()
        return [_document(r) for r in rows]

    def documents_under(self, prefix: str) -> list[DocumentRecord]:
        """Documents whose source starts with `prefix` (a range scan of the source index)."""
        with self._read() as db:
            rows = db.execute(
                _SELECT_DOCUMENTS + " WHERE source >= ? AND source < ? ORDER BY source, id",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
        return [_document(r) for r in rows]

    def list_documents(self, status: str | None = None) -> list[DocumentRecord]:
        with self._read() as db:
            if status is None:
                rows = db.execute(_SELECT_DOCUMENTS + " ORDER BY source, id").fetchall()
            else:
                rows = db.execute(
                    _SELECT_DOCUMENTS + " WHERE status = ? ORDER BY source, id", (status,)
                ).fetchall()
        return [_document(r) for r in rows]

    def set_document_status(self, document_id: str, status: str, error: str | None = None) -> None:
        """Sets the status and replaces the error (None clears a previous failure's reason)."""
        self._check_status(status)
        with self._write() as db:
            cursor = db.execute(
                "UPDATE documents SET status = ?, error = ? WHERE id = ?",
                (status, error, document_id),
            )
            if cursor.rowcount == 0:
                raise DocumentNotFoundError(
                    f"no document {document_id!r} in {self.path}; upsert_document it first"
                )

    def delete_document(self, document_id: str) -> None:
        with self._write() as db:
            # Subqueries rather than fetched id lists: no parameter limits, one statement each.
            db.execute(
                "DELETE FROM chunk_keys WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)",
                (document_id,),
            )
            db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            db.execute("DELETE FROM documents WHERE id = ?", (document_id,))

    @staticmethod
    def _check_status(status: str) -> None:
        if status not in _VALID_STATUSES:
            raise StoreError(
                f"unknown document status {status!r}; use one of {sorted(_VALID_STATUSES)}"
            )

    # --- chunks

    def put_chunks(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        with self._write() as db:
            db.executemany(
                """
                INSERT INTO chunks (id, document_id, text, ord, n_tokens, text_hash)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                    document_id = excluded.document_id, text = excluded.text,
                    ord = excluded.ord, n_tokens = excluded.n_tokens,
                    text_hash = excluded.text_hash
                """,
                [(c.id, c.document_id, c.text, c.order, c.n_tokens, c.text_hash) for c in chunks],
            )

    def chunks_of(self, document_id: str) -> list[Chunk]:
        with self._read() as db:
            rows = db.execute(
                _SELECT_CHUNKS + " WHERE document_id = ? ORDER BY ord, id", (document_id,)
            ).fetchall()
        return [_chunk(r) for r in rows]

    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]:
        with self._read() as db:
            rows = _select_in(db, _SELECT_CHUNKS + " WHERE id {in_}", chunk_ids)
            return {row[0]: _chunk(row) for row in rows}

    def chunks_with_texts(self, text_hashes: Iterable[str]) -> list[Chunk]:
        with self._read() as db:
            return [_chunk(r) for r in _select_in(db, _SELECT_CHUNKS + " WHERE text_hash {in_}", text_hashes)]

    def count_chunks(self) -> int:
        with self._read() as db:
            return int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    # --- extraction records

    def get_extractions(self, text_hashes: Iterable[str], extractor_id: str) -> dict[str, Extraction]:
        """The stored records (shared with a cache: treat them as read-only)."""
        cache = self._extraction_cache
        found: dict[str, Extraction] = {}
        with self._read() as db:
            for hash_, record in _select_in(db, _SELECT_RECORDS, text_hashes, extractor_id):
                hit = cache.get((extractor_id, hash_))
                if hit is not None and hit[0] == record:
                    cache.move_to_end((extractor_id, hash_))
                    found[hash_] = hit[1]
                    continue
                found[hash_] = extraction = Extraction.model_validate_json(record)
                cache[(extractor_id, hash_)] = (record, extraction)
                if len(cache) > EXTRACTION_CACHE_RECORDS:
                    cache.popitem(last=False)
        return found

    def put_extractions(self, records: Mapping[str, Extraction], extractor_id: str) -> None:
        if not records:
            return
        rows = [(h, extractor_id, e.model_dump_json()) for h, e in records.items()]
        with self._write() as db:
            # The chunks with this text and the merge aggregates that counted it follow the
            # old record: journal its text in the same transaction, whoever the writer is, so
            # reconcile re-keys them and rebuilds what counted it (graphrag.chunk_keys) rather
            # than unfold a record never counted.
            new = {h: record for h, _, record in rows}
            replaced = [("record", h) for h, old in _select_in(db, _SELECT_RECORDS, new, extractor_id) if old != new[h]]
            db.executemany("INSERT OR IGNORE INTO pending (kind, key) VALUES (?, ?)", replaced)
            db.executemany(
                "INSERT OR REPLACE INTO extractions (text_hash, extractor_id, record) VALUES (?, ?, ?)",
                rows,
            )

    # --- chunk -> entity / relation keys

    def set_chunk_keys(
        self, chunk_id: str, entity_keys: Iterable[str], relation_keys: Iterable[str]
    ) -> None:
        """Replaces the keys a chunk supports (a re-extracted chunk may support fewer)."""
        rows = [(chunk_id, "e", k) for k in dict.fromkeys(entity_keys)]
        rows += [(chunk_id, "r", k) for k in dict.fromkeys(relation_keys)]
        with self._write() as db:
            db.execute("DELETE FROM chunk_keys WHERE chunk_id = ?", (chunk_id,))
            db.executemany("INSERT INTO chunk_keys (chunk_id, kind, key) VALUES (?, ?, ?)", rows)

    def chunks_for_entities(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """Every asked key maps to its supporting chunk ids; an empty set means none is left."""
        return self._chunks_for("e", keys)

    def chunks_for_relations(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """Every asked key maps to its supporting chunk ids; an empty set means none is left."""
        return self._chunks_for("r", keys)

    def _chunks_for(self, kind: str, keys: Iterable[str]) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {key: set() for key in keys}
        with self._read() as db:
            sql = "SELECT key, chunk_id FROM chunk_keys WHERE kind = ? AND key {in_}"
            for key, chunk in _select_in(db, sql, result, kind):
                result[key].add(chunk)
        return result

    def keys_for_chunks(self, chunk_ids: Iterable[str]) -> tuple[set[str], set[str]]:
        entities: set[str] = set()
        relations: set[str] = set()
        with self._read() as db:
            sql = "SELECT kind, key FROM chunk_keys WHERE chunk_id {in_}"
            for kind, key in _select_in(db, sql, chunk_ids):
                (entities if kind == "e" else relations).add(key)
        return entities, relations

    # --- the rebuild journal

    def add_pending(self, kind: str, keys: Iterable[str]) -> None:
        self._check_kind(kind)
        rows = [(kind, k) for k in dict.fromkeys(keys)]
        if not rows:
            return
        with self._write() as db:
            db.executemany("INSERT OR IGNORE INTO pending (kind, key) VALUES (?, ?)", rows)

    def pending(self, kind: str) -> set[str]:
        self._check_kind(kind)
        with self._read() as db:
            return {k for (k,) in db.execute("SELECT key FROM pending WHERE kind = ?", (kind,))}

    def clear_pending(self, kind: str, keys: Iterable[str]) -> None:
        self._check_kind(kind)
        rows = [(kind, k) for k in dict.fromkeys(keys)]
        if not rows:
            return
        with self._write() as db:
            db.executemany("DELETE FROM pending WHERE kind = ? AND key = ?", rows)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in _PENDING_KINDS:
            raise StoreError(f"unknown pending kind {kind!r}; use one of {sorted(_PENDING_KINDS)}")

    # --- merge aggregates (derived: a missing or stale one is rebuilt from the records)

    def get_aggregates(self, kind: str, keys: Iterable[str]) -> dict[str, str]:
        sql = "SELECT key, value FROM merge_aggregates WHERE kind = ? AND key {in_}"
        with self._read() as db:
            return dict(_select_in(db, sql, keys, kind))

    def put_aggregates(self, rows: Mapping[tuple[str, str], str | None]) -> None:
        """Writes the (kind, key) rows (None deletes one) in one transaction."""
        if not rows:
            return
        with self._write() as db:
            db.executemany(
                "DELETE FROM merge_aggregates WHERE kind = ? AND key = ?",
                [(kind, k) for (kind, k), v in rows.items() if v is None],
            )
            db.executemany(
                "INSERT OR REPLACE INTO merge_aggregates (kind, key, value) VALUES (?, ?, ?)",
                [(kind, k, v) for (kind, k), v in rows.items() if v is not None],
            )

    # --- caches

    def cache_get(self, key: str) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT value FROM llm_cache WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def cache_put(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO llm_cache (key, value) VALUES (?, ?)", (key, value))

    def get_embeddings(self, model: str, text_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        sql = "SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash {in_}"
        with self._read() as db:
            # astype copies: the caller gets a writable, native-order array.
            return {
                hash_: np.frombuffer(blob, dtype=_VECTOR_DTYPE).astype(np.float32)
                for hash_, blob in _select_in(db, sql, text_hashes, model)
            }

    def put_embeddings(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            (model, h, np.ascontiguousarray(v, dtype=_VECTOR_DTYPE).reshape(-1).tobytes())
            for h, v in vectors.items()
        ]
        with self._write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text_hash, vector) VALUES (?, ?, ?)",
                rows,
            )

    # --- lifecycle

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> SQLiteStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SELECT_DOCUMENTS = (
    "SELECT id, source, title, content_hash, status, error, n_chunks, ingested_at, timings "
    "FROM documents"
)
_SELECT_CHUNKS = "SELECT id, document_id, text, ord, n_tokens FROM chunks"


# Both SELECTs list the columns in the dataclasses' field order.
def _document(row: Sequence[Any]) -> DocumentRecord:
    return DocumentRecord(*row[:8], timings=json.loads(row[8] or "{}"))


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(*row)
