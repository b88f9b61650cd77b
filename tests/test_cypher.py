"""User Cypher: read-only, bounded, and refused cleanly when it would write or administer.

Every attempt in WRITE_ATTEMPTS must raise CypherNotAllowedError and leave the database
exactly as it was; the static check is also tested alone (no server), and the READ session
is tested alone by switching the static check off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from graphrag.cypher import check_read_only
from graphrag.errors import BackendNotSupportedError, CypherNotAllowedError
from graphrag.models import Entity, relation_key
from graphrag.models import Relation

WRITE_ATTEMPTS = [
    # plain writes
    "CREATE (n:Entity {workspace: $workspace, key: 'x'})",
    "MERGE (n:Entity {workspace: $workspace, key: 'scrooge'}) RETURN n",
    "MATCH (n:Entity) SET n.name = 'pwned'",
    "MATCH (n:Entity) SET n += {name: 'pwned'}",
    "MATCH (n:Entity) SET n:Pwned",
    "MATCH (n) DELETE n",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n) NODETACH DELETE n",
    "MATCH (n:Entity) REMOVE n.name",
    "MATCH (n:Entity) REMOVE n:Entity",
    "MATCH ()-[r:RELATED]->() DELETE r",
    "INSERT (n:Pwned)",
    "FOREACH (x IN [1, 2] | CREATE (:Pwned {x: x}))",
    "MATCH (n:Entity) WITH collect(n) AS ns FOREACH (n IN ns | SET n.name = 'pwned')",
    "MATCH (n) CALL (n) { DETACH DELETE n }",
    "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10 ROWS",
    "CALL { MATCH (n) RETURN n } IN TRANSACTIONS RETURN n",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "LOAD CSV WITH HEADERS FROM 'http://example.com/x.csv' AS row CREATE (:Pwned)",
    "USING PERIODIC COMMIT 10 LOAD CSV FROM 'file:///x.csv' AS row CREATE (:Pwned)",
    # procedures that write or administer
    "CALL db.createLabel('Pwned')",
    "CALL db.createProperty('pwned')",
    "CALL db.createRelationshipType('PWNED')",
    "CALL `db`.`createLabel`('Pwned')",
    "CALL `db.createLabel`('Pwned')",
    "CALL db . createLabel('Pwned')",
    "CALL dbms.killQuery('query-1')",
    "CALL dbms.security.createUser('eve', 'secret', false)",
    "CALL dbms.setConfigValue('db.logs.query.enabled', 'OFF')",
    "CALL db.clearQueryCaches()",
    "CALL db.create.setNodeVectorProperty(null, 'v', [1.0])",
    "MATCH (n) CALL apoc.nodes.delete(n, 10) YIELD value RETURN value",
    "CALL db.labels() YIELD label CALL db.createLabel(label + 'X') RETURN label",
    # schema and admin commands
    "CREATE INDEX pwned IF NOT EXISTS FOR (n:Entity) ON (n.name)",
    "CREATE RANGE INDEX pwned FOR (n:Entity) ON (n.type)",
    "CREATE FULLTEXT INDEX pwned FOR (n:Entity) ON EACH [n.name]",
    "CREATE CONSTRAINT pwned FOR (n:Pwned) REQUIRE n.id IS UNIQUE",
    "DROP INDEX graphrag_entity_text",
    "DROP CONSTRAINT graphrag_entity_key",
    "DROP DATABASE neo4j",
    "CREATE DATABASE pwned",
    "STOP DATABASE neo4j",
    "START DATABASE neo4j",
    "ALTER USER neo4j SET PASSWORD 'pwned'",
    "ALTER CURRENT USER SET PASSWORD FROM 'a' TO 'b'",
    "CREATE USER eve SET PASSWORD 'secret'",
    "GRANT ROLE admin TO eve",
    "DENY READ {*} ON GRAPH * TO PUBLIC",
    "REVOKE ROLE admin FROM neo4j",
    "RENAME ROLE reader TO admin",
    "SHOW USERS",
    "SHOW TRANSACTIONS YIELD transactionId TERMINATE TRANSACTIONS transactionId",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    "USE system SHOW USERS",
    "ENABLE SERVER 'abc'",
    "DEALLOCATE DATABASES FROM SERVER 'abc'",
    # case and spacing
    "create (n:Pwned)",
    "CrEaTe (n:Pwned)",
    "match (n) detach delete n",
    "MATCH(n)DELETE(n)",
    "MATCH (n)\n\tDETACH\n\n  DELETE n",
    "MATCH (n)\u00a0DELETE n",
    "MATCH (n:Entity) SET\nn.name='pwned'",
    "EXPLAIN CREATE (n:Pwned)",
    "PROFILE MATCH (n) DELETE n",
    "CYPHER runtime=slotted MATCH (n) DELETE n",
    # writes hidden behind comments and strings
    "MATCH (n) RETURN n // read only\nCREATE (:Pwned)",
    "MATCH (n) WITH n // read only\rDETACH DELETE n",
    "MATCH (n) WITH n // read only\u2028DETACH DELETE n",
    "MATCH (n) /* read only */ DETACH DELETE n",
    "MATCH (n) /* ' */ DELETE n",
    "MATCH (n) /* \" */ DELETE n //\"",
    "MATCH (n) WHERE n.name = '//' DETACH DELETE n",
    "MATCH (n) WHERE n.name = '/*' DETACH DELETE n /* */",
    "MATCH (n) WHERE n.name = 'it\\'s' DETACH DELETE n",
    'MATCH (n) WHERE n.name = "a\\\\" DETACH DELETE n //"',
    "MATCH (n) WHERE n.name = 'a\\\\' DETACH DELETE n //'",
    "MATCH (n) WHERE n.name = \"'\" DELETE n //'",
    "MATCH (n) WHERE n.name = '`' DELETE n //`",
    # several statements, unterminated tokens
    "MATCH (n) RETURN n; CREATE (:Pwned)",
    "MATCH (n) RETURN count(n);MATCH (m) DETACH DELETE m;",
    "MATCH (n) WHERE n.name = 'unterminated RETURN n",
    "MATCH (n) /* unterminated DELETE n",
    "MATCH (n) RETURN n.`unterminated",
    "",
    "   // only a comment",
]

READ_QUERIES = [
    ("MATCH (e:Entity {workspace: $workspace}) RETURN e.name AS name ORDER BY name", {}, 3),
    ("MATCH (e:Entity {workspace: $workspace}) WHERE e.type = $type RETURN e.key AS key", {"type": "ORG"}, 2),
    ("RETURN 'CREATE (n) DETACH DELETE n; DROP INDEX x' AS harmless", {}, 1),
    ("MATCH (n) // DELETE everything\nWHERE n.workspace = $workspace RETURN count(n) AS n", {}, 1),
    ("MATCH (n) /* SET n.x = 1 */ WHERE n.workspace = $workspace RETURN count(*) AS n", {}, 1),
    ("MATCH (e:Entity {workspace: $workspace}) RETURN e.set, e.create, {delete: 1, merge: 2} AS m LIMIT 1", {}, 1),
    ("MATCH (start:Entity {workspace: $workspace})-[r:RELATED]->(stop) RETURN start.key, stop.key", {}, 3),
    ("MATCH (n:`Delete`) RETURN count(n) AS n", {}, 1),
    ("CALL db.labels() YIELD label RETURN label", {}, None),
    ("CALL db.index.fulltext.queryNodes('graphrag_entity_text', 'scrooge') YIELD node "
     "WHERE node.workspace = $workspace RETURN node.key AS key", {}, 1),
    ("MATCH p = (:Entity {workspace: $workspace})-[:RELATED*1..2]-() RETURN p LIMIT 2", {}, 2),
    ("CALL { MATCH (e:Entity {workspace: $workspace}) RETURN count(e) AS n } RETURN n", {}, 1),
    ("MATCH (e:Entity {workspace: $workspace}) RETURN e.name;", {}, 3),
]


@pytest.mark.parametrize("query", WRITE_ATTEMPTS)
def test_static_check_refuses(query: str) -> None:
    with pytest.raises(CypherNotAllowedError):
        check_read_only(query)


@pytest.mark.parametrize(("query", "params", "rows"), READ_QUERIES)
def test_static_check_allows_reads(query: str, params: dict, rows: int | None) -> None:
    check_read_only(query)


def test_refusal_says_what_and_why() -> None:
    with pytest.raises(CypherNotAllowedError, match="DELETE removes data.*read-only"):
        check_read_only("MATCH (n) DETACH DELETE n")
    with pytest.raises(CypherNotAllowedError, match="'db.createLabel' is not on the read-only list"):
        check_read_only("CALL db.createLabel('X')")


# --- on the test server

@pytest.fixture(scope="module")
def seeded() -> Iterator[Any]:
    from graphrag.stores.neo4j_graph import Neo4jGraphStore
    from tests.neo4j_support import fresh_namespace, neo4j_test_uri

    store = Neo4jGraphStore(neo4j_test_uri(), namespace=fresh_namespace("cypher"))
    store.upsert_entities([
        Entity(key="scrooge", name="Scrooge", type="PERSON", description="a miser", source_ids=("c1",)),
        Entity(key="marley", name="Marley", type="ORG", description="a ghost", source_ids=("c1",)),
        Entity(key="fezziwig", name="Fezziwig", type="ORG", description="a merchant", source_ids=("c2",)),
    ])
    store.upsert_relations([
        Relation(key=relation_key(a, b), source=a, target=b, description="", keywords=("k",), weight=1.0,
                 source_ids=("c1",))
        for a, b in (("scrooge", "marley"), ("scrooge", "fezziwig"), ("marley", "fezziwig"))
    ])
    yield store
    store.drop_namespace()
    store.close()


def database_state(store: Any) -> Any:
    """What the attempts could change: the seeded workspace in full, and the traces every
    other attempt would leave (a Pwned label or property key, a new or dropped index or
    constraint, a new database). Scoped like this, other tests writing elsewhere on a
    shared server cannot make it flaky."""
    def rows(query: str) -> list[dict]:
        records = store._driver.execute_query(query, {"ws": store.namespace}, database_=store.database).records
        return [r.data() for r in records]

    return (
        rows("MATCH (n {workspace: $ws}) RETURN elementId(n) AS id, labels(n) AS l, properties(n) AS p ORDER BY id"),
        rows("MATCH ()-[r {workspace: $ws}]->() RETURN elementId(r) AS id, type(r) AS t, properties(r) AS p ORDER BY id"),
        rows("CALL db.labels() YIELD label WHERE label STARTS WITH 'Pwned' RETURN label"),
        rows("CALL db.relationshipTypes() YIELD relationshipType AS t WHERE t = 'PWNED' RETURN t"),
        rows("CALL db.propertyKeys() YIELD propertyKey WHERE propertyKey = 'pwned' RETURN propertyKey"),
        rows("SHOW INDEXES YIELD name WHERE name STARTS WITH 'graphrag_' OR name = 'pwned' RETURN name ORDER BY name"),
        rows("SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'graphrag_' OR name = 'pwned' "
             "RETURN name ORDER BY name"),
        rows("SHOW DATABASES YIELD name RETURN DISTINCT name ORDER BY name"),
    )


@pytest.mark.neo4j
def test_write_attempts_are_refused_and_change_nothing(seeded: Any) -> None:
    before = database_state(seeded)
    for query in WRITE_ATTEMPTS:
        with pytest.raises(CypherNotAllowedError):
            seeded.run_read_cypher(query)
        assert database_state(seeded) == before, query


@pytest.mark.neo4j
@pytest.mark.parametrize("query", [
    "CREATE (n:Pwned) RETURN n",
    "MERGE (n:Entity {workspace: $workspace, key: 'new'})",
    "MATCH (n:Entity) SET n.name = 'pwned'",
    "MATCH (n:Entity) DETACH DELETE n",
    "MATCH (n:Entity) REMOVE n:Entity",
    "FOREACH (x IN [1] | CREATE (:Pwned))",
    "CREATE INDEX pwned IF NOT EXISTS FOR (n:Pwned) ON (n.x)",
    "CALL db.createLabel('Pwned')",
])
def test_read_session_refuses_writes_even_without_the_static_check(
    seeded: Any, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphrag.stores.neo4j_graph as module

    monkeypatch.setattr(module, "check_read_only", lambda q: None)
    before = database_state(seeded)
    with pytest.raises(CypherNotAllowedError, match="refused by Neo4j"):
        seeded.run_read_cypher(query)
    assert database_state(seeded) == before


@pytest.mark.neo4j
@pytest.mark.parametrize(("query", "params", "rows"), READ_QUERIES)
def test_reads_work(seeded: Any, query: str, params: dict, rows: int | None) -> None:
    result = seeded.run_read_cypher(query, params)
    if rows is not None:
        assert len(result.rows) == rows
    assert not result.truncated
    json.dumps(result.to_dict())  # JSON-ready, nodes and paths included


@pytest.mark.neo4j
def test_params_and_result_shape(seeded: Any) -> None:
    result = seeded.run_read_cypher(
        "MATCH (e:Entity {workspace: $workspace, key: $key}) RETURN e.name AS name, e AS node", {"key": "scrooge"}
    )
    assert result.columns == ["name", "node"]
    (row,) = result.rows
    assert row["name"] == "Scrooge"
    assert row["node"]["_labels"] == ["Entity", "Person"] and row["node"]["key"] == "scrooge"
    # A parameter is a value, never query text.
    assert seeded.run_read_cypher("RETURN $x AS x", {"x": "'}) DETACH DELETE n //"}).rows == [
        {"x": "'}) DETACH DELETE n //"}
    ]


@pytest.mark.neo4j
def test_row_limit_truncates_and_says_so(seeded: Any) -> None:
    result = seeded.run_read_cypher("UNWIND range(1, 50) AS x RETURN x", row_limit=10)
    assert [r["x"] for r in result.rows] == list(range(1, 11))
    assert result.truncated and result.row_limit == 10
    exact = seeded.run_read_cypher("UNWIND range(1, 50) AS x RETURN x", row_limit=50)
    assert len(exact.rows) == 50 and not exact.truncated


@pytest.mark.neo4j
def test_timeout_stops_a_long_query(seeded: Any) -> None:
    from graphrag.errors import StoreError

    with pytest.raises(StoreError, match="longer than 0.5 s"):
        seeded.run_read_cypher("UNWIND range(1, 500000000) AS x WITH x WHERE x = -1 RETURN count(*)", timeout=0.5)


# --- through GraphRAG and the CLI

def test_networkx_backend_says_cypher_needs_neo4j(make_settings: Any) -> None:
    from graphrag.core import GraphRAG

    with GraphRAG(make_settings()) as rag:
        with pytest.raises(BackendNotSupportedError, match="Cypher needs the Neo4j graph store.*GRAPHRAG_GRAPH_STORE=neo4j"):
            rag.cypher("MATCH (n) RETURN n")


def test_cli_on_networkx_says_cypher_needs_neo4j(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from graphrag.cli import app

    monkeypatch.delenv("GRAPHRAG_GRAPH_STORE", raising=False)
    result = CliRunner().invoke(app, ["cypher", "MATCH (n) RETURN n", "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1
    assert "Cypher needs the Neo4j graph store" in result.stderr


@pytest.mark.neo4j
def test_cli_json_output(seeded: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from graphrag.cli import app
    from tests.neo4j_support import neo4j_test_uri

    monkeypatch.setenv("GRAPHRAG_GRAPH_STORE", "neo4j")
    monkeypatch.setenv("NEO4J_URI", neo4j_test_uri())
    monkeypatch.setenv("GRAPHRAG_GRAPH_NAMESPACE", seeded.namespace)
    runner = CliRunner()
    args = ["cypher", "MATCH (e:Entity {workspace: $workspace}) WHERE e.type = $type RETURN e.key AS key ORDER BY key",
            "--param", "type=ORG", "--json", "-w", str(tmp_path / "ws")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["columns"] == ["key"]
    assert data["rows"] == [{"key": "fezziwig"}, {"key": "marley"}]
    assert data["truncated"] is False

    limited = runner.invoke(app, ["cypher", "UNWIND range(1, 5) AS x RETURN x", "--limit", "2", "--json",
                                  "--param", "unused=[1, 2]", "-w", str(tmp_path / "ws")])
    assert limited.exit_code == 0
    assert json.loads(limited.stdout)["truncated"] is True
    assert "truncated" in limited.stderr

    refused = runner.invoke(app, ["cypher", "MATCH (n) DETACH DELETE n", "-w", str(tmp_path / "ws")])
    assert refused.exit_code == 1 and "refused" in refused.stderr
    assert seeded.stats().entities == 3
