"""An entity's neighbourhood for a viewer, sampled by relation weight.

A hub can have thousands of neighbours; drawing them all helps nobody. Level by level, the
neighbours of the entities kept so far compete by the weight of their strongest relation to
them; the strongest fill the `limit`, the rest are counted (`omitted`) so the page can say
what it left out. Only the store protocol is used (`neighbors`, `degrees`, `get_entities`):
one round trip per level on Neo4j, and the cost follows the neighbourhood, not the graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from graphrag.models import Entity, Relation
from graphrag.stores.base import GraphStore


@dataclass
class Neighbourhood:
    entities: list[Entity]
    relations: list[Relation]
    degrees: dict[str, int]
    levels: dict[str, int]  # hops from the nearest centre
    omitted: int = 0  # neighbours within the depth that were left out (the weakest)
    hidden: dict[str, int] = field(default_factory=dict)  # per entity: relations not drawn


def sample_neighbourhood(graph: GraphStore, centres: Iterable[str], depth: int = 1, limit: int = 100) -> Neighbourhood:
    """The `centres` (entity keys; unknown keys are ignored), then up to `limit` entities in
    all within `depth` hops, strongest relations first, and every relation among them."""
    wanted = list(dict.fromkeys(centres))
    found = graph.get_entities(wanted)
    levels: dict[str, int] = {k: 0 for k in wanted if k in found}
    incident: dict[str, list[Relation]] = {}
    left_out: set[str] = set()
    frontier = list(levels)
    for level in range(1, max(depth, 0) + 1):
        if not frontier:
            break
        incident.update(graph.neighbors(frontier))
        best: dict[str, float] = {}
        for node in frontier:
            for r in incident.get(node, ()):
                other = r.target if r.source == node else r.source
                if other not in levels:
                    best[other] = max(best.get(other, float("-inf")), r.weight)
        room = max(limit - len(levels), 0)
        ranked = sorted(best, key=lambda k: (-best[k], k))
        chosen, dropped = ranked[:room], ranked[room:]
        left_out.update(dropped)
        for key in chosen:
            levels[key] = level
        frontier = chosen
    missing = [k for k in levels if k not in incident]
    if missing:
        incident.update(graph.neighbors(missing))
    left_out.difference_update(levels)
    relations: dict[str, Relation] = {}
    for node in levels:
        for r in incident.get(node, ()):
            if r.source in levels and r.target in levels:
                relations.setdefault(r.key, r)
    entities = graph.get_entities([k for k in levels if k not in found])
    entities.update(found)
    degrees = graph.degrees(list(levels))
    drawn: dict[str, int] = {k: 0 for k in levels}
    for r in relations.values():
        drawn[r.source] += 1
        drawn[r.target] += 1
    ordered = sorted(relations.values(), key=lambda r: (-r.weight, r.key))
    return Neighbourhood(
        entities=[entities[k] for k in levels if k in entities],
        relations=ordered,
        degrees=degrees,
        levels=levels,
        omitted=len(left_out),
        hidden={k: max(degrees.get(k, 0) - drawn[k], 0) for k in levels},
    )
