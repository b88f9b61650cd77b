"""The store protocols. A backend is one module implementing one of these.

The contract tests in tests/stores/ are parametrized over every backend: a new backend is
"implement the protocol, add it to the parameter list".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from graphrag.models import Chunk, DocumentRecord, Entity, Extraction, Relation


@dataclass(frozen=True)
class GraphStats:
    documents: int
    chunks: int
    entities: int
    relations: int
    entity_types: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class GraphStore(Protocol):
    """Entities and relations, plus the lexical layer (documents -> chunks -> mentioned entities).

    Every write is an idempotent upsert or delete keyed by ids, batched by the caller's
    sequences. Relations are undirected (key = sorted pair of entity keys). Deleting an
    entity deletes its incident relations. `degree` is computed by the store.
    """

    def upsert_documents(self, documents: Sequence[DocumentRecord]) -> None: ...
    def upsert_chunks(self, chunks: Sequence[Chunk]) -> None: ...
    def delete_documents(self, document_ids: Iterable[str]) -> None:
        """Removes the documents and their chunks (not entities: the indexer rebuilds those)."""
    def upsert_entities(self, entities: Sequence[Entity]) -> None: ...
    def upsert_relations(self, relations: Sequence[Relation]) -> None: ...
    def delete_entities(self, keys: Iterable[str]) -> None: ...
    def delete_relations(self, keys: Iterable[str]) -> None: ...

    def get_entities(self, keys: Iterable[str]) -> dict[str, Entity]: ...
    def get_relations(self, keys: Iterable[str]) -> dict[str, Relation]: ...
    def find_entities(self, names: Iterable[str]) -> dict[str, Entity]:
        """Name key -> the entity with that key or that alias (entity resolution keeps the
        other names of an entity as aliases): what query-time keyword matching should use."""
    def degrees(self, keys: Iterable[str]) -> dict[str, int]: ...
    def neighbors(self, keys: Iterable[str]) -> dict[str, list[Relation]]:
        """Incident relations of each entity, in one round trip."""
    def neighbor_weights(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        """Per existing entity: each neighbour's key -> the weight of the relation joining them,
        in one round trip, without the relations' bodies (a hub has thousands)."""
    def subgraph(
        self, keys: Iterable[str], depth: int = 1, limit: int = 500
    ) -> tuple[list[Entity], list[Relation]]:
        """Entities within `depth` hops of `keys` (at most `limit`) and the relations among them."""
    def iter_entities(self) -> Iterator[Entity]: ...
    def iter_relations(self) -> Iterator[Relation]: ...
    def stats(self) -> GraphStats: ...
    def flush(self) -> None:
        """Makes every write so far durable (NetworkX: atomic write-then-rename)."""
    def note_changed(self, kind: str, keys: Iterable[str]) -> None:
        """Names keys ("document", "chunk", "entity" or "relation") whose vectors an update is
        about to rewrite while their graph rows stay as they are (a summary given after a
        verdict, a relation whose endpoint was renamed), so the processes that cache them
        catch up with the next flush as with a written row (a store with a change log)."""
    def close(self) -> None: ...


@dataclass(frozen=True)
class VectorRow:
    id: str
    vector: np.ndarray
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VectorHit:
    id: str
    score: float  # cosine similarity, higher is closer
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class VectorStore(Protocol):
    """Named tables of (id, vector, text, metadata); tables: chunks, entities, relations."""

    def upsert(self, table: str, rows: Sequence[VectorRow]) -> None: ...
    def delete(self, table: str, ids: Iterable[str]) -> None: ...
    def get(self, table: str, ids: Iterable[str]) -> dict[str, VectorRow]: ...
    def ids(self, table: str) -> set[str]: ...
    def search(
        self, table: str, vector: np.ndarray, k: int, where: str | None = None
    ) -> list[VectorHit]: ...
    def search_text(self, table: str, text: str, k: int) -> list[VectorHit]:
        """The k rows whose text best matches `text` (full-text, BM25); score: BM25."""
        ...
    def count(self, table: str) -> int: ...
    def close(self) -> None: ...


@runtime_checkable
class StateStore(Protocol):
    """Documents, chunks, per-chunk extraction records, the entity/relation -> chunk index,
    and the caches (LLM responses, embeddings). SQLite by default."""

    # documents
    def upsert_document(self, record: DocumentRecord) -> None: ...
    def get_document(self, document_id: str) -> DocumentRecord | None: ...
    def find_documents_by_source(self, source: str) -> list[DocumentRecord]: ...
    def list_documents(self, status: str | None = None) -> list[DocumentRecord]: ...
    def documents_under(self, prefix: str) -> list[DocumentRecord]:
        """Documents whose source starts with `prefix` (sources are resolved paths)."""
    def set_document_status(self, document_id: str, status: str, error: str | None = None) -> None: ...
    def delete_document(self, document_id: str) -> None:
        """Removes the document, its chunks and their key index rows."""

    # chunks
    def put_chunks(self, chunks: Sequence[Chunk]) -> None: ...
    def chunks_of(self, document_id: str) -> list[Chunk]: ...
    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]: ...
    def chunks_with_texts(self, text_hashes: Iterable[str]) -> list[Chunk]:
        """Every chunk, of any document, whose text has one of these hashes."""
    def count_chunks(self) -> int: ...

    # extraction records, content-addressed by (chunk text hash, extractor id): they
    # outlive the chunks so an edited document reuses them and deletion never re-extracts.
    # Replacing a stored record with a different one journals its hash as pending "record".
    def get_extractions(self, text_hashes: Iterable[str], extractor_id: str) -> dict[str, Extraction]: ...
    def put_extractions(self, records: Mapping[str, Extraction], extractor_id: str) -> None: ...

    # which live chunks support which entity / relation keys
    def set_chunk_keys(self, chunk_id: str, entity_keys: Iterable[str], relation_keys: Iterable[str]) -> None: ...
    def chunks_for_entities(self, keys: Iterable[str]) -> dict[str, set[str]]: ...
    def chunks_for_relations(self, keys: Iterable[str]) -> dict[str, set[str]]: ...
    def keys_for_chunks(self, chunk_ids: Iterable[str]) -> tuple[set[str], set[str]]:
        """(entity keys, relation keys) supported by these chunks."""

    # The rebuild journal: keys whose graph/vector state must be recomputed, written in the
    # same transaction as the state change that caused it and cleared only once the graph
    # and vectors agree. A crash in between leaves the keys here, so the next run finishes
    # the job. kind: "entity" | "relation" | "document" (delete from the graph) | "chunk"
    # (delete from the graph and the vectors) | "record" (a text hash whose extraction record
    # was replaced: its chunks are re-keyed and the merge aggregates that counted the old
    # record rebuilt).
    def add_pending(self, kind: str, keys: Iterable[str]) -> None: ...
    def pending(self, kind: str) -> set[str]: ...
    def clear_pending(self, kind: str, keys: Iterable[str]) -> None: ...

    # Merge aggregates by (kind, key): derived data that lets an update fold new chunks into
    # what a name or relation already holds (graphrag.merge_ledger); a missing or stale
    # row is rebuilt from the records.
    def get_aggregates(self, kind: str, keys: Iterable[str]) -> dict[str, str]: ...
    def put_aggregates(self, rows: Mapping[tuple[str, str], str | None]) -> None:
        """Writes the rows (None deletes one) in one transaction."""

    # caches
    def cache_get(self, key: str) -> str | None: ...
    def cache_put(self, key: str, value: str) -> None: ...
    def get_embeddings(self, model: str, text_hashes: Iterable[str]) -> dict[str, np.ndarray]: ...
    def put_embeddings(self, model: str, vectors: Mapping[str, np.ndarray]) -> None: ...

    def close(self) -> None: ...
