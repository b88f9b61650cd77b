"""Upsert throughput into Neo4j: our batched writer vs one MERGE transaction per row.

    NEO4J_TEST_FULL_JIT=1 scripts/neo4j-test-server start    # JIT as in production
    .venv/bin/python bench/neo4j_upsert.py --entities 2000 --relations 4000 --runs 3

The batched side is Neo4jGraphStore (UNWIND $rows AS row MERGE ..., `--batch-size` rows per
transaction, up to `--write-concurrency` transactions in flight; the GRAPHRAG_NEO4J_BATCH_SIZE
and GRAPHRAG_NEO4J_WRITE_CONCURRENCY defaults unless given), checking every relation's
endpoints first. The per-row side is what LightRAG's Neo4j storage does: a managed write
transaction per entity and per relation, each a parameterized MERGE against the same indexes,
with the same pinned index seeks (so the difference is round trips and commits, not query
plans); it writes less per row (no MENTIONS, aliases or degrees), which favours it. Both
sides warm up first (JIT, page cache, query plans), then run `--runs` times alternately, each
run into a fresh workspace dropped afterwards, so a change of machine load hits both; it
prints the ratio of the medians and the median of each run's own ratio. The machine's load
average is printed with the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import neo4j

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphrag.models import Entity, Relation, relation_key  # noqa: E402
from graphrag.settings import Settings  # noqa: E402
from graphrag.stores.neo4j_graph import Neo4jGraphStore, type_label  # noqa: E402

TYPES = ["PERSON", "ORGANIZATION", "LOCATION", "EVENT", "CONCEPT"]

PER_ROW_ENTITY = """
MERGE (e:Entity {workspace: $ws, key: $key})
SET e.name = $name, e.type = $type, e.description = $description, e.source_ids = $source_ids
SET e:$($label)
"""

PER_ROW_RELATION = """
MATCH (s:Entity {workspace: $ws, key: $source})
USING INDEX SEEK s:Entity(workspace, key)
MATCH (t:Entity {workspace: $ws, key: $target})
USING INDEX SEEK t:Entity(workspace, key)
MERGE (s)-[r:RELATED {workspace: $ws, key: $key}]->(t)
SET r.description = $description, r.keywords = $keywords, r.weight = $weight, r.source_ids = $source_ids
"""


def make_data(n_entities: int, n_relations: int, seed: int = 7) -> tuple[list[Entity], list[Relation]]:
    rng = random.Random(seed)
    entities = [
        Entity(key=f"entity {i}", name=f"Entity {i}", type=TYPES[i % len(TYPES)],
               description=f"description of entity {i} " * 3, source_ids=(f"chunk-{i % 997}", f"chunk-{i % 991}"))
        for i in range(n_entities)
    ]
    pairs: set[tuple[str, str]] = set()
    max_pairs = n_entities * (n_entities - 1) // 2
    while len(pairs) < min(n_relations, max_pairs):
        a, b = rng.sample(range(n_entities), 2)
        pairs.add(tuple(sorted((f"entity {a}", f"entity {b}"))))  # type: ignore[arg-type]
    relations = [
        Relation(key=relation_key(a, b), source=a, target=b, description=f"{a} relates to {b}",
                 keywords=("works with", "knows"), weight=round(rng.uniform(0.5, 5.0), 2), source_ids=("chunk-1",))
        for a, b in sorted(pairs)
    ]
    return entities, relations


def batched(uri: str, entities: list[Entity], relations: list[Relation], batch_size: int,
            concurrency: int) -> tuple[float, float]:
    store = Neo4jGraphStore(uri, namespace=f"bench-batched-{uuid.uuid4().hex[:8]}", batch_size=batch_size,
                            write_concurrency=concurrency)
    try:
        start = time.perf_counter()
        store.upsert_entities(entities)
        store.upsert_relations(relations)
        first = time.perf_counter() - start
        start = time.perf_counter()  # the same batch again: idempotent, changes nothing
        store.upsert_entities(entities)
        store.upsert_relations(relations)
        again = time.perf_counter() - start
        stats = store.stats()
        assert (stats.entities, stats.relations) == (len(entities), len(relations)), stats
        return first, again
    finally:
        store.drop_namespace()
        store.close()


def per_row(uri: str, entities: list[Entity], relations: list[Relation]) -> float:
    store = Neo4jGraphStore(uri, namespace=f"bench-per-row-{uuid.uuid4().hex[:8]}")
    ws = store.namespace
    try:
        start = time.perf_counter()
        with store._driver.session(database=store.database) as session:
            for e in entities:
                session.execute_write(
                    lambda tx, e=e: tx.run(PER_ROW_ENTITY, ws=ws, key=e.key, name=e.name, type=e.type,
                                           description=e.description, source_ids=list(e.source_ids),
                                           label=type_label(e.type)).consume()
                )
            for r in relations:
                session.execute_write(
                    lambda tx, r=r: tx.run(PER_ROW_RELATION, ws=ws, key=r.key, source=r.source, target=r.target,
                                           description=r.description, keywords=list(r.keywords),
                                           weight=r.weight, source_ids=list(r.source_ids)).consume()
                )
        elapsed = time.perf_counter() - start
        stats = store.stats()
        assert (stats.entities, stats.relations) == (len(entities), len(relations)), stats
        return elapsed
    finally:
        store.drop_namespace()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default=os.environ.get("GRAPHRAG_TEST_NEO4J_URI", "bolt://127.0.0.1:7687"))
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--relations", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=Settings.model_fields["neo4j_batch_size"].default)
    parser.add_argument("--write-concurrency", type=int,
                        default=Settings.model_fields["neo4j_write_concurrency"].default)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side, alternating")
    args = parser.parse_args()

    entities, relations = make_data(args.entities, args.relations)
    rows = len(entities) + len(relations)
    accelerated = importlib.util.find_spec("neo4j._rust") is not None
    print(f"neo4j at {args.uri}: {len(entities)} entities + {len(relations)} relations = {rows} rows; "
          f"driver {neo4j.__version__}, Rust extension {'on' if accelerated else 'off'}; "
          f"load average {os.getloadavg()[0]:.1f}")

    # Warm-up, not timed (JIT, page cache, query plans): the batched side on the whole data (its
    # batches are the size it will run), the per-row side on a sample (its statements are one row).
    # A JVM compiles hot code late and in steps, so the batched side warms up three times.
    warm_ups = [batched(args.uri, entities, relations, args.batch_size, args.write_concurrency)[0] for _ in range(3)]
    print("warm-up: batched " + ", ".join(f"{t:.2f} s" for t in warm_ups)
          + " (right after a server start, the first is its first write ever)")
    sample = {e.key for e in entities[:500]}
    per_row(args.uri, entities[:500], [r for r in relations if r.source in sample and r.target in sample])

    firsts, agains, slows = [], [], []
    for run in range(max(1, args.runs)):
        first, again = batched(args.uri, entities, relations, args.batch_size, args.write_concurrency)
        slow = per_row(args.uri, entities, relations)
        firsts.append(first)
        agains.append(again)
        slows.append(slow)
        print(f"run {run + 1}: batched {first:.2f} s (re-run, no changes: {again:.2f} s), per-row {slow:.2f} s, "
              f"load average {os.getloadavg()[0]:.1f}")
    first, again, slow = (statistics.median(v) for v in (firsts, agains, slows))
    paired = statistics.median(s / f for s, f in zip(slows, firsts))
    print(f"batched (UNWIND, {args.batch_size} rows/tx, {args.write_concurrency} in flight): {first:8.2f} s  {rows / first:10.0f} rows/s"
          f"   (re-run, no changes: {again:.2f} s, {rows / again:.0f} rows/s)")
    print(f"per-row (one MERGE tx per row):     {slow:8.2f} s  {rows / slow:10.0f} rows/s")
    print(f"batched is {slow / first:.1f}x faster (ratio of the medians; median of the runs' own ratios "
          f"{paired:.1f}x)")


if __name__ == "__main__":
    main()
