"""The explorer's reads on the in-memory stores answer exactly what the plain definitions
answer (the search: every entity ranked by tier, then degree, then key; the neighbourhood:
levels filled by the strongest relation to the entities kept so far), while reading only
what they return; and the search sees every write."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from graphrag.explorer.neighbourhood import sample_neighbourhood
from graphrag.explorer.search import search_entities
from graphrag.models import Alias, Entity, Relation, normalize_name, relation_key
from graphrag.stores.base import GraphStore
from graphrag.stores.entity_text_view import EntityTextView
from graphrag.stores.networkx_graph import NetworkXGraphStore
from graphrag.stores.sqlite_graph import SQLiteGraphStore

WORDS = ["tim", "tiny", "bob", "cratchit", "marley", "old", "jacob", "fezziwig", "belle", "fred", "ghost", "yet"]
TYPES = ["PERSON", "LOCATION", "CONCEPT"]


@pytest.fixture(params=["networkx", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> GraphStore:
    return NetworkXGraphStore(None) if request.param == "networkx" else SQLiteGraphStore(tmp_path)


def random_graph(store: GraphStore, seed: int, n: int = 120) -> None:
    rng = random.Random(seed)
    entities = {}
    for _ in range(n):
        name = " ".join(rng.sample(WORDS, rng.randint(1, 3))).title()
        key = normalize_name(name)
        aliases = tuple(Alias(" ".join(rng.sample(WORDS, 2)).title(), ("c1",)) for _ in range(rng.randint(0, 2)))
        description = " ".join(rng.choices(WORDS + ["a", "the", "of"], k=rng.randint(0, 8)))
        entities[key] = Entity(key=key, name=name, type=rng.choice(TYPES), description=description,
                               source_ids=("c1",), aliases=aliases)
    store.upsert_entities(list(entities.values()))
    keys = sorted(entities)
    relations = {}
    for _ in range(3 * len(keys)):
        a = keys[0] if rng.random() < 0.2 else rng.choice(keys)  # keys[0] is a hub
        b = rng.choice(keys)
        relations[relation_key(a, b)] = Relation(key=relation_key(a, b), source=a, target=b, description="",
                                                 keywords=(), weight=rng.choice([0.5, 1.0, 2.0, 3.5]),
                                                 source_ids=("c1",))
    store.upsert_relations(list(relations.values()))


def reference_search(store: GraphStore, q: str, type_: str | None, limit: int) -> tuple[list[tuple[str, str]], int, dict]:
    """The definition: walk every entity."""
    needle = " ".join(q.lower().split())
    key = normalize_name(needle)
    tiers = ["all", "name", "alias", "name", "name", "alias", "description"]
    ranked, types = [], {}
    for e in store.iter_entities():
        name, aliases = e.name.lower(), [a.name.lower() for a in e.aliases]
        if not needle:
            tier = 0
        elif name == needle or e.key == key:
            tier = 1
        elif needle in aliases or any(normalize_name(a) == key for a in aliases):
            tier = 2
        elif name.startswith(needle):
            tier = 3
        elif needle in name:
            tier = 4
        elif any(needle in a for a in aliases):
            tier = 5
        elif needle in e.description.lower():
            tier = 6
        else:
            continue
        types[e.type] = types.get(e.type, 0) + 1
        if type_ is None or e.type.lower() == type_:
            ranked.append((tier, e.key))
    degrees = store.degrees([k for _, k in ranked])
    ranked.sort(key=lambda r: (r[0], -degrees[r[1]], r[1]))
    return [(k, tiers[t]) for t, k in ranked[:limit]], len(ranked), types


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_search_equals_the_definition(store: GraphStore, seed: int) -> None:
    random_graph(store, seed)
    rag = SimpleNamespace(graph=store)
    some = next(iter(store.iter_entities()))
    queries = ["", "tim", "TINY tim", "old", "t", "of the", "zzz", some.name, normalize_name(some.name), "  bob  ",
               f"Mr. {some.name}", f"{some.name}'s", some.name.replace(" ", "-")]  # the last: its key only
    aliases = [a.name for e in list(store.iter_entities())[:10] for a in e.aliases]
    queries += aliases + [a.replace(" ", "_") for a in aliases]
    for q in queries:
        for type_ in (None, "person", "concept"):
            for limit in (1, 7, 500):
                got = search_entities(rag, q, type_, limit)
                hits, total, types = reference_search(store, q, type_, limit)
                assert [(h.key, h.matched) for h in got.hits] == hits, (q, type_, limit)
                assert (got.total, got.types) == (total, types), (q, type_)


def test_search_sees_every_write(store: GraphStore) -> None:
    rag = SimpleNamespace(graph=store)
    store.upsert_entities([Entity(key="bob", name="Bob", type="PERSON", description="a clerk", source_ids=("c1",))])
    assert [h.key for h in search_entities(rag, "clerk", None, 10).hits] == ["bob"]  # builds the view
    store.upsert_entities([Entity(key="bob", name="Bob", type="PERSON", description="a father", source_ids=("c1",),
                                  aliases=(Alias("Bob Cratchit", ("c1",)),))])
    assert search_entities(rag, "clerk", None, 10).total == 0
    assert [(h.key, h.matched) for h in search_entities(rag, "cratchit", None, 10).hits] == [("bob", "alias")]
    store.delete_entities(["bob"])
    assert search_entities(rag, "bob", None, 10).total == 0


def test_a_needle_never_matches_across_two_entities() -> None:
    view = EntityTextView([("a", "Tiny", "P", "ends with x", ["one", "two"]), ("b", "Tim", "P", "y starts", [])])
    assert view.containing("tinytim", "name") == [] and view.containing("x y", "description") == []
    assert view.containing("onetwo", "alias") == [] and view.containing("t", "name") == [0, 1]
    assert view.containing("", "name") == [] and view.containing("\x00", "name") == []


def reference_neighbourhood(store: GraphStore, centres: list[str], depth: int, limit: int) -> tuple:
    """The definition, on full relations."""
    levels = {k: 0 for k in centres if k in store.degrees(centres)}
    frontier, left_out = list(levels), set()
    for level in range(1, depth + 1):
        best: dict[str, float] = {}
        for node, relations in store.neighbors(frontier).items():
            for r in relations:
                other = r.target if r.source == node else r.source
                if other not in levels:
                    best[other] = max(best.get(other, float("-inf")), r.weight)
        ranked = sorted(best, key=lambda k: (-best[k], k))
        chosen = ranked[: max(limit - len(levels), 0)]
        left_out.update(ranked[len(chosen):])
        levels.update({k: level for k in chosen})
        frontier = chosen
    relations = {r.key: r for rs in store.neighbors(levels).values() for r in rs
                 if r.source in levels and r.target in levels}
    ordered = [r.key for r in sorted(relations.values(), key=lambda r: (-r.weight, r.key))]
    return levels, ordered, len(left_out - levels.keys())


@pytest.mark.parametrize("seed", [1, 2])
def test_neighbourhood_equals_the_definition(store: GraphStore, seed: int) -> None:
    random_graph(store, seed)
    keys = sorted(e.key for e in store.iter_entities())
    for centres in ([keys[0]], [keys[5]], [keys[3], keys[9]], ["missing", keys[1]]):
        for depth, limit in ((1, 5), (1, 500), (2, 12), (3, 40), (0, 10)):
            hood = sample_neighbourhood(store, centres, depth, limit)
            levels, ordered, omitted = reference_neighbourhood(store, centres, depth, limit)
            assert hood.levels == levels and [e.key for e in hood.entities] == list(levels)
            assert [r.key for r in hood.relations] == ordered and hood.omitted == omitted
            assert hood.degrees == store.degrees(levels)
            drawn = {k: sum(1 for r in hood.relations if k in (r.source, r.target)) for k in levels}
            assert hood.hidden == {k: hood.degrees[k] - drawn[k] for k in levels}
