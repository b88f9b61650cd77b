"""Aliases on the GraphStore contract: kept with their chunks, replaced on upsert, found by
`find_entities`, gone with their entity. Run against every graph backend."""

from __future__ import annotations

from graphrag.models import Alias, Entity
from graphrag.stores.base import GraphStore


def scrooge(*aliases: Alias) -> Entity:
    return Entity(key="scrooge", name="Scrooge", type="PERSON", description="A miser.", source_ids=("c1", "c2"),
                  aliases=aliases)


def test_aliases_round_trip_with_their_chunks(graph_store: GraphStore) -> None:
    entity = scrooge(Alias("Ebenezer Scrooge", ("c2",)), Alias("Mr. Scrooge", ("c1", "c3")))
    graph_store.upsert_entities([entity])
    assert graph_store.get_entities(["scrooge"])["scrooge"] == entity
    assert list(graph_store.iter_entities()) == [entity]


def test_find_entities_by_key_or_alias(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([scrooge(Alias("Ebenezer Scrooge", ("c2",))),
                                 Entity(key="marley", name="Marley", type="PERSON", description="", source_ids=("c1",))])
    found = graph_store.find_entities(["ebenezer scrooge", "scrooge", "marley", "nobody", "ebenezer"])
    assert {k: e.key for k, e in found.items()} == {
        "ebenezer scrooge": "scrooge", "scrooge": "scrooge", "marley": "marley"}


def test_an_alias_dropped_on_upsert_or_delete_is_no_longer_found(graph_store: GraphStore) -> None:
    graph_store.upsert_entities([scrooge(Alias("Ebenezer Scrooge", ("c2",)), Alias("Mr. Scrooge", ("c1",)))])
    graph_store.upsert_entities([scrooge(Alias("Mr. Scrooge", ("c1",)))])
    assert set(graph_store.find_entities(["ebenezer scrooge", "mr scrooge"])) == {"mr scrooge"}
    graph_store.delete_entities(["scrooge"])
    assert graph_store.find_entities(["mr scrooge", "scrooge"]) == {}
