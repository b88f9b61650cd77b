"""Where an entity comes from: the chunks that mention it, grouped by document (title and
source), and one chunk with its document, for the explorer's panel and citation links."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphrag.models import Entity, Relation

if TYPE_CHECKING:
    from graphrag.core import GraphRAG


@dataclass
class ProvenanceChunk:
    id: str
    document_id: str
    order: int
    text: str


@dataclass
class ProvenanceDocument:
    id: str
    title: str
    source: str
    status: str
    chunks: list[ProvenanceChunk] = field(default_factory=list)


@dataclass
class Provenance:
    total_chunks: int  # chunks that mention the entity; `documents` holds the first `limit`
    documents: list[ProvenanceDocument]
    names: list[str]  # the entity's name and aliases, to highlight in the text


def _provenance(rag: "GraphRAG", chunk_ids: list[str], limit: int, names: list[str]) -> Provenance:
    chunks = rag.state.get_chunks(chunk_ids[:limit]) if limit else {}
    documents: dict[str, ProvenanceDocument] = {}
    for chunk in sorted(chunks.values(), key=lambda c: (c.document_id, c.order)):
        doc = documents.get(chunk.document_id)
        if doc is None:
            record = rag.state.get_document(chunk.document_id)
            doc = documents[chunk.document_id] = ProvenanceDocument(
                id=chunk.document_id, title=record.title if record else "", source=record.source if record else "",
                status=record.status if record else "unknown")
        doc.chunks.append(ProvenanceChunk(chunk.id, chunk.document_id, chunk.order, chunk.text))
    return Provenance(total_chunks=len(chunk_ids), documents=list(documents.values()), names=names)


def entity_provenance(rag: "GraphRAG", entity: Entity, limit: int) -> Provenance:
    chunk_ids = sorted(rag.state.chunks_for_entities([entity.key]).get(entity.key, set()) or entity.source_ids)
    return _provenance(rag, chunk_ids, limit, [entity.name, *(a.name for a in entity.aliases)])


def relation_provenance(rag: "GraphRAG", relation: Relation, ends: list[Entity], limit: int) -> Provenance:
    """The chunks that state the relation; both entities' names are highlighted."""
    chunk_ids = sorted(rag.state.chunks_for_relations([relation.key]).get(relation.key, set()) or relation.source_ids)
    names = [n for e in ends for n in (e.name, *(a.name for a in e.aliases))]
    return _provenance(rag, chunk_ids, limit, names)


@dataclass
class ExploreChunk:
    chunk: ProvenanceChunk
    document: ProvenanceDocument  # without its chunks
    entities: list[dict[str, str]]  # key, name, type of the entities the chunk mentions


def chunk_detail(rag: "GraphRAG", chunk_id: str, max_entities: int = 200) -> ExploreChunk | None:
    chunk = rag.state.get_chunks([chunk_id]).get(chunk_id)
    if chunk is None:
        return None
    record = rag.state.get_document(chunk.document_id)
    entity_keys, _ = rag.state.keys_for_chunks([chunk_id])
    found = rag.graph.get_entities(sorted(entity_keys)[:max_entities])
    return ExploreChunk(
        chunk=ProvenanceChunk(chunk.id, chunk.document_id, chunk.order, chunk.text),
        document=ProvenanceDocument(id=chunk.document_id, title=record.title if record else "",
                                source=record.source if record else "", status=record.status if record else "unknown"),
        entities=[{"key": e.key, "name": e.name, "type": e.type} for e in found.values()],
    )
