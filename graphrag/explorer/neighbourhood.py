"""An entity's neighbourhood for a viewer, sampled by relation weight.

A hub can have thousands of neighbours; drawing them all helps nobody. Level by level, the
neighbours of the entities kept so far compete by the weight of their strongest relation to
them; the strongest fill the `limit`, the rest are counted (`omitted`) so the page can say
what it left out. Only the store protocol is used (`neighbor_weights`, `degrees`,
`subgraph`): one round trip per level on Neo4j, and the cost follows the neighbourhood,
not the graph: a level reads its frontier's neighbour weights, never the bodies of the
relations it will not draw.
"""

from __future__ import annotations

import heapq
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
    degrees = graph.degrees(wanted)
    levels: dict[str, int] = {k: 0 for k in wanted if k in degrees}
    left_out: set[str] = set()
    frontier = list(levels)
    for level in range(1, max(depth, 0) + 1):
        if not frontier:
            break
        # Weights only: a hub's thousands of relation bodies are never read, just the few drawn.
        weights = graph.neighbor_weights(frontier)
        best: dict[str, float] = {}
        for node in frontier:
            for other, weight in weights.get(node, {}).items():
                if other not in levels and weight > best.get(other, float("-inf")):
                    best[other] = weight
        room = max(limit - len(levels), 0)
        chosen = [k for _, k in heapq.nsmallest(room, ((-w, k) for k, w in best.items()))]
        left_out.update(best.keys() - set(chosen))
        for key in chosen:
            levels[key] = level
        frontier = chosen
    left_out.difference_update(levels)
    found, among = graph.subgraph(list(levels), depth=0, limit=len(levels)) if levels else ([], [])
    entities = {e.key: e for e in found}
    degrees.update(graph.degrees([k for k in levels if k not in degrees]))
    drawn: dict[str, int] = {k: 0 for k in levels}
    for r in among:
        drawn[r.source] += 1
        if r.target != r.source:
            drawn[r.target] += 1
    ordered = sorted(among, key=lambda r: (-r.weight, r.key))
    return Neighbourhood(
        entities=[entities[k] for k in levels if k in entities],
        relations=ordered,
        degrees={k: degrees[k] for k in levels if k in degrees},
        levels=levels,
        omitted=len(left_out),
        hidden={k: max(degrees.get(k, 0) - drawn[k], 0) for k in levels},
    )
