"""Latency of the explorer's reads on a large synthetic NetworkX graph: entity search (a
name, a word of descriptions, nothing: the most connected) and a hub's neighbourhood
sampled by weight. Builds the graph in memory (no indexing), so it takes seconds.

    .venv/bin/python bench/explore_latency.py --entities 100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphrag.explorer.neighbourhood import sample_neighbourhood  # noqa: E402
from graphrag.explorer.search import search_entities  # noqa: E402
from graphrag.models import Entity, Relation, relation_key  # noqa: E402
from graphrag.stores.networkx_graph import NetworkXGraphStore  # noqa: E402

TYPES = ["PERSON", "LOCATION", "ORGANIZATION", "EVENT", "CONCEPT"]


def build(n: int, per_entity: int, seed: int = 7) -> NetworkXGraphStore:
    rng = random.Random(seed)
    store = NetworkXGraphStore(None)
    entities = [Entity(key=f"entity {i}", name=f"Entity {i}", type=TYPES[i % len(TYPES)],
                       description=f"Entity {i} is mentioned with word{i % 997} in chunk {i}.", source_ids=(f"c{i}",))
                for i in range(n)]
    store.upsert_entities(entities)
    relations: dict[str, Relation] = {}
    for i in range(n):
        for _ in range(per_entity):
            j = 0 if rng.random() < 0.05 else rng.randrange(n)  # entity 0 is a hub
            if j == i:
                continue
            key = relation_key(f"entity {i}", f"entity {j}")
            relations[key] = Relation(key=key, source=f"entity {i}", target=f"entity {j}", description="",
                                      keywords=("related",), weight=rng.uniform(0.5, 10), source_ids=(f"c{i}",))
    store.upsert_relations(list(relations.values()))
    return store


def p50(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--relations-per-entity", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    store = build(args.entities, args.relations_per_entity)
    rag = SimpleNamespace(graph=store)  # what search_entities reads on NetworkX
    print(f"built {store.stats().entities:,} entities, {store.stats().relations:,} relations "
          f"in {time.perf_counter() - start:.1f} s; hub degree {store.degrees(['entity 0'])['entity 0']:,}")
    start = time.perf_counter()
    search_entities(rag, "entity 7", None, 30)
    print(f"first search (builds the store's text view, kept until an entity changes): "
          f"{(time.perf_counter() - start) * 1000:.0f} ms")
    cases = {
        "search name 'entity 4242'": lambda: search_entities(rag, "entity 4242", None, 30),
        "search description 'word17'": lambda: search_entities(rag, "word17", None, 30),
        "search type filter, no words": lambda: search_entities(rag, "", "person", 30),
        "hub neighbourhood depth 1, limit 60": lambda: sample_neighbourhood(store, ["entity 0"], 1, 60),
        "hub neighbourhood depth 2, limit 200": lambda: sample_neighbourhood(store, ["entity 0"], 2, 200),
        "ordinary entity depth 2, limit 60": lambda: sample_neighbourhood(store, ["entity 4242"], 2, 60),
    }
    for name, fn in cases.items():
        print(f"{name:40s} p50 {p50(fn, args.repeat):8.1f} ms")


if __name__ == "__main__":
    main()
