"""The rows an entity–chunk graph is derived from, kept beside it so that an update replaces
only the rows it wrote.

`EntityChunkGraph` (ppr_graph.py) is derived, all in numpy, from three things: the entities
in order, the chunks each entity was extracted from, and the relations between entities.
Reading those out of a store is most of the cost of a build (at 100k entities, 2.8 of
5.8 s iterating 342k relations). `EntityChunkRows.updated` takes the rows of the keys an
update wrote and splices them into the arrays in key order, the order in which every
GraphStore iterates, so the graph derived from the result is the one a fresh build from the
store would give: the same node numbers, edges in the same order, the same floats.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice

import numpy as np

from graphrag.models import Entity, Relation


@dataclass
class Names:
    """Ids for entity keys and chunk ids, given once and never reused: the rows refer to
    entities and chunks by id, which stays put while node numbers are laid out anew (a
    deleted entity that comes back gets its old id). Only grows, and only under the lock
    of whoever updates the rows; a graph derived earlier looks keys up in it
    (`ppr_graph.NodeIndex`), where a key given an id since is past its numbers."""

    entities: dict[str, int]
    chunks: dict[str, int]
    chunk_ids: list[str]  # id -> chunk id

    def entity(self, key: str) -> int:
        return self.entities.setdefault(key, len(self.entities))

    def chunk(self, chunk_id: str) -> int:
        i = self.chunks.get(chunk_id)
        if i is None:
            i = self.chunks[chunk_id] = len(self.chunk_ids)
            self.chunk_ids.append(chunk_id)
        return i


@dataclass(frozen=True)
class EntityChunkRows:
    """Entities in build order with the chunks each names; relations between two distinct
    entities of the rows (a store holds no other kind; others never make an edge).
    Treated as immutable: `updated` returns new arrays."""

    entity_keys: np.ndarray  # object
    entity_ids: np.ndarray  # int64, ids in names.entities
    # The chunks of entity i, its source_ids without repeats, in order, as ids in names.chunks:
    # mention_chunk[mention_ptr[i]:mention_ptr[i + 1]].
    mention_ptr: np.ndarray  # int64, len(entity_keys) + 1
    mention_chunk: np.ndarray  # int64
    relation_keys: np.ndarray  # object
    relation_source: np.ndarray  # int64 entity ids
    relation_target: np.ndarray  # int64 entity ids
    # Repeated co-occurrence strengthens a link, with diminishing returns: 1 + log(max(w, 1)),
    # by math.log, row by row, so a row weighs the same however it arrived.
    relation_strength: np.ndarray  # float64
    names: Names
    hub_discount: bool
    # Both key lists strictly increasing, as a store iterates them: only then does a splice
    # in key order give what a fresh build gives.
    in_key_order: bool

    @classmethod
    def read(cls, entities: Iterable[Entity], relations: Iterable[Relation], *, hub_discount: bool = True) -> "EntityChunkRows":
        """The rows of `entities` (a repeated key: the first one) and of the `relations`
        between two distinct ones among them, in the order given."""
        names = Names({}, {}, [])
        keys: list[str] = []
        lengths: list[int] = []
        chunks: list[int] = []
        for entity in entities:
            if entity.key in names.entities:
                continue
            names.entities[entity.key] = len(keys)
            keys.append(entity.key)
            start = len(chunks)
            chunks.extend(map(names.chunk, dict.fromkeys(entity.source_ids)))
            lengths.append(len(chunks) - start)
        index = names.entities
        relation_keys: list[str] = []
        ends: list[int] = []
        strengths: list[float] = []
        for relation in relations:
            u = index.get(relation.source)
            v = index.get(relation.target)
            if u is None or v is None or u == v:
                continue
            relation_keys.append(relation.key)
            ends += (u, v)
            strengths.append(_strength(relation))
        pairs = np.asarray(ends, dtype=np.int64).reshape(-1, 2)
        return cls(
            _objects(keys), np.arange(len(keys), dtype=np.int64), _ptr(lengths), np.asarray(chunks, dtype=np.int64),
            _objects(relation_keys), pairs[:, 0].copy(), pairs[:, 1].copy(), np.asarray(strengths, dtype=np.float64),
            names, hub_discount, _increasing(keys) and _increasing(relation_keys),
        )

    def updated(
        self,
        entity_keys: Collection[str],
        entities: Mapping[str, Entity],
        relation_keys: Collection[str],
        relations: Mapping[str, Relation],
    ) -> "EntityChunkRows":
        """These rows with those of `entity_keys` and `relation_keys` replaced by the live
        rows in `entities` / `relations`; a key missing there was deleted, and so are the
        relations of a deleted entity (a store drops them with it). Needs `in_key_order`."""
        assert self.in_key_order, "a splice in key order needs rows in key order"
        changed = sorted(entity_keys)
        live = [entities[k] for k in changed if k in entities]
        keys, ids, ptr, chunks = self._spliced_entities(_objects(changed), live)
        alive = np.zeros(len(self.names.entities), dtype=bool)
        alive[ids] = True
        return EntityChunkRows(
            keys, ids, ptr, chunks, *self._spliced_relations(sorted(relation_keys), relations, alive),
            self.names, self.hub_discount, True,
        )

    def _spliced_entities(self, changed: np.ndarray, live: list[Entity]) -> tuple[np.ndarray, ...]:
        """Keys, ids, mention_ptr and mention_chunk with the rows of `changed` (sorted)
        replaced by `live` (in key order)."""
        names = self.names
        keep = np.ones(len(self.entity_keys), dtype=bool)
        keep[_found(self.entity_keys, changed)] = False
        new_keys = _objects([e.key for e in live])
        new_ids = np.fromiter((names.entity(e.key) for e in live), dtype=np.int64, count=len(live))
        new_lengths: list[int] = []
        new_chunks: list[int] = []
        for e in live:
            start = len(new_chunks)
            new_chunks.extend(map(names.chunk, dict.fromkeys(e.source_ids)))
            new_lengths.append(len(new_chunks) - start)
        # Each new row goes before the first kept row whose key is above its own.
        kept_before = np.concatenate(([0], np.cumsum(keep)))
        at = kept_before[np.searchsorted(self.entity_keys, new_keys)]
        n_old = len(self.entity_keys)
        origin = np.insert(np.flatnonzero(keep), at, n_old + np.arange(len(live)))  # below n_old: an old row
        # The chunk lists of the rows in their new order, gathered from the old and new lists.
        lengths = np.concatenate((np.diff(self.mention_ptr), np.asarray(new_lengths, dtype=np.int64)))[origin]
        starts = np.concatenate((self.mention_ptr[:-1], len(self.mention_chunk) + _ptr(new_lengths)[:-1]))[origin]
        pool = np.concatenate((self.mention_chunk, np.asarray(new_chunks, dtype=np.int64)))
        ptr = _ptr(lengths)
        chunks = pool[np.repeat(starts - ptr[:-1], lengths) + np.arange(ptr[-1])]
        keys = np.insert(self.entity_keys[keep], at, new_keys)
        return keys, np.concatenate((self.entity_ids, new_ids))[origin], ptr, chunks

    def _spliced_relations(
        self, changed: list[str], relations: Mapping[str, Relation], alive: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """Keys, sources, targets and strengths without the `changed` rows (sorted) and
        those whose entities are no longer `alive` (a mask over entity ids), with the live
        rows of `changed` between alive entities in key order."""
        drop = ~alive[self.relation_source] | ~alive[self.relation_target]
        drop[_found(self.relation_keys, _objects(changed))] = True
        rows = []
        for key in changed:
            r = relations.get(key)
            if r is None:
                continue
            u, v = self.names.entities.get(r.source), self.names.entities.get(r.target)
            if u is None or v is None or u == v or not (alive[u] and alive[v]):
                continue  # no edge in a fresh build either
            rows.append((key, u, v, _strength(r)))
        keys, sources, targets, strengths = (list(c) for c in zip(*rows)) if rows else ([], [], [], [])
        kept = ~drop
        kept_keys = self.relation_keys[kept]
        at = np.searchsorted(kept_keys, _objects(keys))
        return (
            np.insert(kept_keys, at, _objects(keys)),
            np.insert(self.relation_source[kept], at, np.asarray(sources, dtype=np.int64)),
            np.insert(self.relation_target[kept], at, np.asarray(targets, dtype=np.int64)),
            np.insert(self.relation_strength[kept], at, np.asarray(strengths, dtype=np.float64)),
        )

    def ids_given(self) -> int:
        """Ids given so far to entities and chunks, live or not (see `Names`)."""
        return len(self.names.entities) + len(self.names.chunk_ids)


def _strength(relation: Relation) -> float:
    return 1.0 + math.log(max(relation.weight, 1.0))


def _objects(values: list[str]) -> np.ndarray:
    """A 1-d object array of strings (np.asarray would make fixed-width unicode)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _ptr(lengths: Iterable[int] | np.ndarray) -> np.ndarray:
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _found(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions in `sorted_keys` of those of `keys` (sorted) that it holds."""
    at = np.searchsorted(sorted_keys, keys)
    inside = at < len(sorted_keys)
    at = at[inside]
    return at[sorted_keys[at] == keys[inside]]


def _increasing(keys: list[str]) -> bool:
    return all(map(operator.lt, keys, islice(keys, 1, None)))
