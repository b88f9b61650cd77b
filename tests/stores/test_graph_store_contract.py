"""The GraphStore contract, run against every graph backend in conftest.GRAPH_BACKENDS."""

from __future__ import annotations

import pytest

from graphrag.errors import StoreError
from graphrag.models import Chunk, DocumentRecord, Entity, Relation, relation_key
from graphrag.stores.base import GraphStats, GraphStore

from .conftest import Backend


def ent(key: str, type_: str = "PERSON", description: str = "", sources: tuple[str, ...] = ("c1",)) -> Entity:
    return Entity(key=key, name=key.title(), type=type_, description=description or f"about {key}",
                  source_ids=sources)


def rel(a: str, b: str, weight: float = 1.0, description: str = "") -> Relation:
    return Relation(key=relation_key(a, b), source=a, target=b, description=description or f"{a} and {b}",
                    keywords=("k1", "k2"), weight=weight, source_ids=("c1", "c2"))


def doc(id_: str, source: str = "a.txt") -> DocumentRecord:
    return DocumentRecord(id=id_, source=source, title=source, content_hash=id_, status="processed",
                          n_chunks=2, ingested_at=1.5, timings={"extract": 0.25})


def chunk(id_: str, document_id: str, order: int) -> Chunk:
    return Chunk(id=id_, document_id=document_id, text=f"text {id_}", order=order, n_tokens=3)


def load_triangle(store: GraphStore) -> None:
    store.upsert_entities([ent("a"), ent("b", "ORG"), ent("c", "ORG")])
    store.upsert_relations([rel("a", "b", 3.0), rel("b", "c", 1.0), rel("a", "c", 2.0)])


def snapshot(store: GraphStore) -> tuple[list[Entity], list[Relation], GraphStats]:
    return list(store.iter_entities()), list(store.iter_relations()), store.stats()


def test_implements_the_protocol(graph_store: GraphStore) -> None:
    assert isinstance(graph_store, GraphStore)


def test_same_batch_twice_equals_once(graph_store: GraphStore) -> None:
    load_triangle(graph_store)
    graph_store.upsert_documents([doc("d1")])
    graph_store.upsert_chunks([chunk("c1", "d1", 0)])
    once = snapshot(graph_store)
    load_triangle(graph_store)
    graph_store.upsert_documents([doc("d1")])
    graph_store.upsert_chunks([chunk("c1", "d1", 0)])
    assert snapshot(graph_store) == once
    assert once[2] == GraphStats(documents=1, chunks=1, entities=3, relations=3,
                                 entity_types={"ORG": 2, "PERSON": 1})


def test_upsert_replaces_attributes(graph_store: GraphStore) -> None:
    load_triangle(graph_store)
    graph_store.upsert_entities([ent("a", "LOCATION", "new text", ("c9",))])
    graph_store.upsert_relations([rel("a", "b", 0.5, "rewritten")])
    assert graph_store.get_entities(["a"])["a"] == ent("a", "LOCATION", "new text", ("c9",))
    assert graph_store.get_relations([relation_key("a", "b")])[relation_key("a", "b")] == rel(
        "a", "b", 0.5, "rewritten"
    )
    assert graph_store.degrees(["a"]) == {"a": 2}  # updating an entity keeps its relations


def test_get_returns_only_existing(graph_store: GraphStore) -> None:
    load_triangle(graph_store)
    assert set(graph_store.get_entities(["a", "zzz"])) == {"a"}
    assert set(graph_store.get_relations([relation_key("a", "b"), "x|y"])) == {relation_key("a", "b")}
    assert graph_store.get_entities([]) == {}


def test_relation_keeps_the_direction_it_was_written_with(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([ent("a"), ent("b")])
    graph_store.upsert_relations([rel("b", "a")])
    stored = graph_store.get_relations([relation_key("a", "b")])[relation_key("a", "b")]
    assert (stored.source, stored.target) == ("b", "a")
    assert stored.keywords == ("k1", "k2") and stored.source_ids == ("c1", "c2")


def test_delete_entity_drops_incident_relations(graph_store: GraphStore) -> None:
    load_triangle(graph_store)
    graph_store.delete_entities(["b", "unknown"])
    assert [e.key for e in graph_store.iter_entities()] == ["a", "c"]
    assert [r.key for r in graph_store.iter_relations()] == [relation_key("a", "c")]
    assert graph_store.get_relations([relation_key("a", "b"), relation_key("b", "c")]) == {}
    assert graph_store.degrees(["a", "c"]) == {"a": 1, "c": 1}


def test_delete_relations_keeps_entities(graph_store: GraphStore) -> None:
    load_triangle(graph_store)
    graph_store.delete_relations([relation_key("a", "b"), "no|such"])
    assert len(list(graph_store.iter_entities())) == 3
    assert {r.key for r in graph_store.iter_relations()} == {relation_key("b", "c"), relation_key("a", "c")}
    # A deleted relation can come back.
    graph_store.upsert_relations([rel("a", "b", 3.0)])
    assert graph_store.stats().relations == 3


def test_relation_to_a_missing_entity_is_rejected_whole_batch(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([ent("a"), ent("b")])
    with pytest.raises(StoreError, match="ghost"):
        graph_store.upsert_relations([rel("a", "b"), rel("a", "ghost")])
    assert list(graph_store.iter_relations()) == []
    assert graph_store.get_entities(["ghost"]) == {}


def test_degrees(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([ent("hub"), ent("x"), ent("y"), ent("z"), ent("alone")])
    graph_store.upsert_relations([rel("hub", "x"), rel("hub", "y"), rel("z", "hub"), rel("x", "y")])
    assert graph_store.degrees(["hub", "x", "z", "alone", "missing"]) == {
        "hub": 3, "x": 2, "z": 1, "alone": 0,
    }


def test_neighbors_strongest_first_then_by_key(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([ent(k) for k in ("a", "b", "c", "d", "e", "lonely")])
    graph_store.upsert_relations(
        [rel("a", "b", 1.0), rel("c", "a", 5.0), rel("a", "d", 1.0), rel("e", "a", 2.0)]
    )
    result = graph_store.neighbors(["a", "b", "lonely", "missing"])
    assert set(result) == {"a", "b", "lonely"}
    assert [r.key for r in result["a"]] == ["a|c", "a|e", "a|b", "a|d"]
    assert [r.key for r in result["b"]] == ["a|b"]
    assert result["lonely"] == []


def test_neighbor_weights_are_the_weights_of_the_incident_relations(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([ent(k) for k in ("a", "b", "c", "d", "lonely")])
    graph_store.upsert_relations([rel("a", "b", 1.5), rel("c", "a", 5.0), rel("d", "a", 0.25), rel("b", "c", 2.0)])
    weights = graph_store.neighbor_weights(["a", "b", "lonely", "missing"])
    assert weights == {"a": {"b": 1.5, "c": 5.0, "d": 0.25}, "b": {"a": 1.5, "c": 2.0}, "lonely": {}}
    assert graph_store.neighbor_weights([]) == {}
    # The same neighbours and weights as the full relations give.
    for key, relations in graph_store.neighbors(["a", "b", "c", "d"]).items():
        expected = {(r.target if r.source == key else r.source): r.weight for r in relations}
        assert graph_store.neighbor_weights([key])[key] == expected


def test_subgraph_depth_and_limit(graph_store: GraphStore) -> None:
    # chain a - b - c - d, plus a weak and a strong leaf on a
    graph_store.upsert_entities([ent(k) for k in ("a", "b", "c", "d", "weak", "strong")])
    graph_store.upsert_relations([rel("a", "b", 2.0), rel("b", "c"), rel("c", "d"),
                                  rel("a", "weak", 0.1), rel("a", "strong", 9.0)])

    def keys(depth: int, limit: int = 500, seeds: tuple[str, ...] = ("a",)) -> list[str]:
        entities, _ = graph_store.subgraph(list(seeds), depth=depth, limit=limit)
        return [e.key for e in entities]

    assert keys(0) == ["a"]
    assert keys(1) == ["a", "strong", "b", "weak"]  # visiting order: strongest first
    assert set(keys(2)) == {"a", "b", "c", "strong", "weak"}
    assert set(keys(3)) == {"a", "b", "c", "d", "strong", "weak"}
    assert keys(3, limit=3) == ["a", "strong", "b"]
    assert keys(1, limit=0) == []
    assert keys(1, seeds=("missing",)) == []

    entities, relations = graph_store.subgraph(["b"], depth=1)
    assert {e.key for e in entities} == {"a", "b", "c"}
    # Only relations among the returned entities, strongest first.
    assert [r.key for r in relations] == ["a|b", "b|c"]


def test_iteration_is_in_key_order(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([ent(k) for k in ("m", "b", "z", "a")])
    graph_store.upsert_relations([rel("z", "m"), rel("b", "a"), rel("m", "a")])
    assert [e.key for e in graph_store.iter_entities()] == ["a", "b", "m", "z"]
    assert [r.key for r in graph_store.iter_relations()] == ["a|b", "a|m", "m|z"]


def test_lexical_layer_and_delete_documents(graph_store: GraphStore) -> None:
    load_triangle(graph_store)
    graph_store.upsert_documents([doc("d1"), doc("d2", "b.txt")])
    graph_store.upsert_chunks([chunk("c1", "d1", 0), chunk("c2", "d1", 1), chunk("c3", "d2", 0)])
    assert graph_store.stats().documents == 2 and graph_store.stats().chunks == 3
    graph_store.delete_documents(["d1", "never-there"])
    stats = graph_store.stats()
    assert (stats.documents, stats.chunks) == (1, 1)
    assert stats.entities == 3  # the indexer, not the store, decides which entities go


def test_stats_on_empty_store(graph_store: GraphStore) -> None:
    assert graph_store.stats() == GraphStats(documents=0, chunks=0, entities=0, relations=0, entity_types={})


INJECTION_NAMES = [
    "o'brien",
    'say "hi"',
    "{curly} [square]",
    "x}) DETACH DELETE n //",
    "'); DROP TABLE documents; --",
    "back\\slash",
    "new\nline",
    "ünïcødé 東京 🚀",
    "$param",
]


def test_odd_names_are_just_data(graph_backend: Backend[GraphStore]) -> None:
    store = graph_backend.open()
    entities = [Entity(key=n, name=n, type="WEIRD'TYPE", description=n * 2, source_ids=(n,))
                for n in INJECTION_NAMES]
    store.upsert_entities(entities)
    hub = INJECTION_NAMES[0]
    relations = [rel(hub, n) for n in INJECTION_NAMES[1:]]
    store.upsert_relations(relations)
    assert store.get_entities(INJECTION_NAMES) == {e.key: e for e in entities}
    assert len(store.neighbors([hub])[hub]) == len(INJECTION_NAMES) - 1
    assert store.stats().entity_types == {"WEIRD'TYPE": len(INJECTION_NAMES)}
    if graph_backend.persistent:
        store.flush()
        reopened = graph_backend.reopen()
        assert reopened.get_entities(INJECTION_NAMES) == {e.key: e for e in entities}
        assert reopened.get_relations(r.key for r in relations) == {r.key: r for r in relations}


def test_everything_survives_flush_and_reopen(graph_backend: Backend[GraphStore]) -> None:
    if not graph_backend.persistent:
        pytest.skip(f"{graph_backend.name} keeps nothing across reopen")
    store = graph_backend.open()
    load_triangle(store)
    store.upsert_documents([doc("d1")])
    store.upsert_chunks([chunk("c1", "d1", 0), chunk("c2", "d1", 1)])
    store.flush()
    before = snapshot(store)
    reopened = graph_backend.reopen()
    assert snapshot(reopened) == before
    # The reopened store keeps working: deletes and upserts after reopen persist too.
    reopened.delete_entities(["c"])
    reopened.delete_documents(["d1"])
    reopened.flush()
    again = graph_backend.reopen()
    assert [e.key for e in again.iter_entities()] == ["a", "b"]
    assert [r.key for r in again.iter_relations()] == ["a|b"]
    assert (again.stats().documents, again.stats().chunks) == (0, 0)


def test_graph_export_accessor(graph_store: GraphStore) -> None:
    to_networkx = getattr(graph_store, "to_networkx", None)
    if to_networkx is None:
        pytest.skip("backend has no in-process graph to hand out")
    load_triangle(graph_store)
    g = to_networkx()
    assert sorted(g.nodes) == ["a", "b", "c"]
    assert g.edges["a", "b"]["weight"] == 3.0
    assert g.nodes["b"]["type"] == "ORG"


def test_stats_follow_type_changes_and_deletes(graph_backend: Backend[GraphStore]) -> None:
    store = graph_backend.open()
    load_triangle(store)
    store.upsert_entities([ent("a", "ORG"), ent("d", "EVENT")])
    assert store.stats().entity_types == {"EVENT": 1, "ORG": 3}
    store.delete_entities(["b", "d", "nope"])
    stats = store.stats()
    assert (stats.entities, stats.relations, stats.entity_types) == (2, 1, {"ORG": 2})
    if graph_backend.persistent:
        store.flush()
        assert graph_backend.reopen().stats() == stats
