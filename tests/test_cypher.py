"""User Cypher: read-only, bounded, and refused cleanly when it would write or administer.

The attack table (tests/cypher_attacks.py) runs against the test Neo4j: every attempt must
be refused and leave the database exactly as it was, and a transaction another client holds
open meanwhile must survive. Reads that look like writes to a naive lexer must run.
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
from tests.cypher_attacks import ATTACKS, LEXICAL_REFUSALS

WRITE_ATTEMPTS = ATTACKS  # the name other test modules import

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
    ("MATCH p = (:Entity {workspace: $workspace})-[:RELATED*1..2]-() RETURN p LIMIT 2", {}, 2),
    ("CALL { MATCH (e:Entity {workspace: $workspace}) RETURN count(e) AS n } RETURN n", {}, 1),
    ("MATCH (e:Entity {workspace: $workspace}) RETURN e.name;", {}, 3),
    # what the first guard refused: `set` is a fine variable name
    ("MATCH (set:Entity) RETURN count(set) AS n", {}, 1),
    ("MATCH (create:Entity)-[delete:RELATED]->(merge) RETURN create.key, delete.key, merge.key", {}, 3),
    ("MATCH (show:Entity) WITH show AS use RETURN use.key AS key", {}, 3),
    # escapes as Neo4j reads them
    ("M\\u0041TCH (e:Entity) RETURN e.name AS name", {}, 3),
    ("MATCH (e:Entity) RETURN '\\u0041' AS a, e.name AS `\\u0041`", {}, 3),
    ("RETURN \"\\\\u0041\" AS literal_backslash_u", {}, 1),
]



@pytest.mark.parametrize("query", LEXICAL_REFUSALS)
def test_lexical_layer_refuses_without_a_server(query: str) -> None:
    with pytest.raises(CypherNotAllowedError):
        check_read_only(query)


@pytest.mark.parametrize(("query", "params", "rows"), READ_QUERIES)
def test_lexical_layer_allows_reads(query: str, params: dict, rows: int | None) -> None:
    check_read_only(query)


def test_refusal_says_what_and_why() -> None:
    with pytest.raises(CypherNotAllowedError, match="LOAD CSV reads files.*read-only"):
        check_read_only("L\\u004fAD CSV FROM 'file:///etc/passwd' AS row RETURN row")
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
    """What an attempt could change: the seeded workspace in full, the counts, labels,
    relationship types and property keys of the database, its indexes and constraints, and
    (through the system database) its users and databases."""
    def rows(query: str, database: str | None = store.database) -> list[dict]:
        records = store._driver.execute_query(query, {"ws": store.namespace}, database_=database).records
        return [r.data() for r in records]

    return (
        rows("MATCH (n {workspace: $ws}) RETURN elementId(n) AS id, labels(n) AS l, properties(n) AS p ORDER BY id"),
        rows("MATCH ()-[r {workspace: $ws}]->() RETURN elementId(r) AS id, type(r) AS t, properties(r) AS p ORDER BY id"),
        rows("MATCH (n) WHERE n.workspace = $ws OR any(l IN labels(n) WHERE l STARTS WITH 'Pwned') "
             "RETURN count(n) AS n"),
        rows("CALL db.labels() YIELD label WHERE label STARTS WITH 'Pwned' RETURN label"),
        rows("CALL db.relationshipTypes() YIELD relationshipType AS t WHERE t = 'PWNED' RETURN t"),
        rows("CALL db.propertyKeys() YIELD propertyKey WHERE propertyKey = 'pwned' RETURN propertyKey"),
        rows("SHOW INDEXES YIELD name WHERE name STARTS WITH 'graphrag_' OR name = 'pwned' RETURN name ORDER BY name"),
        rows("SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'graphrag_' OR name = 'pwned' "
             "RETURN name ORDER BY name"),
        rows("SHOW USERS YIELD user RETURN user ORDER BY user", "system"),
        rows("SHOW DATABASES YIELD name, currentStatus RETURN DISTINCT name, currentStatus ORDER BY name", "system"),
    )


@pytest.fixture
def open_transaction(seeded: Any) -> Iterator[tuple[Any, str]]:
    """A transaction another client holds open (with a query in it), and its id."""
    session = seeded._driver.session(database=seeded.database)
    tx = session.begin_transaction(metadata={"app": "graphrag-test-victim"})
    assert tx.run("MATCH (n {workspace: $ws}) RETURN count(n) AS n", ws=seeded.namespace).single()["n"] == 3
    ids = [
        r["id"] for r in seeded._driver.execute_query(
            "SHOW TRANSACTIONS YIELD transactionId AS id, metaData WHERE metaData.app = 'graphrag-test-victim' "
            "RETURN id", database_=seeded.database,
        ).records
    ]
    assert len(ids) == 1, ids
    yield tx, ids[0]
    if not tx.closed():
        tx.rollback()
    session.close()


@pytest.mark.neo4j
def test_attack_table_is_refused_changes_nothing_and_kills_nobody(
    seeded: Any, open_transaction: tuple[Any, str]
) -> None:
    from graphrag.errors import StoreError
    from tests.cypher_attacks import NEO4J_REJECTS, SCHEMA_COMMANDS, TERMINATE_TEMPLATES

    victim, victim_id = open_transaction
    attempts = ATTACKS + [t.format(tx=victim_id) for t in TERMINATE_TEMPLATES]
    assert len(attempts) >= 60
    before = database_state(seeded)
    for all_workspaces in (False, True):
        for query in attempts:
            neo4j_refuses = query in NEO4J_REJECTS or (query in SCHEMA_COMMANDS and not all_workspaces)
            with pytest.raises((CypherNotAllowedError, StoreError) if neo4j_refuses else CypherNotAllowedError):
                seeded.run_read_cypher(query, all_workspaces=all_workspaces)
    assert database_state(seeded) == before
    # The other client's transaction was never terminated: it still runs queries and commits.
    assert victim.run("MATCH (n {workspace: $ws}) RETURN count(n) AS n", ws=seeded.namespace).single()["n"] == 3
    victim.commit()


@pytest.mark.neo4j
def test_the_issue_findings_are_refused_by_the_guard_not_by_luck(seeded: Any) -> None:
    """Each finding of issue 11 is refused with the guard's own reason (not a Neo4j error)."""
    from tests.cypher_attacks import ESCAPES

    for query in ESCAPES[:8]:
        with pytest.raises(CypherNotAllowedError, match="^refused: "):
            seeded.run_read_cypher(query, all_workspaces=True)


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
def test_a_parameter_neo4j_cannot_encode_is_a_refusal_not_a_crash(seeded: Any) -> None:
    # Found by the API fuzzer: 2**63 does not fit Neo4j's 64-bit integers.
    with pytest.raises(CypherNotAllowedError, match="64 bits"):
        seeded.run_read_cypher("RETURN $x AS x", {"x": 2**63})


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


@pytest.mark.parametrize("query", [
    "RETURN apoc.cypher.runFirstColumnSingle('SHOW USERS', {}) AS x",
    "RETURN `apoc.cypher.runFirstColumnSingle`('SHOW USERS', {}) AS x",
    "RETURN apoc /* */ . cypher . runFirstColumnSingle('SHOW USERS', {}) AS x",
    "RETURN ap\\u006fc.cypher.runFirstColumnSingle('SHOW USERS', {}) AS x",
    "MATCH (n) WHERE apoc.load.json('file:///etc/passwd') IS NOT NULL RETURN n",
])
def test_user_defined_functions_are_refused(query: str) -> None:
    """Plugin functions (not built in, as the server's SHOW FUNCTIONS says) can read files or
    run Cypher of their own: refused, however the name is written."""
    from graphrag.cypher_guard import prepare

    udfs = {"apoc.cypher.runfirstcolumnsingle", "apoc.load.json"}
    for workspace in ("w", None):
        with pytest.raises(CypherNotAllowedError, match="user-defined function"):
            prepare(query, {}, workspace=workspace, functions=udfs, user_functions=udfs)


_DANGEROUS = [
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "SHOW USERS",
    "SHOW TRANSACTIONS",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    "CALL db.clearQueryCaches()",
    "CALL dbms.listConfig()",
    "MATCH (n) DETACH DELETE n",
    "CREATE (:Pwned)",
    "MATCH (n:Entity) SET n.name = 'pwned'",
    "CREATE INDEX pwned FOR (n:Pwned) ON (n.x)",
]
_GAPS = [" ", "/* */", "//x\n", "\\u0020", "\\u000a", "\u00a0", "\u3000", "\t"]


@pytest.mark.neo4j
def test_generated_escapes_and_comments_never_get_through(seeded: Any) -> None:
    """Each dangerous statement with random characters written as \\uXXXX and random
    comments or whitespace between its words: always refused, and nothing changes."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from graphrag.errors import StoreError

    before = database_state(seeded)

    @st.composite
    def disguised(draw: Any) -> str:
        query = draw(st.sampled_from(_DANGEROUS))
        out = []
        in_string = False
        for ch in query:
            if ch == "'":
                in_string = not in_string
            if ch == " " and not in_string:
                out.append(draw(st.sampled_from(_GAPS)))
            elif ch.isalpha() and draw(st.booleans()):
                out.append(f"\\u{ord(ch):04x}" if draw(st.booleans()) else f"\\u{ord(ch):04X}")
            else:
                out.append(ch)
        return "".join(out)

    @settings(max_examples=200, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(disguised(), st.booleans())
    def attempt(query: str, all_workspaces: bool) -> None:
        with pytest.raises((CypherNotAllowedError, StoreError)):
            seeded.run_read_cypher(query, all_workspaces=all_workspaces)

    attempt()
    assert database_state(seeded) == before
