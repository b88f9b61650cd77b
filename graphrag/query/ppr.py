"""Personalized PageRank over the entity–chunk graph, the multi-hop retrieval of HippoRAG.

Nodes are entities and chunks; an entity is linked to the entities it is related to and to
the chunks it was extracted from. A walk restarts at the query's seed entities (weighted by
how well they match, divided by how many chunks they occur in: a name found everywhere says
little) and, as in HippoRAG 2, at the chunks dense retrieval finds for the question. With
damping 0.5 the mass stays within a few hops of the seeds, so chunks that connect several
seeds — the bridges of a multi-hop question — gather the most.

The walk itself (local push, plain numpy) is in `push.py`; the graph in `ppr_graph.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from graphrag.query.ppr_graph import EntityChunkGraph
from graphrag.query.push import PushState, push_walk

__all__ = ["EntityChunkGraph", "PPRScores", "bridge_entities", "rank_chunks_ppr"]

# Residual mass per node at which local push stops. Against 1e-7 the top-20 chunks of every
# MuSiQue dev question are the same, with about 4x less work (11 vs 48 ms a walk on the
# 1,890-passage graph, 2 busy cores).
PUSH_EPS = 1e-5
# ... and per edge of the node: a node pushes only when its residual passes
# max(PUSH_EPS, PUSH_EPS_PER_EDGE * its edges), Andersen–Chung–Lang's degree-scaled rule. A
# hub's push visits thousands of edges for little mass each; with the absolute threshold alone
# a walk on the 100k-entity bench graph (20 hubs of ~4,000 edges) visited a median 655k edges
# and took 22-30 ms. With this rule, 115k edges and 10 ms, and the top 20 chunks of 30 walks
# (local, global, ppr) the same as with a near-exact push (1e-9); the work is bounded by
# 1 / ((1 - damping) * PUSH_EPS_PER_EDGE) edge visits whatever the size of the graph. Nodes
# of up to 10 edges (a passage's entities, most entities) keep the absolute threshold.
PUSH_EPS_PER_EDGE = 1e-6


@dataclass(frozen=True)
class PPRScores:
    chunks: list[tuple[str, float]]  # best first, positive scores only
    # By PageRank mass over the square root of weighted degree: without a personalization
    # PageRank is proportional to degree, so raw mass ranks the hubs first whatever the
    # question, while mass per unit of degree ranks the leaves next to a seed above it.
    entities: list[tuple[str, float]]
    # Where the walk stopped, and the node of every prior chunk outside the graph: a later
    # walk on the same graph goes on from here (`rank_chunks_ppr`'s `after`).
    state: PushState | None = field(default=None, repr=False, compare=False)
    extra: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)


def rank_chunks_ppr(
    graph: EntityChunkGraph,
    entity_seeds: Mapping[str, float],
    chunk_prior: Mapping[str, float] | None = None,
    *,
    damping: float = 0.5,
    prior_share: float = 0.5,
    specificity: str = "idf",
    limit: int | None = None,
    after: PPRScores | None = None,
) -> PPRScores:
    """Chunks (and entities) ranked by personalized PageRank.

    `entity_seeds`: entity key -> match strength (e.g. cosine similarity); unknown keys are
    ignored. `chunk_prior`: chunk id -> dense similarity to the question; it receives
    `prior_share` of the reset mass (all of it when no seed is in the graph). Chunks of the
    prior that are not in the graph take part as isolated nodes. `after`: an earlier walk
    on the same graph with the same damping; this one goes on from where it stopped
    (`push_walk`'s `start`), which costs the work of the change in the reset.
    """
    n_graph = graph.n_nodes
    n_entities = len(graph.entity_keys)
    extra: dict[str, int] = dict(after.extra) if after is not None else {}
    for chunk_id in chunk_prior or {}:
        if chunk_id not in graph.chunk_index and chunk_id not in extra:
            extra[chunk_id] = n_graph + len(extra)
    n_nodes = n_graph + len(extra)

    # Seeds and prior as sparse (node, weight) maps: nothing here passes over every node.
    seeds: dict[int, float] = {}
    for key, weight in entity_seeds.items():
        i = graph.entity_index.get(key)
        if i is not None and weight > 0:
            seeds[i] = max(seeds.get(i, 0.0), weight)
    if seeds:
        at = np.fromiter(seeds, dtype=np.int64, count=len(seeds))
        scaled = np.fromiter(seeds.values(), dtype=np.float64, count=len(seeds)) * _specificity(graph, specificity, at)
        seeds = dict(zip(at.tolist(), scaled.tolist()))

    prior: dict[int, float] = {}
    for chunk_id, weight in (chunk_prior or {}).items():
        i = graph.chunk_index.get(chunk_id)
        i = n_entities + i if i is not None else extra[chunk_id]
        prior[i] = max(prior.get(i, 0.0), max(weight, 0.0))

    reset = np.zeros(n_nodes)
    seed_total = sum(seeds.values())
    prior_total = sum(prior.values())
    if seed_total > 0:
        for i, weight in seeds.items():
            reset[i] += (1.0 - prior_share) * weight / seed_total
    if prior_total > 0:
        share = prior_share if seed_total > 0 else 1.0
        for i, weight in prior.items():
            reset[i] += share * weight / prior_total
    if reset.sum() <= 0:
        return PPRScores([], [])

    # Prior chunks outside the graph are isolated nodes: no edges in the CSR.
    indptr, degree = graph.indptr, graph.degree
    if extra:
        indptr = np.concatenate([indptr, np.full(len(extra), indptr[-1], dtype=np.int64)])
        degree = np.concatenate([degree, np.zeros(len(extra), dtype=degree.dtype)])
    state = push_walk(
        indptr, graph.csr_dst, graph.csr_transition, reset, damping=damping, eps=PUSH_EPS, degree=degree,
        eps_per_edge=PUSH_EPS_PER_EDGE, start=after.state if after is not None else None,
    )
    assert state is not None  # the reset holds mass
    scores = state.p
    chunk_ids = graph.chunk_ids + list(extra) if extra else graph.chunk_ids
    visited = np.flatnonzero(scores > 0)
    entities_at = visited[visited < n_entities]
    chunks_at = visited[visited >= n_entities]
    entity_scores = scores[entities_at] / np.sqrt(np.maximum(graph.out_weight[entities_at], 1.0))
    return PPRScores(
        chunks=_best(chunk_ids, chunks_at - n_entities, scores[chunks_at], limit),
        entities=_best(graph.entity_keys, entities_at, entity_scores, limit),
        state=state,
        extra=extra,
    )


def _specificity(graph: EntityChunkGraph, kind: str, entities: np.ndarray) -> np.ndarray:
    """How much a seed's weight counts, from the number of chunks its entity occurs in
    (for the entity nodes `entities`): "inverse" is HippoRAG's 1/n; "idf" the gentler
    log(1 + N/n) / log(1 + N), which still discounts a name found in every chunk but does
    not let one found once dominate; "none" leaves weights alone."""
    counts = np.maximum(graph.entity_chunk_counts[entities], 1.0)
    if kind == "inverse":
        return 1.0 / counts
    if kind == "idf":
        return graph.idf[entities]
    if kind == "none":
        return np.ones_like(counts)
    raise ValueError(f"unknown specificity {kind!r}; use idf, inverse or none")


def _best(ids: list[str], at: np.ndarray, scores: np.ndarray, limit: int | None) -> list[tuple[str, float]]:
    """(ids[at[j]], scores[j]) of the `limit` highest positive scores, best first, ties by
    position in `ids` (`at` ascending)."""
    if limit is not None and limit < len(scores):
        candidates = np.argpartition(-scores, limit - 1)[:limit] if limit > 0 else np.array([], dtype=np.int64)
        candidates = candidates[np.lexsort((candidates, -scores[candidates]))]
    else:
        candidates = np.argsort(-scores, kind="stable")
    return [(ids[at[j]], float(scores[j])) for j in candidates if scores[j] > 0]


def bridge_entities(
    graph: EntityChunkGraph,
    entity_seeds: Mapping[str, float],
    ranked_chunks: list[tuple[str, float]],
    *,
    seed_share: float = 0.3,
) -> dict[str, float]:
    """The bridge entities of a first walk's best chunks: entity key -> weight (summing to 1).

    The question's own entities are its seeds that hold at least `seed_share` of the best
    seed's weight. In a chunk that ranks well, an entity related to one of them (an edge
    between the two) but not one itself is the likely bridge of a multi-hop chain ("the
    director of X": the director, named in X's passage); its other chunks hold the next
    hop. Each chunk hands out its share of the chunks' summed score, spread over its bridge
    candidates by specificity, so a hub named in the passage gets little. Unlike vector
    pseudo-relevance feedback, this follows graph edges: a passage that matched the words
    of the question but names nothing related to its entities adds nothing.
    """
    n_entities = len(graph.entity_keys)
    if not n_entities or not ranked_chunks:
        return {}
    weights = {graph.entity_index[k]: w for k, w in entity_seeds.items() if k in graph.entity_index and w > 0}
    if not weights:
        return {}
    best = max(weights.values())
    own = np.zeros(n_entities, dtype=bool)
    own[[e for e, w in weights.items() if w >= seed_share * best]] = True
    spec = graph.idf
    total = sum(score for _, score in ranked_chunks) or 1.0
    found: dict[int, float] = {}
    for chunk_id, score in ranked_chunks:
        c = graph.chunk_index.get(chunk_id)
        if c is None:  # a prior chunk outside the graph names no entity
            continue
        node = n_entities + c
        candidates = []
        for e in graph.csr_dst[graph.indptr[node] : graph.indptr[node + 1]]:  # a chunk's edges go to entities
            if own[e]:
                continue
            neighbours = graph.csr_dst[graph.indptr[e] : graph.indptr[e + 1]]
            if own[neighbours[neighbours < n_entities]].any():
                candidates.append(int(e))
        spread = sum(spec[e] for e in candidates)
        for e in candidates:
            found[e] = found.get(e, 0.0) + (score / total) * spec[e] / spread
    mass = sum(found.values())
    return {graph.entity_keys[e]: w / mass for e, w in found.items()} if mass > 0 else {}
