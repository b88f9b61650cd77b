"""What only the Neo4j store promises: the Browser model (labels, HAS_CHUNK / MENTIONS,
sanitized type labels), the schema, parameterized writes, idempotent batches, isolated
workspaces and few round trips. The GraphStore contract itself is in test_graph_store_contract."""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.errors import StoreError
from graphrag.models import Chunk, DocumentRecord, Entity, Relation, relation_key
from graphrag.stores.neo4j_graph import Neo4jGraphStore, schema_statements, type_label

from .test_graph_store_contract import INJECTION_NAMES, chunk, doc, ent, rel


# --- no server needed

@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("PERSON", "Person"),
        ("organization", "Organization"),
        ("WEIRD'TYPE", "WeirdType"),
        ("geo political_entity", "GeoPoliticalEntity"),
        ("x`) DETACH DELETE n //", "XDetachDeleteN"),
        ("", "Unknown"),
        ("!!!", "Unknown"),
        ("3d model", "Type3dModel"),
        ("document", "DocumentType"),
        ("ENTITY", "EntityType"),
        ("chunk", "ChunkType"),
        ("人物", "人物"),
    ],
)
def test_type_label_is_sanitized(raw: str, label: str) -> None:
    assert type_label(raw) == label


def test_schema_files_hold_the_issue_constraints_and_indexes() -> None:
    text = "\n".join(schema_statements())
    for needle in (
        "FOR (d:Document) REQUIRE (d.workspace, d.id) IS UNIQUE",
        "FOR (c:Chunk) REQUIRE (c.workspace, c.id) IS UNIQUE",
        "FOR (e:Entity) REQUIRE (e.workspace, e.key) IS UNIQUE",
        "CREATE FULLTEXT INDEX graphrag_entity_text IF NOT EXISTS",
    ):
        assert needle in text
    assert all("IF NOT EXISTS" in s for s in schema_statements())


def test_unreachable_server_is_a_clear_store_error() -> None:
    with pytest.raises(StoreError, match="cannot reach Neo4j at bolt://127.0.0.1:1"):
        Neo4jGraphStore("bolt://127.0.0.1:1", namespace="x")


# --- on the test server

@pytest.fixture
def store(open_store: Any) -> Neo4jGraphStore:
    return open_store()


def cypher(store: Neo4jGraphStore, query: str, **params: Any) -> list[dict[str, Any]]:
    """Direct driver access (not the store's API) to look at what the Browser would see."""
    records, _, _ = store._driver.execute_query(query, {"ws": store.namespace, **params}, database_=store.database)
    return [r.data() for r in records]


def database_snapshot(store: Neo4jGraphStore) -> tuple[list[Any], list[Any]]:
    nodes = cypher(store, "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS p ORDER BY id")
    rels = cypher(store, "MATCH (a)-[r]->(b) RETURN elementId(r) AS id, type(r) AS type, elementId(a) AS a, "
                         "elementId(b) AS b, properties(r) AS p ORDER BY id")
    return nodes, rels


def load_lexical(store: Neo4jGraphStore) -> None:
    store.upsert_documents([doc("d1"), doc("d2", "b.txt")])
    store.upsert_chunks([chunk("c1", "d1", 0), chunk("c2", "d1", 1), chunk("c3", "d2", 0)])
    store.upsert_entities([
        ent("scrooge", "PERSON", sources=("c1", "c2")),
        ent("fezziwig & co", "organization", sources=("c2",)),
        ent("ledger", "document", sources=("c3", "not-a-chunk")),
    ])
    store.upsert_relations([rel("scrooge", "fezziwig & co", 2.0), rel("ledger", "scrooge")])


@pytest.mark.neo4j
def test_browser_model(store: Neo4jGraphStore) -> None:
    load_lexical(store)
    labels = {r["key"]: sorted(r["labels"]) for r in cypher(
        store, "MATCH (e:Entity {workspace: $ws}) RETURN e.key AS key, labels(e) AS labels")}
    assert labels == {
        "scrooge": ["Entity", "Person"],
        "fezziwig & co": ["Entity", "Organization"],
        "ledger": ["DocumentType", "Entity"],  # never mistaken for a :Document
    }
    has_chunk = cypher(store, "MATCH (d:Document {workspace: $ws})-[:HAS_CHUNK]->(c:Chunk) "
                              "RETURN d.id AS d, c.id AS c ORDER BY c")
    assert [(r["d"], r["c"]) for r in has_chunk] == [("d1", "c1"), ("d1", "c2"), ("d2", "c3")]
    mentions = cypher(store, "MATCH (c:Chunk {workspace: $ws})-[:MENTIONS]->(e:Entity) "
                             "RETURN c.id AS c, e.key AS e ORDER BY c, e")
    assert [(r["c"], r["e"]) for r in mentions] == [
        ("c1", "scrooge"), ("c2", "fezziwig & co"), ("c2", "scrooge"), ("c3", "ledger"),
    ]
    (related,) = cypher(store, "MATCH (a:Entity {key: 'ledger', workspace: $ws})-[r:RELATED]->(b) "
                               "RETURN b.key AS b, properties(r) AS p")
    assert related["b"] == "scrooge"
    assert related["p"] == {
        "workspace": store.namespace, "key": relation_key("ledger", "scrooge"), "description": "ledger and scrooge",
        "keywords": ["k1", "k2"], "weight": 1.0, "source_ids": ["c1", "c2"],
    }
    degrees = {r["key"]: r["degree"] for r in cypher(
        store, "MATCH (e:Entity {workspace: $ws}) RETURN e.key AS key, e.degree AS degree")}
    assert degrees == {"scrooge": 2, "fezziwig & co": 1, "ledger": 1}
    (document,) = cypher(store, "MATCH (d:Document {workspace: $ws, id: 'd1'}) RETURN properties(d) AS p")
    assert {"id", "title", "source", "content_hash", "status", "ingested_at"} <= document["p"].keys()
    every = cypher(store, "MATCH (n) WHERE n.workspace = $ws RETURN count(n) AS n")[0]["n"]
    assert every == 2 + 3 + 3  # a workspace property on every node


@pytest.mark.neo4j
def test_changing_type_or_sources_rewrites_label_and_mentions(store: Neo4jGraphStore) -> None:
    load_lexical(store)
    store.upsert_entities([ent("scrooge", "LOCATION", sources=("c3",))])
    (row,) = cypher(store, "MATCH (e:Entity {workspace: $ws, key: 'scrooge'}) "
                           "RETURN labels(e) AS labels, [(c)-[:MENTIONS]->(e) | c.id] AS chunks")
    assert sorted(row["labels"]) == ["Entity", "Location"]
    assert row["chunks"] == ["c3"]
    assert store.degrees(["scrooge"]) == {"scrooge": 2}


@pytest.mark.neo4j
def test_chunks_before_their_document_are_linked_when_it_arrives(store: Neo4jGraphStore) -> None:
    store.upsert_chunks([chunk("c1", "d1", 0)])
    assert cypher(store, "MATCH (:Document)-[h:HAS_CHUNK]->(:Chunk {workspace: $ws}) RETURN count(h) AS n")[0]["n"] == 0
    store.upsert_documents([doc("d1")])
    assert cypher(store, "MATCH (:Document)-[h:HAS_CHUNK]->(:Chunk {workspace: $ws}) RETURN count(h) AS n")[0]["n"] == 1


@pytest.mark.neo4j
def test_delete_documents_takes_chunks_and_mentions_not_entities(store: Neo4jGraphStore) -> None:
    load_lexical(store)
    store.delete_documents(["d1"])
    assert cypher(store, "MATCH (c:Chunk {workspace: $ws}) RETURN collect(c.id) AS ids")[0]["ids"] == ["c3"]
    assert cypher(store, "MATCH (:Chunk {workspace: $ws})-[m:MENTIONS]->() RETURN count(m) AS n")[0]["n"] == 1
    assert store.stats().entities == 3


@pytest.mark.neo4j
def test_direction_flip_replaces_the_relation(store: Neo4jGraphStore) -> None:
    store.upsert_entities([ent("a"), ent("b")])
    store.upsert_relations([rel("a", "b")])
    store.upsert_relations([rel("b", "a", 4.0)])
    rows = cypher(store, "MATCH (s {workspace: $ws})-[r:RELATED]->(t) RETURN s.key AS s, t.key AS t, r.weight AS w")
    assert rows == [{"s": "b", "t": "a", "w": 4.0}]


@pytest.mark.neo4j
def test_two_keys_for_one_pair_are_refused(store: Neo4jGraphStore) -> None:
    store.upsert_entities([ent("a"), ent("b")])
    store.upsert_relations([rel("a", "b")])
    odd = Relation(key="custom", source="a", target="b", description="", keywords=(), weight=1.0, source_ids=())
    with pytest.raises(StoreError, match="join the same two entities"):
        store.upsert_relations([odd])
    assert [r.key for r in store.iter_relations()] == ["a|b"]


@pytest.mark.neo4j
def test_constraints_and_indexes_exist(store: Neo4jGraphStore) -> None:
    constraints = {r["name"]: (r["labelsOrTypes"], r["properties"], r["type"]) for r in cypher(
        store, "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties, type")}
    assert constraints["graphrag_document_id"] == (["Document"], ["workspace", "id"], "UNIQUENESS")
    assert constraints["graphrag_chunk_id"] == (["Chunk"], ["workspace", "id"], "UNIQUENESS")
    assert constraints["graphrag_entity_key"] == (["Entity"], ["workspace", "key"], "UNIQUENESS")
    assert constraints["graphrag_related_key"][:2] == (["RELATED"], ["workspace", "key"])
    indexes = {r["name"]: (r["type"], r["properties"]) for r in cypher(
        store, "SHOW INDEXES YIELD name, type, properties")}
    assert indexes["graphrag_entity_text"] == ("FULLTEXT", ["name", "description"])
    # Applying the schema again (a second process, a restart) is a no-op.
    with store._driver.session(database=store.database) as session:
        for statement in schema_statements():
            session.run(statement).consume()
    assert len(cypher(store, "SHOW CONSTRAINTS YIELD name")) == len(constraints)


@pytest.mark.neo4j
def test_injection_looking_names_are_stored_verbatim(open_store: Any) -> None:
    bystander = open_store()
    bystander.upsert_entities([ent("keep me")])
    store = open_store()
    before = cypher(store, "MATCH (n) RETURN count(n) AS n")[0]["n"]
    entities = [Entity(key=n, name=n, type=n, description=n, source_ids=(n,)) for n in INJECTION_NAMES]
    store.upsert_entities(entities)
    store.upsert_relations([rel(INJECTION_NAMES[0], n) for n in INJECTION_NAMES[1:]])
    store.delete_relations([relation_key(INJECTION_NAMES[0], INJECTION_NAMES[1])])
    store.delete_entities([INJECTION_NAMES[2]])
    stored = {r["key"]: (r["name"], r["type"], r["description"]) for r in cypher(
        store, "MATCH (e:Entity {workspace: $ws}) RETURN e.key AS key, e.name AS name, e.type AS type, "
               "e.description AS description")}
    expected = {n: (n, n, n) for i, n in enumerate(INJECTION_NAMES) if i != 2}
    assert stored == expected
    assert cypher(store, "MATCH (n) RETURN count(n) AS n")[0]["n"] == before + len(expected)
    assert bystander.get_entities(["keep me"]) == {"keep me": ent("keep me")}


@pytest.mark.neo4j
def test_rerunning_the_same_batch_changes_nothing(open_store: Any) -> None:
    store = open_store(batch_size=3)
    load_lexical(store)
    first = database_snapshot(store)
    load_lexical(store)
    store.upsert_entities([ent("scrooge", "PERSON", sources=("c1", "c2"))])
    assert database_snapshot(store) == first  # same element ids, labels and properties


@pytest.mark.neo4j
def test_workspaces_are_isolated(open_store: Any) -> None:
    one, two = open_store(), open_store()
    for store in (one, two):
        load_lexical(store)
    two.upsert_entities([ent("only in two")])
    one.delete_entities(["scrooge"])
    one.delete_documents(["d2"])
    assert "scrooge" in two.get_entities(["scrooge"])
    assert two.stats().documents == 2 and two.stats().entities == 4
    assert one.stats().entities == 2 and one.get_entities(["only in two"]) == {}
    assert [r.key for r in one.iter_relations()] == []
    assert len(two.neighbors(["scrooge"])["scrooge"]) == 2
    one.drop_namespace()
    assert one.stats().entities == 0
    assert two.stats().chunks == 3


class _Counting:
    """Wraps a session and counts its queries: a managed transaction (each read query is one
    round trip), or an auto-commit query (a batched write's batches, each its own transaction)."""

    def __init__(self, session: Any, counts: dict[str, int]) -> None:
        self._session, self._counts = session, counts

    def __enter__(self) -> "_Counting":
        self._session.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._session.__exit__(*exc)

    def execute_read(self, *args: Any, **kwargs: Any) -> Any:
        self._counts["read"] += 1
        return self._session.execute_read(*args, **kwargs)

    def execute_write(self, *args: Any, **kwargs: Any) -> Any:
        self._counts["write"] += 1
        return self._session.execute_write(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self._counts["write"] += 1
        return self._session.run(*args, **kwargs)


@pytest.mark.neo4j
def test_round_trips(open_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(batch_size=1000)
    counts = {"read": 0, "write": 0}
    original = store._session
    monkeypatch.setattr(store, "_session", lambda **kw: _Counting(original(**kw), counts))

    keys = [f"e{i:05d}" for i in range(2500)]
    store.upsert_entities([ent(k) for k in keys])
    assert counts == {"read": 0, "write": 1}  # 2500 rows, three transactions of 1000, one query

    store.upsert_relations([rel(keys[0], k) for k in keys[1:200]])
    assert counts == {"read": 1, "write": 2}  # one validation read, one batch

    for call in (lambda: store.neighbors(keys[:300]), lambda: store.degrees(keys),
                 lambda: store.get_entities(keys), lambda: store.stats()):
        before = counts["read"]
        call()
        assert counts["read"] == before + 1
    before = counts["read"]
    entities, relations = store.subgraph([keys[5]], depth=2)
    assert len(entities) == 200 and len(relations) == 199
    assert counts["read"] - before <= 5  # seeds, one per level, entities, relations among them


@pytest.mark.neo4j
def test_from_settings_and_the_factory(uri: str, make_settings: Any) -> None:
    from graphrag.stores.factory import build_graph_store

    settings = make_settings("my-workspace", graph_store="neo4j", neo4j_uri=uri, neo4j_batch_size=7,
                             neo4j_write_concurrency=3)
    store = build_graph_store(settings)
    try:
        assert isinstance(store, Neo4jGraphStore)
        assert store.namespace == "my-workspace" and (store.batch_size, store.write_concurrency) == (7, 3)
    finally:
        store.close()
    settings = make_settings("ws", graph_store="neo4j", neo4j_uri=uri, graph_namespace="custom-ns")
    store = Neo4jGraphStore.from_settings(settings)
    try:
        assert store.namespace == "custom-ns"
    finally:
        store.close()


@pytest.mark.neo4j
def test_documents_and_chunks_round_trip(store: Neo4jGraphStore) -> None:
    record = DocumentRecord(id="d1", source="a.txt", title="A", content_hash="h", status="failed",
                            error="boom", n_chunks=1, ingested_at=None, timings={"extract": 0.5})
    store.upsert_documents([record])
    store.upsert_chunks([Chunk(id="c1", document_id="d1", text="x'}) DELETE n", order=0, n_tokens=3)])
    assert list(store.iter_documents()) == [record]
    assert list(store.iter_chunks()) == [Chunk(id="c1", document_id="d1", text="x'}) DELETE n", order=0, n_tokens=3)]
