"""The entity–chunk graph personalized PageRank walks (ppr.py): entities and chunks as nodes,
an entity linked to the chunks it was extracted from and to the entities it is related to.

Derived in numpy from the rows it is made of (`EntityChunkRows`, ppr_rows.py), which it
keeps: an update that wrote a few entities and relations catches the graph up by splicing
their rows in and deriving again (`caught_up`), without reading the whole store.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from graphrag.models import Entity, Relation
from graphrag.query.ppr_rows import EntityChunkRows

# An edge between an entity and a chunk it occurs in weighs this many relation edges (before
# specificity). A walk at an entity then mostly goes to the passages that name it rather than
# to co-occurring entities, as in HippoRAG's passage graph: the next hop of a multi-hop
# question is a passage, and relation edges (offline: co-occurrence) spread mass thin.
# MuSiQue dev recall@5 (spaCy / replayed GPT-3.5 graph): 73.7 / 74.3 at 1, 74.7 / 75.7 at 4,
# the same within 0.5 at 8 and 16, and without relation edges at all; 4 chosen on the first
# half of the questions, both halves gained.
ENTITY_CHUNK_WEIGHT = 4.0
# An update that wrote more than this share of the entities or relations (and more than
# CATCH_UP_MIN_KEYS of them: a small graph is cheap to catch up either way) is not caught
# up: reading and splicing that many rows costs about what a rebuild does.
CATCH_UP_SHARE = 0.25
CATCH_UP_MIN_KEYS = 256


@dataclass(frozen=True)
class EntityChunkGraph:
    """Entities are nodes 0..E-1, chunks E..E+C-1; every edge is stored in both directions.
    Never changed once built: a walk in flight keeps reading the graph it started on."""

    entity_keys: list[str]
    chunk_ids: list[str]
    entity_index: Mapping[str, int]  # key -> node (a `NodeIndex`)
    chunk_index: Mapping[str, int]  # chunk id -> its number among the chunks (node - E)
    src: np.ndarray  # int64
    dst: np.ndarray  # int64
    transition: np.ndarray  # float64: edge weight / out-weight of src
    entity_chunk_counts: np.ndarray  # chunks per entity (for specificity)
    out_weight: np.ndarray  # weighted degree of every node
    # The same edges sorted by source (CSR): the edges of node u are indptr[u]:indptr[u+1].
    indptr: np.ndarray
    csr_dst: np.ndarray
    csr_transition: np.ndarray
    # Kept so that a walk does no pass over every node of a large graph (ppr.push_pagerank):
    degree: np.ndarray  # edges per node, np.diff(indptr)
    idf: np.ndarray  # `_idf` of every entity
    rows: EntityChunkRows | None = field(default=None, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.entity_keys) + len(self.chunk_ids)

    @classmethod
    def build(
        cls, entities: Iterable[Entity], relations: Iterable[Relation], *, hub_discount: bool = True
    ) -> "EntityChunkGraph":
        """Entities in the order given (a repeated key: the first), chunks in the order the
        entities name them, edges in that order and then the relations'.

        `hub_discount`: an edge to an entity that occurs in many chunks ("american", a
        country) weighs its specificity (see `_idf`), so a walk leaving a chunk goes to the
        specific entities it names rather than into the hub, where its mass would spread
        over hundreds of unrelated chunks."""
        return derive(EntityChunkRows.read(entities, relations, hub_discount=hub_discount))

    def can_catch_up(self, n_entities: int, n_relations: int) -> bool:
        """Whether an update that wrote `n_entities` entity and `n_relations` relation keys
        is cheaper caught up than rebuilt: not when it wrote a large share of the graph, nor
        when the graph was built from rows out of key order (not a store's), nor when more
        ids went to entities and chunks since deleted than the graph has nodes."""
        rows = self.rows
        return (
            rows is not None
            and rows.in_key_order
            and n_entities <= max(CATCH_UP_SHARE * len(self.entity_keys), CATCH_UP_MIN_KEYS)
            and n_relations <= max(CATCH_UP_SHARE * len(rows.relation_keys), CATCH_UP_MIN_KEYS)
            and rows.ids_given() <= 2 * self.n_nodes
        )

    def caught_up(
        self,
        entity_keys: Collection[str],
        entities: Mapping[str, Entity],
        relation_keys: Collection[str],
        relations: Mapping[str, Relation],
    ) -> "EntityChunkGraph":
        """A new graph, the one a build from the store would give after an update that
        wrote `entity_keys` and `relation_keys`: `entities` / `relations` are the live rows
        of those keys (a key missing there was deleted). See `can_catch_up`."""
        assert self.rows is not None
        return derive(self.rows.updated(entity_keys, entities, relation_keys, relations))


def derive(rows: EntityChunkRows) -> EntityChunkGraph:
    """The graph of `rows`, with no Python loop over its entities or relations (one over
    its chunks, to name them)."""
    n_entities = len(rows.entity_keys)
    per_entity = np.diff(rows.mention_ptr)
    mention_entity = np.repeat(np.arange(n_entities, dtype=np.int64), per_entity)
    # Chunks are numbered in the order the entities first name them (the first mention of
    # each chunk id by ufunc.at: 15x faster than np.unique's sort at 100k).
    n_mentions = len(rows.mention_chunk)
    first = np.full(len(rows.names.chunk_ids), n_mentions, dtype=np.int64)
    np.minimum.at(first, rows.mention_chunk, np.arange(n_mentions, dtype=np.int64))
    named = np.flatnonzero(first < n_mentions)
    named = named[np.argsort(first[named])]
    number = np.full(len(first), -1, dtype=np.int64)
    number[named] = np.arange(len(named), dtype=np.int64)
    chunk_ids = [rows.names.chunk_ids[i] for i in named.tolist()]
    mention_chunk_node = n_entities + number[rows.mention_chunk]
    counts = per_entity.astype(np.float64)
    idf = _idf(counts, len(chunk_ids))
    spec = idf if rows.hub_discount else np.ones(n_entities)
    node_of = np.full(len(rows.names.entities), -1, dtype=np.int64)
    node_of[rows.entity_ids] = np.arange(n_entities, dtype=np.int64)
    rel_u = node_of[rows.relation_source]
    rel_v = node_of[rows.relation_target]
    u_arr = np.concatenate((mention_entity, rel_u))
    v_arr = np.concatenate((mention_chunk_node, rel_v))
    w_arr = np.concatenate((ENTITY_CHUNK_WEIGHT * spec[mention_entity], rows.relation_strength * np.sqrt(spec[rel_u] * spec[rel_v])))
    src = np.concatenate([u_arr, v_arr])
    dst = np.concatenate([v_arr, u_arr])
    weight = np.concatenate([w_arr, w_arr])
    n_nodes = n_entities + len(chunk_ids)
    out_weight = np.bincount(src, weights=weight, minlength=n_nodes)
    transition = weight / out_weight[src] if len(src) else weight
    # The edges by source, each source's in edge-list order: a stable sort, as a sort of
    # unique keys, since numpy's default sort of int64 is the faster (at 100k: 40 -> 20 ms).
    order = np.argsort(src * len(src) + np.arange(len(src)))
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_nodes), out=indptr[1:])
    entity_keys = rows.entity_keys.tolist()
    return EntityChunkGraph(
        entity_keys, chunk_ids, NodeIndex(rows.names.entities, node_of, entity_keys),
        NodeIndex(rows.names.chunks, number, chunk_ids),
        src, dst, transition, counts, out_weight, indptr, dst[order], transition[order], np.diff(indptr), idf, rows,
    )


class NodeIndex(Mapping[str, int]):
    """Key -> node number, through the ids the rows give keys (`Names`) and this graph's
    number of each id, instead of a dict of every key built anew for every graph (at 100k
    entities 30-45 ms a graph, touching every key string: a third of a catch-up). The ids
    only grow, and a key given one after this graph was derived is not in it."""

    def __init__(self, ids: Mapping[str, int], number: np.ndarray, keys: list[str]) -> None:
        self._ids = ids
        self._number = number  # id -> node, -1: not in this graph
        self._keys = keys  # node -> key

    def __getitem__(self, key: str) -> int:
        node = self.get(key)
        if node is None:
            raise KeyError(key)
        return node

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        i = self._ids.get(key)
        if i is None or i >= len(self._number) or self._number[i] < 0:
            return default
        return int(self._number[i])

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _idf(counts: np.ndarray, n_chunks: int) -> np.ndarray:
    """log(1 + N/n) / log(1 + N) per entity found in n of N chunks: 1 for a name found once,
    falling towards 0 for one found everywhere."""
    n = max(n_chunks, 1)
    return np.log1p(n / np.maximum(counts, 1.0)) / math.log1p(n)
