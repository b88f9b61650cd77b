"""An update caught up is a rebuild: after `catch_up`, the entity–chunk graph is the one a
fresh build from the store gives (the same nodes, edges and floats, so the same walk), for
any sequence of entity and relation writes; and catching up reads only what was written."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphrag.models import Entity, Relation, relation_key
from graphrag.query.ppr import EntityChunkGraph, bridge_entities, rank_chunks_ppr
from graphrag.query.retrieve import Timer
from graphrag.query.retrieve_ppr import PPRRetriever
from graphrag.settings import Settings
from graphrag.stores.sqlite_graph import SQLiteGraphStore

ARRAYS = ("src", "dst", "transition", "entity_chunk_counts", "out_weight", "indptr", "csr_dst", "csr_transition", "degree", "idf")
KEYS = [f"e{i}" for i in range(14)] + ["Émile", "a b"]  # "e10" < "e2": key order is not number order
CHUNKS = [f"c{i}" for i in range(9)]


def entity(key: str, chunks: tuple[str, ...]) -> Entity:
    return Entity(key=key, name=key, type="concept", description="", source_ids=chunks)


def relation(a: str, b: str, weight: float) -> Relation:
    return Relation(relation_key(a, b), a, b, "", (), weight, ())


class DictStore:
    """A GraphStore's semantics as far as the graph goes: key order, relations only between
    existing entities, an entity's relations deleted with it."""

    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.relations: dict[str, Relation] = {}
        # Relations a deletion took along and the update did not name, by entity: named
        # after all if the entity comes back in the same update (see `catch_up`).
        self.unreported: dict[str, set[str]] = {}

    def iter_entities(self):  # type: ignore[no-untyped-def]
        return (self.entities[k] for k in sorted(self.entities))

    def iter_relations(self):  # type: ignore[no-untyped-def]
        return (self.relations[k] for k in sorted(self.relations))

    def get_entities(self, keys):  # type: ignore[no-untyped-def]
        return {k: self.entities[k] for k in keys if k in self.entities}

    def get_relations(self, keys):  # type: ignore[no-untyped-def]
        return {k: self.relations[k] for k in keys if k in self.relations}

    def apply(self, op: tuple, changed: dict[str, set[str]], report_cascade: bool) -> None:
        kind, key, *args = op
        if kind == "entity":
            self.entities[key] = entity(key, args[0])
            changed["entity"].add(key)
            changed["relation"].update(self.unreported.pop(key, ()))
        elif kind == "delete_entity":
            gone = [k for k, r in self.relations.items() if key in (r.source, r.target)]
            for k in gone:
                del self.relations[k]
            if report_cascade:  # the SQLite store logs them; catching up a deletion does not need it
                changed["relation"].update(gone)
            else:
                self.unreported.setdefault(key, set()).update(gone)
            self.entities.pop(key, None)
            changed["entity"].add(key)
        elif kind == "relation":  # a self-loop is stored, and makes no edge
            if key in self.entities and args[0] in self.entities:
                r = relation(key, args[0], args[1])
                self.relations[r.key] = r
                changed["relation"].add(r.key)
        elif kind == "delete_relation":
            k = relation_key(key, args[0])
            self.relations.pop(k, None)
            changed["relation"].add(k)
        elif kind == "drop_chunk":  # a document deleted: its chunk leaves every entity naming it
            for e in list(self.entities.values()):
                if key in e.source_ids:
                    self.entities[e.key] = entity(e.key, tuple(c for c in e.source_ids if c != key))
                    changed["entity"].add(e.key)


keys = st.sampled_from(KEYS)
chunk_lists = st.one_of(
    st.lists(st.sampled_from(CHUNKS), max_size=5).map(tuple),  # repeats, and none at all
    st.just(tuple(CHUNKS)),  # a hub
)
weights = st.sampled_from([0.5, 1.0, 2.0, 3.7, 12.0])
ops = st.one_of(
    st.tuples(st.just("entity"), keys, chunk_lists),
    st.tuples(st.just("delete_entity"), keys),
    st.tuples(st.just("relation"), keys, keys, weights),
    st.tuples(st.just("delete_relation"), keys, keys),
    st.tuples(st.just("drop_chunk"), st.sampled_from(CHUNKS)),
)


def assert_same_graph(caught: EntityChunkGraph, fresh: EntityChunkGraph) -> None:
    assert caught.entity_keys == fresh.entity_keys
    assert caught.chunk_ids == fresh.chunk_ids
    assert caught.entity_index == fresh.entity_index
    assert caught.chunk_index == fresh.chunk_index
    for index, known in (("entity_index", KEYS), ("chunk_index", CHUNKS)):
        ours, theirs = getattr(caught, index), getattr(fresh, index)
        for key in [*known, "never seen"]:
            assert (key in ours, ours.get(key)) == (key in theirs, theirs.get(key)), (index, key)
    for name in ARRAYS:
        a, b = getattr(caught, name), getattr(fresh, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name


def assert_same_walks(caught: EntityChunkGraph, fresh: EntityChunkGraph, seed_keys: list[str]) -> None:
    seeds = {k: 1.0 / (i + 1) for i, k in enumerate(seed_keys)}
    prior = {c: 0.1 * (i + 1) for i, c in enumerate(CHUNKS[:3])} | {"not in the graph": 0.2}
    for graph_seeds in (seeds, {}):
        a = rank_chunks_ppr(caught, graph_seeds, prior)
        b = rank_chunks_ppr(fresh, graph_seeds, prior)
        assert [k for k, _ in a.chunks] == [k for k, _ in b.chunks]
        assert [k for k, _ in a.entities] == [k for k, _ in b.entities]
        assert np.allclose([s for _, s in a.chunks], [s for _, s in b.chunks], rtol=0, atol=1e-9)
        assert np.allclose([s for _, s in a.entities], [s for _, s in b.entities], rtol=0, atol=1e-9)
        assert bridge_entities(caught, graph_seeds, a.chunks[:5], seed_share=0.3) == bridge_entities(
            fresh, graph_seeds, b.chunks[:5], seed_share=0.3
        )


def check_updates(start: list[tuple], updates: list[tuple[list[tuple], bool]], seed_keys: list[str]) -> None:
    """Builds the graph of `start`, then catches it up with each batch of `updates` (with
    or without the relations a deleted entity takes along among the written keys), and
    compares it with a fresh build after each."""
    store = DictStore()
    for op in start:
        store.apply(op, {"entity": set(), "relation": set()}, True)
    graph = EntityChunkGraph.build(store.iter_entities(), store.iter_relations())
    for batch, report_cascade in updates:
        changed: dict[str, set[str]] = {"entity": set(), "relation": set()}
        store.unreported.clear()
        for op in batch:
            store.apply(op, changed, report_cascade)
        graph = graph.caught_up(
            changed["entity"], store.get_entities(changed["entity"]),
            changed["relation"], store.get_relations(changed["relation"]),
        )
        fresh = EntityChunkGraph.build(store.iter_entities(), store.iter_relations())
        assert_same_graph(graph, fresh)
        assert_same_walks(graph, fresh, seed_keys)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entities=st.dictionaries(keys, chunk_lists, max_size=12),
    relations=st.lists(st.tuples(keys, keys, weights), max_size=30),
    updates=st.lists(st.tuples(st.lists(ops, min_size=1, max_size=4), st.booleans()), min_size=1, max_size=6),
    seed_keys=st.lists(keys, max_size=3),
)
def test_every_update_caught_up_is_a_fresh_build(entities, relations, updates, seed_keys) -> None:  # type: ignore[no-untyped-def]
    start = [("entity", k, chunks) for k, chunks in entities.items()] + [("relation", *r) for r in relations]
    check_updates(start, updates, seed_keys)


def test_an_entity_deleted_takes_its_relations_along_even_unreported() -> None:
    """The relations of a deleted entity are gone from the store whether or not the update
    names them, and do not come back with the entity."""
    start = [("entity", "a", ("c1",)), ("entity", "b", ("c2",)), ("entity", "c", ("c2", "c3")),
             ("relation", "a", "b", 2.0), ("relation", "b", "c", 1.0)]
    check_updates(start, [([("delete_entity", "b")], False), ([("entity", "b", ("c1",))], False)], ["a"])


def test_a_chunk_no_entity_names_any_more_leaves_the_graph_and_the_idf() -> None:
    """A chunk's node goes with its last mention, the chunks after it move up, and the
    chunk count under every entity's idf drops: the same numbers as a fresh build."""
    start = [("entity", "a", ("c1", "c2")), ("entity", "b", ("c2", "c3")), ("entity", "c", ("c3", "c4")),
             ("relation", "a", "c", 1.0)]
    check_updates(start, [([("drop_chunk", "c2")], True), ([("entity", "a", ())], True)], ["a", "c"])


def reference_build(entities: list[Entity], relations: list[Relation]) -> dict[str, object]:
    """The graph by its definition, one row at a time (build before it was derived in
    numpy): chunks numbered as the entities first name them, entity–chunk edges then
    relation edges, each in both directions."""
    import math

    entity_index: dict[str, int] = {}
    chunk_index: dict[str, int] = {}
    mentions = []
    for e in entities:
        if e.key not in entity_index:
            entity_index[e.key] = len(entity_index)
            mentions += [(entity_index[e.key], chunk_index.setdefault(c, len(chunk_index))) for c in dict.fromkeys(e.source_ids)]
    n, n_chunks = len(entity_index), len(chunk_index)
    counts = np.bincount(np.asarray([e for e, _ in mentions], dtype=np.int64), minlength=n).astype(np.float64)
    idf = np.log1p(max(n_chunks, 1) / np.maximum(counts, 1.0)) / math.log1p(max(n_chunks, 1))
    edges = [(e, n + c, 4.0 * idf[e]) for e, c in mentions]
    for r in relations:
        u, v = entity_index.get(r.source), entity_index.get(r.target)
        if u is not None and v is not None and u != v:
            edges.append((u, v, (1.0 + math.log(max(r.weight, 1.0))) * math.sqrt(idf[u] * idf[v])))
    src = np.asarray([u for u, _, _ in edges] + [v for _, v, _ in edges], dtype=np.int64)
    dst = np.asarray([v for _, v, _ in edges] + [u for u, _, _ in edges], dtype=np.int64)
    weight = np.asarray([w for *_, w in edges] * 2, dtype=np.float64)
    out_weight = np.bincount(src, weights=weight, minlength=n + n_chunks)
    return {
        "entity_keys": list(entity_index), "chunk_ids": list(chunk_index), "src": src, "dst": dst,
        "transition": weight / out_weight[src] if len(src) else weight, "out_weight": out_weight, "idf": idf,
    }


@settings(max_examples=100, deadline=None)
@given(entities=st.lists(st.tuples(keys, chunk_lists), max_size=12), relations=st.lists(st.tuples(keys, keys, weights), max_size=30))
def test_build_is_the_graph_by_its_definition(entities, relations) -> None:  # type: ignore[no-untyped-def]
    """The numpy derivation gives the same numbers as the definition, in any input order."""
    rows = [entity(k, chunks) for k, chunks in entities]
    rels = [relation(a, b, w) for a, b, w in relations]
    built, expected = EntityChunkGraph.build(rows, rels), reference_build(rows, rels)
    for name, value in expected.items():
        got = getattr(built, name)
        assert np.array_equal(got, value) if isinstance(value, np.ndarray) else got == value, name


def test_a_graph_built_out_of_key_order_is_rebuilt_rather_than_caught_up() -> None:
    """A splice in key order gives a fresh build's layout only when the build was in key
    order, as every store iterates; a graph built from a neighbourhood is not."""
    rows = [entity("b", ("c1",)), entity("a", ("c2",))]
    assert not EntityChunkGraph.build(rows, []).can_catch_up(0, 0)
    assert EntityChunkGraph.build(sorted(rows, key=lambda e: e.key), []).can_catch_up(0, 0)


# --- through PPRRetriever, on the SQLite store


def _store(path: Path, n: int = 40) -> SQLiteGraphStore:
    store = SQLiteGraphStore(path)
    store.upsert_entities([entity(f"e{i:02d}", (f"c{i % 7}", f"c{(i * 3) % 11}")) for i in range(n)])
    store.upsert_relations([relation(f"e{i:02d}", f"e{(i * 5 + 1) % n:02d}", 1.0 + i % 4) for i in range(n) if (i * 5 + 1) % n != i])
    store.flush()
    return store


def _retriever(store: SQLiteGraphStore, **overrides: object) -> PPRRetriever:
    return PPRRetriever(SimpleNamespace(settings=Settings(**overrides), graph=store))  # type: ignore[arg-type]


def _count_full_reads(store: SQLiteGraphStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    for name in ("iter_entities", "iter_relations"):
        original = getattr(store, name)
        monkeypatch.setattr(store, name, lambda original=original, name=name: (calls.append(name), original())[1])
    return calls


def test_catch_up_reads_only_the_written_rows_and_a_deleted_entity_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path)
    retriever = _retriever(store)
    before = retriever.entity_chunk_graph({}, Timer())
    calls = _count_full_reads(store, monkeypatch)

    # One small document: a new entity in a new chunk and one it shares, a relation to it,
    # one entity deleted (its relations go with it; the store logs them).
    deleted_relations = {r.key for rels in store.neighbors(["e03"]).values() for r in rels}
    store.upsert_entities([entity("e40", ("c_new", "c1")), entity("e05", ("c_new",))])
    store.upsert_relations([relation("e40", "e05", 2.0)])
    store.delete_entities(["e03"])
    store.flush()
    retriever.catch_up({
        "entity": {"e40", "e05", "e03"},
        "relation": {relation_key("e40", "e05")} | deleted_relations,
        "chunk": {"c_new"},
        "document": {"d_new"},
    })
    after = retriever.entity_chunk_graph({}, Timer())

    assert calls == []  # neither the catch-up nor the walk after it read the whole graph
    assert "e03" not in after.entity_index and "e03" in before.entity_index
    assert "e40" not in before.entity_index and before.entity_index.get("e40") is None  # named after it was built
    assert "c_new" in after.chunk_index and "c_new" not in before.chunk_index
    assert_same_graph(after, EntityChunkGraph.build(store.iter_entities(), store.iter_relations()))
    walk = rank_chunks_ppr(after, {"e40": 1.0, "e03": 1.0}, {})
    assert "e03" not in dict(walk.entities) and "c_new" in dict(walk.chunks)
    assert before.entity_keys[3] == "e03"  # a walk still on the old graph reads it unchanged


def test_a_large_update_drops_the_graph_and_the_next_walk_rebuilds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("graphrag.query.ppr_graph.CATCH_UP_MIN_KEYS", 0)
    store = _store(tmp_path)
    retriever = _retriever(store)
    retriever.entity_chunk_graph({}, Timer())
    written = {f"e{i:02d}" for i in range(20)}  # half the entities: a rebuild costs as much
    store.upsert_entities([entity(k, ("c_other",)) for k in written])
    retriever.catch_up({"entity": written})
    assert retriever._full_graph is None
    calls = _count_full_reads(store, monkeypatch)
    rebuilt = retriever.entity_chunk_graph({}, Timer())
    assert calls == ["iter_entities", "iter_relations"]
    assert rebuilt.chunk_index.keys() >= {"c_other"}


def test_catch_up_leaves_subgraph_mode_and_an_empty_change_alone(tmp_path: Path) -> None:
    store = _store(tmp_path)
    retriever = _retriever(store)
    loaded = retriever.entity_chunk_graph({}, Timer())
    retriever.catch_up({"chunk": {"c1"}, "entity": set()})
    assert retriever._full_graph is loaded  # nothing the graph holds was written
    assert retriever._use_full_graph is None  # re-decided at the next walk, from stats()

    small = _retriever(store, ppr_full_graph_entities=10)
    small.entity_chunk_graph({"e01": 1.0}, Timer())
    assert small._use_full_graph is False and small._full_graph is None
    small.catch_up({"entity": {"e01"}})
    assert small._full_graph is None and small._use_full_graph is None


def test_a_graph_grown_past_the_setting_is_walked_by_neighbourhood_after_catching_up(tmp_path: Path) -> None:
    store = _store(tmp_path)
    retriever = _retriever(store, ppr_full_graph_entities=40)
    assert len(retriever.entity_chunk_graph({}, Timer()).entity_keys) == 40
    store.upsert_entities([entity("e40", ("c1",))])
    retriever.catch_up({"entity": {"e40"}})
    assert retriever._full_graph is not None and retriever._use_full_graph is None
    neighbourhood = retriever.entity_chunk_graph({"e40": 1.0}, Timer())
    assert retriever._use_full_graph is False and retriever._full_graph is None
    assert neighbourhood.entity_keys == ["e40"]
