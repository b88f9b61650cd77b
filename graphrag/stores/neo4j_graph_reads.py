"""The reads of Neo4jGraphStore (entities, relations, neighbourhoods, stats): each answers
a whole list of keys in one round trip. Split from the writes to keep both readable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import neo4j

from graphrag.models import Alias, Entity, Relation
from graphrag.stores import neo4j_queries as Q
from graphrag.stores.base import GraphStats


def _by_weight(relation: Relation) -> tuple[float, str]:
    return (-relation.weight, relation.key)


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _entity(r: Any) -> Entity:
    aliases = tuple(
        Alias(name, tuple(ids.split()))
        for name, ids in zip(r["aliases"] or (), r["alias_sources"] or ())
    )
    return Entity(key=r["key"], name=r["name"], type=r["type"], description=r["description"],
                  source_ids=tuple(r["source_ids"] or ()), aliases=aliases)


def _relation(r: Any) -> Relation:
    return Relation(key=r["key"], source=r["source"], target=r["target"], description=r["description"],
                    keywords=tuple(r["keywords"] or ()), weight=float(r["weight"]),
                    source_ids=tuple(r["source_ids"] or ()))


class Neo4jGraphReads:
    """Mixed into Neo4jGraphStore, which provides `_read` and `batch_size`."""

    batch_size: int

    def _read(self, query: str, action: str, **params: Any) -> list[neo4j.Record]:
        raise NotImplementedError

    def _rows(self, query: str, action: str, **params: Any) -> list[dict[str, Any]]:
        """The rows of a read that returns them as one list (see neo4j_queries)."""
        (record,) = self._read(query, action, **params)
        return record["rows"]

    def get_entities(self, keys: Iterable[str]) -> dict[str, Entity]:
        keys = _unique(keys)
        if not keys:
            return {}
        found = {r["key"]: _entity(r) for r in self._rows(Q.GET_ENTITIES, "reading entities", keys=keys)}
        return {k: found[k] for k in keys if k in found}

    def get_relations(self, keys: Iterable[str]) -> dict[str, Relation]:
        keys = _unique(keys)
        if not keys:
            return {}
        found = {r["key"]: _relation(r) for r in self._rows(Q.GET_RELATIONS, "reading relations", keys=keys)}
        return {k: found[k] for k in keys if k in found}

    def degrees(self, keys: Iterable[str]) -> dict[str, int]:
        """Incident relations per existing entity (a self-loop counts once)."""
        keys = _unique(keys)
        if not keys:
            return {}
        found = {r["key"]: r["degree"] for r in self._rows(Q.DEGREES, "reading degrees", keys=keys)}
        return {k: found[k] for k in keys if k in found}

    def neighbors(self, keys: Iterable[str]) -> dict[str, list[Relation]]:
        """Incident relations of each existing entity, strongest first then by key; one query."""
        keys = _unique(keys)
        if not keys:
            return {}
        incident: dict[str, list[Relation]] = {}
        for r in self._rows(Q.NEIGHBORS, "reading neighbours", keys=keys):
            relations = incident.setdefault(r["entity"], [])
            if r["relation"] is not None:
                relations.append(_relation(r["relation"]))
        for relations in incident.values():
            relations.sort(key=_by_weight)
        return {k: incident[k] for k in keys if k in incident}

    def neighbor_weights(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        keys = _unique(keys)
        if not keys:
            return {}
        weights: dict[str, dict[str, float]] = {}
        for r in self._rows(Q.NEIGHBOR_WEIGHTS, "reading neighbour weights", keys=keys):
            row = weights.setdefault(r["entity"], {})
            if r["other"] is not None:
                row[r["other"]] = float(r["weight"])
        return {k: weights[k] for k in keys if k in weights}

    def subgraph(
        self, keys: Iterable[str], depth: int = 1, limit: int = 500
    ) -> tuple[list[Entity], list[Relation]]:
        """Breadth-first from `keys`, strongest relations first, as NetworkXGraphStore does:
        one neighbours query per level, then the entities and the relations among them."""
        if limit <= 0:
            return [], []
        seeds = _unique(keys)
        existing = self.degrees(seeds)
        seen: dict[str, None] = {}
        for key in seeds:
            if key in existing and len(seen) < limit:
                seen.setdefault(key)
        frontier = list(seen)
        for _ in range(max(depth, 0)):
            if not frontier or len(seen) >= limit:
                break
            incident = self.neighbors(frontier)
            next_frontier: list[str] = []
            for node in frontier:
                if len(seen) >= limit:
                    break
                for relation in incident.get(node, []):
                    other = relation.target if relation.source == node else relation.source
                    if other not in seen and len(seen) < limit:
                        seen[other] = None
                        next_frontier.append(other)
            frontier = next_frontier
        if not seen:
            return [], []
        found = self.get_entities(seen)
        entities = [found[k] for k in seen if k in found]
        relations = [_relation(r) for r in self._rows(Q.RELATIONS_AMONG, "reading a subgraph", keys=list(seen))]
        relations.sort(key=_by_weight)
        return entities, relations

    def iter_entities(self) -> Iterator[Entity]:
        """Key order (Python's), fetched in pages; entities deleted meanwhile are skipped."""
        (record,) = self._read(Q.ENTITY_KEYS, "listing entities")
        keys = sorted(record["keys"])
        for page in _batches(keys, self.batch_size):
            found = self.get_entities(page)
            yield from (found[k] for k in page if k in found)

    def iter_relations(self) -> Iterator[Relation]:
        (record,) = self._read(Q.RELATION_KEYS, "listing relations")
        keys = sorted(record["keys"])
        for page in _batches(keys, self.batch_size):
            found = self.get_relations(page)
            yield from (found[k] for k in page if k in found)

    def stats(self) -> GraphStats:
        (r,) = self._read(Q.STATS, "counting the graph")
        types = Counter({t: n for t, n in r["types"]})
        return GraphStats(
            documents=r["documents"],
            chunks=r["chunks"],
            entities=sum(types.values()),
            relations=r["relations"],
            entity_types=dict(sorted(types.items())),
        )


    def find_entities(self, names: Iterable[str]) -> dict[str, Entity]:
        """Name key -> the entity that has it as its key or as one of its aliases: by key,
        then through the full-text index over alias names (no scan of the workspace)."""
        names = _unique(names)
        found = self.get_entities(names)
        rest = [n for n in names if n not in found and n.strip()]
        if rest:
            phrases = [{"name": n, "query": '"' + n.replace("\\", " ").replace('"', " ") + '"'} for n in rest]
            for r in self._rows(Q.FIND_BY_ALIAS, "finding entities by alias", rows=phrases):
                found.setdefault(r["lookup"], _entity(r))
        return {n: found[n] for n in names if n in found}
