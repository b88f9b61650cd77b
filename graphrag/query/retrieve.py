"""The building blocks of retrieval: vector, exact-name and graph lookups, and the graph
evidence of the LightRAG modes, before it is fused with the text channels (modes.py).

- local:  low-level keywords -> entity vectors (and exact entity keys) -> the entities,
          their strongest incident relations, and the chunks that support the most of them.
- global: high-level keywords -> relation vectors -> the relations, their endpoints, and
          the chunks that support the most of them.

Everything goes through the store protocols, in a fixed, small number of batched calls per
query, so it runs the same on NetworkX and on Neo4j.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from graphrag.indexer import CHUNKS_TABLE, ENTITIES_TABLE, RELATIONS_TABLE
from graphrag.models import Entity, Relation, normalize_name
from graphrag.query.fusion import Channel, weighted_rrf
from graphrag.query.result import Keywords, ScoredChunk, ScoredEntity, ScoredRelation
from graphrag.query.vector_search import VectorSearcher
from graphrag.settings import Settings
from graphrag.tracing import stage_span
from graphrag.stores.base import GraphStore, StateStore

EXACT_NAME_SCORE = 1.0  # an entity named exactly like a keyword outranks any similarity


@dataclass(frozen=True)
class QueryVectors:
    question: np.ndarray  # (dim,)
    low: np.ndarray  # (n_low, dim)
    high: np.ndarray  # (n_high, dim)
    text: str = ""  # the question as the lexical channel searches it
    extra: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))  # expansions' vectors
    inner: np.ndarray | None = None  # the inner question's vector (decompose.py), if it nests one
    inner_text: str = ""  # the inner question, a part of `text`


@dataclass
class Ranked:
    """Scores by id, before the records are fetched; `entities`/`relations` keep the
    records a mode already holds so hydration fetches only the rest."""

    entity_scores: dict[str, float] = field(default_factory=dict)
    relation_scores: dict[str, float] = field(default_factory=dict)
    chunk_scores: dict[str, float] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)


class Timer:
    """Seconds per stage, summed over repeated entries."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            with stage_span("query", stage):
                yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 5) for k, v in self.seconds.items()}


def top(scores: dict[str, float], k: int) -> dict[str, float]:
    """The k best, best first; ties by id so results are reproducible."""
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k])


def max_merge(hit_lists: Iterable[Iterable[tuple[str, float]]]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for hits in hit_lists:
        for key, score in hits:
            if score > scores.get(key, float("-inf")):
                scores[key] = score
    return scores


class Retriever:
    def __init__(
        self,
        settings: Settings,
        *,
        graph: GraphStore,
        state: StateStore,
        searcher: VectorSearcher,
    ) -> None:
        self.settings = settings
        self.graph = graph
        self.state = state
        self.searcher = searcher

    # ------------------------------------------------------------ building blocks
    def entity_hits(self, keywords: Keywords, qv: QueryVectors, k: int, timer: Timer) -> dict[str, float]:
        """Entities matching the low-level keywords (the question when there are none):
        by vector similarity, and by exact normalized name."""
        queries = qv.low if len(qv.low) else qv.question[None, :]
        with timer("search"):
            hits = self.searcher.search(ENTITIES_TABLE, queries, k)
        scores = max_merge(((h.id, h.score) for h in hs) for hs in hits)
        names = {normalize_name(w) for w in keywords.low_level} - {""}
        if names:
            with timer("graph"):
                exact = self.graph.find_entities(names)  # a name may be another entity's alias
            for entity in exact.values():
                scores[entity.key] = max(scores.get(entity.key, 0.0), EXACT_NAME_SCORE)
        return top(scores, k)

    def relation_hits(self, qv: QueryVectors, k: int, timer: Timer) -> dict[str, float]:
        queries = qv.high if len(qv.high) else qv.question[None, :]
        with timer("search"):
            hits = self.searcher.search(RELATIONS_TABLE, queries, k)
        return top(max_merge(((h.id, h.score) for h in hs) for hs in hits), k)

    def chunk_hits(self, vector: np.ndarray, k: int, timer: Timer) -> dict[str, float]:
        with timer("search"):
            (hits,) = self.searcher.search(CHUNKS_TABLE, vector[None, :], k)
        return {h.id: h.score for h in hits}

    # ------------------------------------------------------------ graph evidence
    def local(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        """Entities, their relations, and the chunks that mention the most of them (scores
        summed over the matched entities), before fusion with the text channels."""
        s = self.settings
        entity_scores = self.entity_hits(keywords, qv, s.query_top_k_entities, timer)
        with timer("graph"):
            entities = self.graph.get_entities(entity_scores)
            incident = self.graph.neighbors(entities)
        entity_scores = {k: v for k, v in entity_scores.items() if k in entities}
        candidates = {r.key: r for rels in incident.values() for r in rels}
        endpoints = {e for r in candidates.values() for e in (r.source, r.target)}
        with timer("graph"):
            degrees = self.graph.degrees(endpoints)

        def strength(r: Relation) -> tuple[float, float, int, str]:
            # Relations of the best-matching entities first (those joining two of them
            # before all), then the strongest, then the best connected.
            support = entity_scores.get(r.source, 0.0) + entity_scores.get(r.target, 0.0)
            return (-support, -r.weight, -(degrees.get(r.source, 0) + degrees.get(r.target, 0)), r.key)

        chosen = sorted(candidates.values(), key=strength)[: s.query_top_k_relations]
        relation_scores = {r.key: -strength(r)[0] for r in chosen}
        chunk_scores: dict[str, float] = {}
        for key, score in entity_scores.items():
            for chunk_id in entities[key].source_ids:
                chunk_scores[chunk_id] = chunk_scores.get(chunk_id, 0.0) + score
        return Ranked(
            entity_scores=entity_scores,
            relation_scores=relation_scores,
            chunk_scores=top(chunk_scores, top_k),
            entities=entities,
            relations={r.key: r for r in chosen},
        )

    def global_(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        """Relations, their endpoints, and the chunks that support the most of them."""
        s = self.settings
        relation_scores = self.relation_hits(qv, s.query_top_k_relations, timer)
        with timer("graph"):
            relations = self.graph.get_relations(relation_scores)
        relation_scores = {k: v for k, v in relation_scores.items() if k in relations}
        entity_scores: dict[str, float] = {}
        chunk_scores: dict[str, float] = {}
        for key, score in relation_scores.items():
            r = relations[key]
            for endpoint in (r.source, r.target):
                entity_scores[endpoint] = entity_scores.get(endpoint, 0.0) + score
            for chunk_id in r.source_ids:
                chunk_scores[chunk_id] = chunk_scores.get(chunk_id, 0.0) + score
        return Ranked(
            entity_scores=top(entity_scores, s.query_top_k_entities),
            relation_scores=relation_scores,
            chunk_scores=top(chunk_scores, top_k),
            relations=relations,
        )

    # ------------------------------------------------------------ records
    def hydrate(self, ranked: Ranked, timer: Timer) -> tuple[list[ScoredEntity], list[ScoredRelation], list[ScoredChunk]]:
        """Fetches the records of the ranked ids (only those not already held) and the
        chunks' texts and documents, in a few batched calls."""
        with timer("graph"):
            missing_e = [k for k in ranked.entity_scores if k not in ranked.entities]
            entities = {**ranked.entities, **(self.graph.get_entities(missing_e) if missing_e else {})}
            missing_r = [k for k in ranked.relation_scores if k not in ranked.relations]
            relations = {**ranked.relations, **(self.graph.get_relations(missing_r) if missing_r else {})}
        with timer("chunks"):
            chunks = self.state.get_chunks(ranked.chunk_scores)
            documents = {}
            for document_id in dict.fromkeys(c.document_id for c in chunks.values()):
                record = self.state.get_document(document_id)
                if record is not None:
                    documents[document_id] = record
        scored_entities = [
            ScoredEntity(e.key, e.name, e.type, e.description, round(score, 6), tuple(e.source_ids))
            for key, score in ranked.entity_scores.items()
            if (e := entities.get(key)) is not None
        ]
        scored_relations = [
            ScoredRelation(
                r.key, r.source, r.target, tuple(r.keywords), r.description, r.weight, round(score, 6), tuple(r.source_ids)
            )
            for key, score in ranked.relation_scores.items()
            if (r := relations.get(key)) is not None
        ]
        scored_chunks = []
        for chunk_id, score in ranked.chunk_scores.items():
            c = chunks.get(chunk_id)
            if c is None:
                continue
            doc = documents.get(c.document_id)
            scored_chunks.append(
                ScoredChunk(
                    c.id, c.document_id, round(score, 6), c.text, c.order,
                    source=doc.source if doc else "", title=doc.title if doc else "", n_tokens=c.n_tokens,
                )
            )
        return scored_entities, scored_relations, scored_chunks


def merge_graph_parts(parts: Sequence[Ranked], settings: Settings) -> Ranked:
    """Several modes' entities and relations as one list each, without duplicates
    (reciprocal rank fusion); chunks are left to the caller's fusion."""
    entities: dict[str, Entity] = {}
    relations: dict[str, Relation] = {}
    for part in parts:
        entities.update(part.entities)
        relations.update(part.relations)
    return Ranked(
        entity_scores=top(
            weighted_rrf([Channel("", p.entity_scores) for p in parts]), settings.query_top_k_entities
        ),
        relation_scores=top(
            weighted_rrf([Channel("", p.relation_scores) for p in parts]), settings.query_top_k_relations
        ),
        entities=entities,
        relations=relations,
    )
