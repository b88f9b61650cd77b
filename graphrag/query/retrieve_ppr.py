"""The ppr mode: seeds from the question, personalized PageRank, ranked chunks.

Seeds are the entities the question matches, weighted by similarity:
- entity vectors closest to each low-level keyword, and entities named exactly like one;
- entity vectors closest to the whole question;
- endpoints of the relations ("facts") closest to the whole question, HippoRAG 2's
  query-to-triple matching.
The chunks closest to the question are a prior on the reset vector (HippoRAG 2 mixes dense
passage scores in the same way), so a question with no good seed still ranks like dense
retrieval, and a good seed pulls up the chunks its neighbourhood connects; the chunks
closest to the question's inner question (decompose.py) join that prior.
A second walk follows the chain one hop further: it restarts also at the bridge entities of
the first walk's best chunks (`ppr.bridge_entities`), and its prior also has the chunks
closest to the question asked about those bridges (the inner question replaced by their
names).

Small graphs are loaded once per process; large ones run on the seeds' neighbourhood.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import math
import threading

import numpy as np

from graphrag.indexer import CHUNKS_TABLE, ENTITIES_TABLE, RELATIONS_TABLE
from graphrag.models import normalize_name
from graphrag.query.ppr import EntityChunkGraph, bridge_entities, rank_chunks_ppr
from graphrag.query.result import Keywords
from graphrag.query.retrieve import EXACT_NAME_SCORE, QueryVectors, Ranked, Retriever, Timer, top

SEEDS_PER_QUERY = 5  # entity matches per keyword and for the question
FACT_SEEDS = 5  # relations matched against the question
# Reset mass each kind of query item hands out (a low-level keyword: 1). The question's
# closest facts name the entities of its first hop more reliably than the entity vectors
# closest to the whole question (name + description, where a description's words match
# loosely: a snowfall question draws date entities), HippoRAG 2's query-to-triple seeding.
# Chosen on the first half of MuSiQue dev (facts 1 -> 2, question 1 -> 0.5), kept because
# both halves and both graphs (spaCy and replayed GPT-3.5) gained: recall@5 +0.6 to +1.3.
QUESTION_SEED_MASS = 0.5
FACT_SEED_MASS = 2.0
PRIOR_CHUNKS = 50  # dense chunk hits in the prior (the ranking hardly changes from 50 to 200)
# Similarity gap at which a match gets 1/e of the best match's share, for seeds and prior
# alike. Sharpening matters for the prior: with raw cosine weights the 50th chunk gets
# half the mass of the first, and recall@5 on MuSiQue drops from 0.76 to 0.72.
TEMPERATURE = 0.05
NEIGHBOURHOOD_DEPTH = 2
# Bridge feedback (`walk`): the first walk's chunks whose bridge entities seed the second
# walk, and the share of the best seed's weight that makes a seed one of the question's own
# entities. On MuSiQue dev (first half chosen, second held out; recall@5 of ppr, spaCy /
# replayed GPT-3.5 graph): one walk 74.7 / 75.7; bridge mass 0.5 from the top 5 chunks
# 77.2 / 77.3 (held-out half 72.2 -> 75.2 and 73.8 -> 74.8). Every entity of those chunks
# instead of the related ones: 74.9 / 75.7; the top 3 or 8 chunks, mass 0.25-1, a share of
# 0.05-0.5, a third walk: within a point, none better on the first half of both graphs.
BRIDGE_CHUNKS = 5
# The inner question of a nested one (decompose.py) adds its closest chunks to the prior at
# this weight of the question's own: recall@5 (spaCy / replay) 77.2 / 77.3 -> 79.2 / 78.7,
# recall@2 51.9 / 54.7 -> 54.4 / 57.1; first half +3.6 / +2.2, held-out half +0.3 / +0.7
# (recall@2 +3.7 / +3.0). Weight 0.25 and 1 were below 0.5 on the first half; its closest
# facts as more seeds instead: +0.5 / +0.7.
INNER_PRIOR_WEIGHT = 0.5
OWN_SEED_SHARE = 0.3


# The question rewritten around its bridges (`walk`): the inner question (decompose.py)
# replaced by the name of each of the REWRITE_BRIDGES best bridge entities, "Who was the
# first president of the American Psychological Association?"; each rewrite's closest chunks
# join the second walk's prior, REWRITE_PRIOR_WEIGHT of the question's mass in all. MuSiQue
# dev, recall@5 / recall@2 of ppr, spaCy graph: 79.2 / 54.4 -> 79.2 / 58.1, replayed
# GPT-3.5: 78.7 / 57.6 -> 79.6 / 60.7; first half -0.6 / +3.6 and +1.0 / +1.9, held-out half
# +0.8 / +3.6 and +0.7 / +4.4. One bridge: first half -0.6 / +2.6 and +2.0 / +0.2, held-out
# spaCy recall@5 -0.2; weights 0.25 and 1 below 0.5; the bridge's name appended to the
# question instead of replacing the inner one: -0.5 / +1.2 and 0 / +0.9.
REWRITE_BRIDGES = 2
REWRITE_PRIOR_WEIGHT = 0.5

EmbedTexts = Callable[[Sequence[str]], np.ndarray]


class PPRRetriever:
    def __init__(self, base: Retriever, embed: EmbedTexts | None = None) -> None:
        """`embed`: texts -> unit vectors, for the rewritten questions of bridge feedback
        (without it, the second walk's prior is the first's)."""
        self.base = base
        self.embed = embed
        self.settings = base.settings
        self._lock = threading.Lock()
        self._full_graph: EntityChunkGraph | None = None
        self._use_full_graph: bool | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._full_graph = None
            self._use_full_graph = None

    def catch_up(self, changed: Mapping[str, set[str]]) -> None:
        """Brings the loaded full graph up to the store after an update that wrote
        `changed` (kind -> keys added, changed or deleted since it was loaded), reading only
        those rows: the graph is then the one a rebuild would give. Only "entity" and
        "relation" matter: chunks join the graph through `Entity.source_ids` alone, so a
        chunk whose links changed comes with its entities, and documents are not in it.
        The relations a deleted entity took along count as deleted keys (the SQLite store
        logs them); without them a deletion still drops them, but an entity deleted and
        written again within `changed` would get them back.
        A large update drops the graph instead (`EntityChunkGraph.can_catch_up`)."""
        entity_keys = set(changed.get("entity") or ())
        relation_keys = set(changed.get("relation") or ())
        graph = self.base.graph
        with self._lock:
            full, use_full = self._full_graph, self._use_full_graph
            self._use_full_graph = None  # the entity count may have crossed the setting
            if full is None or not (entity_keys or relation_keys):
                return
            # In subgraph mode the full graph is not walked: free it rather than keep it up.
            self._full_graph = None
            if use_full is False or not full.can_catch_up(len(entity_keys), len(relation_keys)):
                return
            entities = graph.get_entities(entity_keys) if entity_keys else {}
            relations = graph.get_relations(relation_keys) if relation_keys else {}
            # A new graph object (a walk in flight keeps the one it started on); a failure
            # above leaves none, so the next walk rebuilds rather than walks a stale one.
            self._full_graph = full.caught_up(entity_keys, entities, relation_keys, relations)

    def seeds(self, keywords: Keywords, qv: QueryVectors, timer: Timer) -> dict[str, float]:
        """Entity key -> reset weight. Each query item (a low-level keyword, the question, the
        question's best facts) hands out its own mass, scaled by its best similarity, among
        the entities it matches; so twenty loose matches of the question cannot outweigh
        the one entity a keyword names exactly."""
        graph = self.base.graph
        searcher = self.base.searcher
        queries = np.vstack([qv.low, qv.question[None, :]]) if len(qv.low) else qv.question[None, :]
        with timer("search"):
            hits = searcher.search(ENTITIES_TABLE, queries, SEEDS_PER_QUERY)
            (fact_hits,) = searcher.search(RELATIONS_TABLE, qv.question[None, :], FACT_SEEDS)
        names = {normalize_name(w): i for i, w in enumerate(keywords.low_level)}
        names.pop("", None)
        with timer("graph"):
            exact = graph.find_entities(names) if names else {}  # by key or by alias
            facts = graph.get_relations([h.id for h in fact_hits])
        seeds: dict[str, float] = {}

        def spread(matches: list[tuple[str, float]], mass: float) -> None:
            if not matches:
                return
            best = max(score for _, score in matches)
            shares = {key: math.exp((score - best) / TEMPERATURE) for key, score in matches}
            total = sum(shares.values())
            for key, share in shares.items():
                seeds[key] = seeds.get(key, 0.0) + mass * max(best, 0.0) * share / total

        exact_by_keyword = {i: exact[name].key for name, i in names.items() if name in exact}
        for i, keyword_hits in enumerate(hits[: len(qv.low)]):
            if i in exact_by_keyword:
                spread([(exact_by_keyword[i], EXACT_NAME_SCORE)], 1.0)
            else:
                spread([(h.id, h.score) for h in keyword_hits], 1.0)
        spread([(h.id, h.score) for h in hits[-1]], QUESTION_SEED_MASS)
        fact_matches: list[tuple[str, float]] = []
        for hit in fact_hits:
            relation = facts.get(hit.id)
            if relation is not None:
                fact_matches += [(relation.source, hit.score), (relation.target, hit.score)]
        spread(_max_by_key(fact_matches), FACT_SEED_MASS)
        return seeds

    def chunk_prior(self, qv: QueryVectors, top_k: int, timer: Timer) -> dict[str, float]:
        """The chunks closest to the question, weighted like the seeds (a softmax over
        similarity), so the prior is as sharp as dense retrieval's own ranking; and those
        closest to its inner question, if it nests one (`INNER_PRIOR_WEIGHT`)."""
        depth = max(PRIOR_CHUNKS, top_k)
        if qv.inner is not None:
            self._prefetch_chunks(np.stack([qv.question, qv.inner]), depth, timer)
        prior = _sharpened(self.base.chunk_hits(qv.question, depth, timer))
        if qv.inner is not None and prior:
            inner = _sharpened(self.base.chunk_hits(qv.inner, depth, timer))
            scale = INNER_PRIOR_WEIGHT * sum(prior.values()) / (sum(inner.values()) or 1.0)
            for key, weight in inner.items():
                prior[key] = prior.get(key, 0.0) + scale * weight
        return prior

    def _prefetch_chunks(self, vectors: np.ndarray, k: int, timer: Timer) -> None:
        """One pass over the chunk vectors for several query vectors (they are searched one by
        one next, from memory)."""
        with timer("search"):
            self.base.searcher.prefetch(CHUNKS_TABLE, vectors, k)

    def entity_chunk_graph(self, seeds: dict[str, float], timer: Timer) -> EntityChunkGraph:
        graph = self.base.graph
        with self._lock:
            if self._use_full_graph is None:
                with timer("graph"):
                    self._use_full_graph = graph.stats().entities <= self.settings.ppr_full_graph_entities
                    if not self._use_full_graph:
                        self._full_graph = None  # grown past the setting: not walked any more
            if self._use_full_graph:
                if self._full_graph is None:
                    with timer("load_graph"):
                        self._full_graph = EntityChunkGraph.build(graph.iter_entities(), graph.iter_relations())
                return self._full_graph
        with timer("graph"):
            entities, relations = graph.subgraph(
                list(top(seeds, len(seeds))), depth=NEIGHBOURHOOD_DEPTH, limit=self.settings.ppr_neighbourhood_limit
            )
        with timer("ppr"):
            return EntityChunkGraph.build(entities, relations)

    def walk(
        self,
        seeds: dict[str, float],
        qv: QueryVectors,
        top_k: int,
        timer: Timer,
        prior_share: float | None = None,
        bridge: float | None = None,
        rewrite: bool | None = None,
    ) -> Any:
        """PageRank restarting at `seeds` (entity key -> weight) and at the question's
        closest chunks (`prior_share` of the reset mass; default the setting): the chunk and
        entity scores. With `bridge` (default the setting `ppr_bridge_mass`) above 0, a
        second walk also restarts at the bridge entities of the first walk's best chunks
        (`ppr.bridge_entities`), with that share of the seeds' mass: the second hop of a
        chain starts from what the first hop found. With `query_bridge_rewrite`, the
        second walk's prior also has the chunks closest to the question asked about the
        bridges (`_rewritten_prior`; `rewrite` False: not in this walk)."""
        s = self.settings
        share = s.ppr_passage_prior if prior_share is None else prior_share
        prior = self.chunk_prior(qv, top_k, timer) if share > 0 else {}
        ecg = self.entity_chunk_graph(seeds, timer)
        limit = max(top_k, s.query_top_k_entities)
        with timer("ppr"):
            scores = rank_chunks_ppr(ecg, seeds, prior, damping=s.ppr_damping, prior_share=share, limit=limit)
            bridge_mass = s.ppr_bridge_mass if bridge is None else bridge
            if bridge_mass <= 0:
                return scores
            bridges = bridge_entities(ecg, seeds, scores.chunks[:BRIDGE_CHUNKS], seed_share=OWN_SEED_SHARE)
            if not bridges:
                return scores
            mass = bridge_mass * sum(seeds.values())
            fed = dict(seeds)
            for key, weight in bridges.items():
                fed[key] = fed.get(key, 0.0) + mass * weight
        rewrite = s.query_bridge_rewrite if rewrite is None else rewrite and s.query_bridge_rewrite
        if prior and rewrite and self.embed is not None and qv.inner_text and qv.inner_text in qv.text:
            prior = self._rewritten_prior(bridges, qv, prior, top_k, timer)
        with timer("ppr"):
            # From where the first walk stopped: only the moved reset mass is walked.
            return rank_chunks_ppr(ecg, fed, prior, damping=s.ppr_damping, prior_share=share, limit=limit, after=scores)

    def _rewritten_prior(
        self, bridges: dict[str, float], qv: QueryVectors, prior: dict[str, float], top_k: int, timer: Timer
    ) -> dict[str, float]:
        """`prior` plus the closest chunks of the question with its inner question replaced
        by a bridge's name (REWRITE_BRIDGES): the second hop asked directly."""
        assert self.embed is not None
        best = sorted(bridges.items(), key=lambda kv: (-kv[1], kv[0]))[:REWRITE_BRIDGES]
        with timer("graph"):
            entities = self.base.graph.get_entities([key for key, _ in best])
        texts = [qv.text.replace(qv.inner_text, entities[key].name) for key, _ in best if key in entities]
        texts = [t for t in dict.fromkeys(texts) if t != qv.text]
        if not texts:
            return prior
        with timer("embed"):
            vectors = self.embed(texts)
        rewritten = dict(prior)
        share = REWRITE_PRIOR_WEIGHT / REWRITE_BRIDGES * sum(prior.values())
        depth = max(PRIOR_CHUNKS, top_k)
        self._prefetch_chunks(vectors, depth, timer)
        for vector in vectors:
            hits = _sharpened(self.base.chunk_hits(vector, depth, timer))
            total = sum(hits.values()) or 1.0
            for key, weight in hits.items():
                rewritten[key] = rewritten.get(key, 0.0) + share * weight / total
        return rewritten

    def ppr(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        s = self.settings
        scores = self.walk(self.seeds(keywords, qv, timer), qv, top_k, timer)
        entity_scores = dict(scores.entities[: s.query_top_k_entities])
        with timer("graph"):
            incident = self.base.graph.neighbors(entity_scores) if entity_scores else {}
        relation_scores: dict[str, float] = {}
        relations = {}
        for rels in incident.values():
            for r in rels:
                if r.source in entity_scores and r.target in entity_scores:
                    relation_scores[r.key] = entity_scores[r.source] + entity_scores[r.target]
                    relations[r.key] = r
        relation_scores = top(relation_scores, s.query_top_k_relations)
        return Ranked(
            entity_scores=entity_scores,
            relation_scores=relation_scores,
            chunk_scores=dict(scores.chunks[:top_k]),
            relations={k: relations[k] for k in relation_scores},
        )


def _sharpened(hits: dict[str, float]) -> dict[str, float]:
    if not hits:
        return {}
    best = max(hits.values())
    return {k: math.exp((v - best) / TEMPERATURE) for k, v in hits.items()}


def _max_by_key(matches: list[tuple[str, float]]) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for key, score in matches:
        best[key] = max(score, best.get(key, score))
    return list(best.items())


def mix(hybrid: Ranked, ppr: Ranked) -> Ranked:
    """Hybrid's entities and relations with ppr's chunks. PPR restarts at the dense chunk
    hits of the question (naive) and at the entities the keywords and facts match (local,
    global), so its chunk ranking is the mix of both kinds of evidence. Fusing the ranked
    lists instead (reciprocal rank fusion of local, global and naive chunks) ranks worse
    than naive alone on multi-hop questions: on MuSiQue, recall@5 0.56 vs 0.62 (ppr 0.76)."""
    return Ranked(
        entity_scores=hybrid.entity_scores,
        relation_scores=hybrid.relation_scores,
        chunk_scores=ppr.chunk_scores,
        entities=hybrid.entities,
        relations=hybrid.relations,
    )
