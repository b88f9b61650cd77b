"""The planned, overlapping writer of the Neo4j store (graphrag/stores/neo4j_bulk_write.py):
batches in flight together never lock one node, every row is written once, and a write with
several transactions in flight leaves exactly the graph that one after the other leaves."""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations
from typing import Any

import pytest
from neo4j.exceptions import Neo4jError, ServiceUnavailable

from graphrag.models import Entity, Relation, relation_key
from graphrag.stores import neo4j_bulk_write as bulk
from graphrag.stores.neo4j_bulk_write import DEADLOCK, _tournament, plan_writes, run_lane
from graphrag.stores.neo4j_graph import Neo4jGraphStore

from .test_graph_store_contract import chunk, doc


def relation_rows(n_nodes: int, n_rows: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n_rows):
        a, b = rng.sample(range(n_nodes), 2)
        rows.append({"key": relation_key(f"n{a}", f"n{b}"), "source": f"n{a}", "target": f"n{b}"})
    return rows


def endpoints(row: dict[str, Any]) -> tuple[str, str]:
    return row["source"], row["target"]


def plan_relations(rows: list[dict[str, Any]], batch_size: int, lanes: int) -> list[Any]:
    return plan_writes(rows, row_key=lambda r: r["key"], lock_keys=endpoints, batch_size=batch_size, lanes=lanes)


# --- the plan, no server needed

@pytest.mark.parametrize("colours", [2, 4, 6, 8])
def test_tournament_pairs_every_two_colours_once_and_each_colour_once_a_round(colours: int) -> None:
    rounds = _tournament(colours)
    assert len(rounds) == colours - 1
    assert Counter(p for r in rounds for p in r) == Counter(combinations(range(colours), 2))
    for round_ in rounds:
        assert sorted(c for pair in round_ for c in pair) == list(range(colours))


@pytest.mark.parametrize("lanes", [2, 3])
def test_lanes_of_a_round_never_share_a_node(lanes: int) -> None:
    rows = relation_rows(300, 2000)
    plan = plan_relations(rows, batch_size=50, lanes=lanes)
    assert max(len(round_) for round_ in plan) > 1  # this data does overlap
    for round_ in plan:
        nodes = [{k for batch in lane for row in batch for k in endpoints(row)} for lane in round_]
        for a, b in combinations(nodes, 2):
            assert not a & b


def test_every_row_once_the_last_of_a_key_in_sorted_batches() -> None:
    rows = relation_rows(300, 2000)
    last = {r["key"]: r for r in rows}
    rows.append({**rows[0], "target": rows[0]["source"], "source": rows[0]["target"]})  # same key, flipped
    last[rows[0]["key"]] = rows[-1]
    plan = plan_relations(rows, batch_size=64, lanes=2)
    written = [row for round_ in plan for lane in round_ for batch in lane for row in batch]
    assert len(written) == len(last)
    assert {r["key"]: r for r in written} == last
    for round_ in plan:
        for lane in round_:
            for batch in lane:
                assert 0 < len(batch) <= 64
                assert [r["key"] for r in batch] == sorted(r["key"] for r in batch)


def test_nothing_to_overlap_costs_the_serial_round_trips() -> None:
    hub = [{"key": relation_key("hub", f"n{i}"), "source": "hub", "target": f"n{i}"} for i in range(2500)]
    plan = plan_relations(hub, batch_size=1000, lanes=2)
    assert [[len(b) for b in lane] for round_ in plan for lane in round_] == [[1000, 1000, 500]]
    small = relation_rows(300, 900)
    assert len(plan_relations(small, batch_size=1000, lanes=2)) == 1  # one batch: nothing to overlap
    assert len(plan_relations(relation_rows(300, 2000), batch_size=100, lanes=1)) == 1


def test_rows_without_lock_keys_are_placed_by_their_own_key() -> None:
    rows = [{"key": f"e{i}", "source_ids": []} for i in range(500)]
    plan = plan_writes(rows, row_key=lambda r: r["key"], lock_keys=lambda r: r["source_ids"], batch_size=50, lanes=2)
    assert sorted(r["key"] for round_ in plan for lane in round_ for b in lane for r in b) == sorted(
        r["key"] for r in rows)


class _FakeTx:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures

    def run(self, *args: Any, **kwargs: Any) -> None:
        if self.failures:
            raise self.failures.pop(0)


class _FakeSession:
    """execute_write as the driver's: a non-Neo4j error leaves at once, a transient one is
    retried (counted here as a slow retry)."""

    def __init__(self, failures: list[Exception]) -> None:
        self.tx = _FakeTx(failures)
        self.committed: list[Any] = []
        self.driver_retries = 0

    def execute_write(self, work: Any, batch: Any) -> None:
        while True:
            try:
                work(self.tx, batch)
            except Neo4jError as e:
                if not e.is_retryable():
                    raise
                self.driver_retries += 1
                continue
            self.committed.append(batch)
            return


def _error(code: str) -> Neo4jError:
    return Neo4jError._hydrate_neo4j(code=code, message="forced by the test")


def test_a_lost_deadlock_is_run_again_at_once_not_after_the_drivers_backoff() -> None:
    session = _FakeSession([_error(DEADLOCK), _error(DEADLOCK)])
    lost = run_lane(session, lambda tx, batch: tx.run("q", rows=batch), [["a"], ["b"]])  # type: ignore[arg-type]
    assert lost == 2 and session.committed == [["a"], ["b"]] and session.driver_retries == 0


def test_other_errors_keep_the_drivers_handling() -> None:
    session = _FakeSession([_error("Neo.TransientError.General.MemoryPoolOutOfMemoryError")])
    assert run_lane(session, lambda tx, batch: tx.run("q"), [["a"]]) == 0  # type: ignore[arg-type]
    assert session.committed == [["a"]] and session.driver_retries == 1
    session = _FakeSession([_error("Neo.ClientError.Statement.SyntaxError")])
    with pytest.raises(Neo4jError):
        run_lane(session, lambda tx, batch: tx.run("q"), [["a"]])  # type: ignore[arg-type]


def test_a_query_cut_off_is_written_batch_by_batch() -> None:
    class CutOff(_FakeSession):
        def run(self, *args: Any, **kwargs: Any) -> Any:
            raise ServiceUnavailable("connection dropped")

    session = CutOff([])
    plan = [[[["a"], ["b"]]], [[["c"]], [["d"]]]]
    bulk.write_plan(session, "UNWIND $rows AS row RETURN row", plan, lambda tx, batch: None, {}, 2)  # type: ignore[arg-type]
    assert session.committed == [["a"], ["b"], ["c"], ["d"]]


# --- on the test server

def snapshot(store: Neo4jGraphStore) -> tuple[list[Any], list[Any]]:
    """The workspace as the Browser shows it, without element ids or the workspace name."""
    records, _, _ = store._driver.execute_query(
        "MATCH (n {workspace: $ws}) RETURN labels(n) AS labels, properties(n) AS p", ws=store.namespace)
    nodes = sorted((sorted(r["labels"]), sorted((k, repr(v)) for k, v in r["p"].items() if k != "workspace"))
                   for r in records)
    records, _, _ = store._driver.execute_query(
        "MATCH (a {workspace: $ws})-[r]->(b) RETURN type(r) AS t, coalesce(a.key, a.id) AS a, "
        "coalesce(b.key, b.id) AS b, properties(r) AS p", ws=store.namespace)
    rels = sorted((r["t"], r["a"], r["b"], sorted((k, repr(v)) for k, v in r["p"].items() if k != "workspace"))
                  for r in records)
    return nodes, rels


def graph_data(seed: int, n_entities: int = 120, n_relations: int = 400) -> tuple[list[Entity], list[Relation]]:
    """Entities over shared chunks, relations with hubs (every tenth relation touches n0) and
    both directions of a pair in one call."""
    rng = random.Random(seed)
    entities = [
        Entity(key=f"n{i}", name=f"N{i}", type=rng.choice(["PERSON", "PLACE", "THING"]),
               description=f"n{i} seed {seed}", source_ids=tuple(rng.sample([f"c{j}" for j in range(30)], 1 + i % 4)))
        for i in range(n_entities)
    ]
    relations: dict[str, Relation] = {}
    for i in range(n_relations):
        a = 0 if i % 10 == 0 else rng.randrange(n_entities)
        b = rng.randrange(n_entities)
        if a == b:
            continue
        key = relation_key(f"n{a}", f"n{b}")
        relations[key] = Relation(key=key, source=f"n{a}", target=f"n{b}", description=f"{a}-{b} seed {seed}",
                                  keywords=("k",), weight=float(i % 7), source_ids=(f"c{i % 30}",))
    return entities, list(relations.values())


def write(store: Neo4jGraphStore, seed: int) -> None:
    entities, relations = graph_data(seed)
    store.upsert_entities(entities)
    store.upsert_relations(relations)
    flipped = [Relation(key=r.key, source=r.target, target=r.source, description=r.description,
                        keywords=r.keywords, weight=r.weight, source_ids=r.source_ids) for r in relations[::5]]
    store.upsert_relations(flipped)


@pytest.mark.neo4j
def test_overlapping_writes_leave_the_graph_of_serial_writes(open_store: Any) -> None:
    stores = [open_store(batch_size=9, write_concurrency=n) for n in (1, 2, 3)]
    for store in stores:
        store.upsert_documents([doc("d1")])
        store.upsert_chunks([chunk(f"c{j}", "d1", j) for j in range(30)])
        write(store, seed=1)
        write(store, seed=2)  # updates: new sources, new types, new directions, more relations
    serial = snapshot(stores[0])
    assert serial[1] and any(t == "MENTIONS" for t, *_ in serial[1])
    for store in stores[1:]:
        assert snapshot(store) == serial


@pytest.mark.neo4j
def test_a_batch_that_failed_in_the_one_query_is_run_again(open_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    original = bulk._in_transactions
    queries: list[str] = []

    def failing_first_batch(body: str, concurrent: int) -> str:
        query = original(body, concurrent)
        if not queries:  # the first query only: its batch 0 fails (a runtime error, as a lost deadlock is)
            query = query.replace("CALL (batch_index) {", "CALL (batch_index) {\nWITH batch_index "
                                  "WHERE CASE WHEN batch_index = 0 THEN 1 / batch_index ELSE 1 END = 1", 1)
        queries.append(query)
        return query

    monkeypatch.setattr(bulk, "_in_transactions", failing_first_batch)
    store, reference = open_store(batch_size=9, write_concurrency=2), open_store(batch_size=9, write_concurrency=1)
    for s in (store, reference):
        s.upsert_chunks([chunk(f"c{j}", "d1", j) for j in range(30)])
        write(s, seed=4)
    assert queries and snapshot(store) == snapshot(reference)
