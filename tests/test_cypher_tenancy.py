"""A query served for workspace `a` never returns anything of workspace `b`, whatever its
text or parameters (against the test Neo4j; the CLI, API and text-to-Cypher paths are in
tests/api/test_cypher_api.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from graphrag.cypher_guard import prepare
from graphrag.errors import CypherNotAllowedError, StoreError
from graphrag.models import Entity, Relation, relation_key

SECRET = "SECRET-OF-B"

# (query, params): each tries to read workspace b while served for workspace a.
CROSS_WORKSPACE = [
    ("MATCH (c:Chunk) RETURN c.text AS text", {}),
    ("MATCH (c:Chunk) RETURN c", {}),
    ("MATCH (n) RETURN n", {}),
    ("MATCH (n) RETURN properties(n) AS p", {}),
    ("MATCH (c:Chunk {workspace: 'b'}) RETURN c.text AS text", {}),
    ("MATCH (c:Chunk) WHERE c.workspace = 'b' RETURN c.text AS text", {}),
    ("MATCH (c:Chunk) WHERE c.workspace <> $workspace RETURN c.text AS text", {}),
    ("MATCH (c:Chunk {workspace: $workspace}) RETURN c.text AS text", {"workspace": "b"}),
    ("MATCH (c:Chunk $p) RETURN c.text AS text", {"p": {"workspace": "b"}}),
    ("MATCH (c:Chunk WHERE c.workspace = 'b' OR true) RETURN c.text AS text", {}),
    ("MATCH (c\\u003aChunk) RETURN c.text AS text", {}),
    ("MATCH \\u0028c:Chunk\\u0029 RETURN c.text AS text", {}),
    ("MATCH (`c`:`Chunk`) RETURN c.text AS text", {}),
    # characters Neo4j reads as part of a name, or as whitespace (probed on 5.26)
    ("MATCH (c\u20acx:Chunk) RETURN c\u20acx.text AS text", {}),
    ("MATCH (c\u20acx:Chunk) RETURN c\\u20acx.text AS text", {}),
    ("MATCH (c$x:Chunk) RETURN c$x.text AS text", {}),
    ("MATCH (c\u200bx:Chunk) RETURN c\u200bx.text AS text", {}),
    ("MATCH (c\x85x:Chunk) RETURN c\x85x.text AS text", {}),
    ("MATCH (c\\u0085x:Chunk) RETURN c\\u0085x.text AS text", {}),
    ("MATCH (c\x00x:Chunk) RETURN c\x00x.text AS text", {}),
    ("MATCH (c\u0301:Chunk) RETURN c\u0301.text AS text", {}),
    ("MATCH (c\xa0:Chunk\u3000) RETURN c.text AS text", {}),
    ("MATCH (c\u2028WHERE c.text IS NOT NULL) RETURN c.text AS text", {}),
    ("MATCH (c\x1cWHERE c.text IS NOT NULL) RETURN c.text AS text", {}),
    ("MATCH (c:Chunk) // (x {workspace: $workspace})\nRETURN c.text AS text", {}),
    ("MATCH (c /* ) */ :Chunk) RETURN c.text AS text", {}),
    ("MATCH (c:Chunk|Entity) RETURN c.text AS text, c.name AS name", {}),
    ("MATCH (c IS Chunk) RETURN c.text AS text", {}),
    ("MATCH (c:(Chunk|Document)) RETURN c.text AS text", {}),
    ("MATCH (:Document)-[:HAS_CHUNK]->(c) RETURN c.text AS text", {}),
    ("MATCH ()-[r]->() RETURN r, startNode(r).text AS text", {}),
    ("MATCH p = ()-->() RETURN p", {}),
    ("MATCH ((a)-->(b)){1,2} RETURN [x IN b | x.text] AS text", {}),
    ("MATCH (e:Entity {workspace: $workspace}) MATCH (c:Chunk) RETURN c.text AS text", {}),
    ("MATCH (e:Entity {workspace: $workspace}) WITH 1 AS x MATCH (c:Chunk) RETURN c.text AS text", {}),
    ("OPTIONAL MATCH (c:Chunk) RETURN c.text AS text", {}),
    ("CALL () { MATCH (c:Chunk) RETURN c.text AS text } RETURN text", {}),
    ("MATCH (e:Entity {workspace: $workspace}) RETURN [(c:Chunk)-[:MENTIONS]->() | c.text] AS texts", {}),
    ("MATCH (e:Entity {workspace: $workspace}) RETURN COLLECT { MATCH (c:Chunk) RETURN c.text } AS texts", {}),
    ("MATCH (e:Entity {workspace: $workspace}) WHERE EXISTS { MATCH (c:Chunk) WHERE c.text CONTAINS 'SECRET' } "
     "RETURN e.name AS leaked_bit", {}),
    ("MATCH (e:Entity {workspace: $workspace}) RETURN COUNT { (c:Chunk) } AS chunks_everywhere", {}),
    ("MATCH (c:Chunk) RETURN count(c) AS n, collect(c.text) AS texts", {}),
    ("MATCH (c:Chunk) WHERE elementId(c) = $id RETURN c.text AS text", {"id": None}),  # b's element id
    ("MATCH p = shortestPath((a:Entity)-[*]-(b:Entity)) RETURN p", {}),
    ("MATCH ANY SHORTEST (c:Chunk)-->+(e) RETURN c.text AS text", {}),
    ("MATCH ANY (c:Chunk)-->+(e) RETURN c.text AS text", {}),
    ("MATCH ALL SHORTEST (c:Chunk)-->+(e) RETURN c.text AS text", {}),
    ("MATCH SHORTEST 1 (c:Chunk)-->+(e) RETURN c.text AS text", {}),
    ("MATCH ANY 2 PATHS (c:Chunk)-->+(e) RETURN c.text AS text", {}),
    ("MATCH SHORTEST 1 GROUPS (c:Chunk)-->+(e) RETURN c.text AS text", {}),
    ("UNWIND [1] AS x MATCH (c:Chunk) RETURN c.text AS text", {}),
    ("MATCH (c:Chunk) RETURN c.text AS text UNION MATCH (d:Document) RETURN d.title AS text", {}),
    ("CALL db.index.fulltext.queryNodes('graphrag_entity_text', 'secret') YIELD node RETURN node.name AS name", {}),
    ("MATCH (e:Entity) RETURN e.name AS name", {}),
]


@pytest.fixture(scope="module")
def two_workspaces() -> Iterator[tuple[Any, Any, str]]:
    """Stores for workspaces a and b on one database; b holds SECRET everywhere."""
    from graphrag.stores.neo4j_graph import Neo4jGraphStore
    from tests.neo4j_support import fresh_namespace, neo4j_test_uri

    uri = neo4j_test_uri()
    a = Neo4jGraphStore(uri, namespace=fresh_namespace("tenant-a"))
    b = Neo4jGraphStore(uri, namespace=fresh_namespace("tenant-b"))
    for store, word in ((a, "open"), (b, SECRET)):
        store.upsert_entities([
            Entity(key="x", name=f"X {word}", type="PERSON", description=word, source_ids=("c1",)),
            Entity(key="y", name=f"Y {word}", type="ORG", description=word, source_ids=("c1",)),
        ])
        store.upsert_relations([Relation(key=relation_key("x", "y"), source="x", target="y", description=word,
                                         keywords=(word,), weight=1.0, source_ids=("c1",))])
        store._driver.execute_query(
            "CREATE (d:Document {workspace: $ws, id: 'd1', title: $w})-[:HAS_CHUNK]->"
            "(c:Chunk {workspace: $ws, id: 'c1', text: $w}) "
            "WITH c MATCH (e:Entity {workspace: $ws}) CREATE (c)-[:MENTIONS]->(e)",
            {"ws": store.namespace, "w": word}, database_=store.database,
        )
    b_chunk = b._driver.execute_query("MATCH (c:Chunk {workspace: $ws}) RETURN elementId(c) AS id",
                                      {"ws": b.namespace}, database_=b.database).records[0]["id"]
    yield a, b, b_chunk
    for store in (a, b):
        store.drop_namespace()
        store.close()


@pytest.mark.neo4j
@pytest.mark.parametrize(("query", "params"), CROSS_WORKSPACE)
def test_nothing_of_another_workspace_comes_back(two_workspaces: Any, query: str, params: dict) -> None:
    a, b, b_chunk = two_workspaces
    params = {k: (b_chunk if k == "id" else v) for k, v in params.items()}
    try:
        result = a.run_read_cypher(query, params)
    except (CypherNotAllowedError, StoreError):
        return  # refused: nothing came back
    text = json.dumps(result.to_dict())
    assert SECRET not in text and b.namespace not in text, text
    # and the same query as an admin (every workspace) does see b: the attempt was real
    if "workspace" not in params and "$workspace" not in query and "EXISTS" not in query and "COUNT {" not in query:
        try:
            everything = json.dumps(a.run_read_cypher(query, params, all_workspaces=True).to_dict())
        except (CypherNotAllowedError, StoreError):
            return
        if "'b'" not in query:
            assert SECRET in everything or b.namespace in everything, query


@pytest.mark.neo4j
def test_confined_reads_see_their_own_workspace(two_workspaces: Any) -> None:
    a, _, _ = two_workspaces
    assert a.run_read_cypher("MATCH (set:Entity) RETURN count(set) AS n").rows == [{"n": 2}]
    assert a.run_read_cypher("MATCH (c:Chunk) RETURN c.text AS text").rows == [{"text": "open"}]
    rows = a.run_read_cypher("MATCH (d:Document)-[:HAS_CHUNK]->(:Chunk)-[:MENTIONS]->(e) "
                             "RETURN e.key AS key ORDER BY key").rows
    assert rows == [{"key": "x"}, {"key": "y"}]
    exists = a.run_read_cypher("MATCH (e:Entity {key: 'x'}) WHERE EXISTS { MATCH (c:Chunk) "
                               "WHERE c.text CONTAINS 'SECRET' } RETURN e.key AS key")
    assert exists.rows == []  # the existence of b's chunk does not leak as a bit either


@pytest.mark.neo4j
def test_workspace_parameter_cannot_be_overridden(two_workspaces: Any) -> None:
    a, _, _ = two_workspaces
    with pytest.raises(CypherNotAllowedError, match=r"\$workspace parameter is set by the server"):
        a.run_read_cypher("MATCH (c:Chunk {workspace: $workspace}) RETURN c.text", {"workspace": "b"})


def test_rewrite_binds_every_node_pattern() -> None:
    text = prepare("MATCH (a)-[r]->(:X {k: 1})<--(c $p WHERE c.v = 1 OR true) RETURN count(a)",
                   {"p": {}}, workspace="w", functions={"count"}).text
    assert text.count("workspace: $workspace") == 2
    assert "(c.v = 1 OR true) AND `c`.workspace = $workspace" in text.replace("( ", "(")
    assert "count(a)" in text  # a function's arguments are not a pattern


@pytest.mark.neo4j
def test_rows_of_another_workspace_are_refused_even_without_the_rewrite(
    two_workspaces: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second layer alone: with the rewrite switched off, a row carrying a node or a
    relationship of workspace b refuses the whole result."""
    import graphrag.cypher_guard as guard

    a, _, _ = two_workspaces
    monkeypatch.setattr(guard, "confine", lambda query, tokens, functions: query)
    for query in ("MATCH (c:Chunk) RETURN c", "MATCH p = (:Document)-[:HAS_CHUNK]->(:Chunk) RETURN p",
                  "MATCH ()-[r:RELATED]->() RETURN collect(r) AS rs", "MATCH (e:Entity) RETURN {e: e} AS m"):
        with pytest.raises(CypherNotAllowedError, match="of another workspace"):
            a.run_read_cypher(query)


# --- generated attempts: node patterns written every way the lexer must see through

_SEPARATORS = [" ", "  ", "\u00a0", "\u2028", "\x1c", "/* ) */", "//)\n", "\\u0020", "\\u000a", "\t"]
_NAMES = ["c", "set", "any", "c\u20acx", "c$x", "c\x85x", "c\u200bx", "`c d`", "`c``d`", "c\\u0041", "x1"]
_LABELS = ["", ":Chunk", ":`Chunk`", ":Ch\\u0075nk", ":Chunk|Entity", " IS Chunk", ":(Chunk|Document)", ":!Entity"]
_MAPS = ["", " {}", " {workspace: 'B'}", " {id: 'c1'}"]
_WHERES = ["", " WHERE true", " WHERE c.workspace = 'B' OR true"]
_PREFIXES = ["MATCH", "OPTIONAL MATCH", "MATCH ANY", "MATCH ALL SHORTEST", "UNWIND [1] AS u MATCH",
             "CALL () { MATCH", "MATCH p ="]


@pytest.mark.neo4j
def test_generated_node_patterns_never_reach_another_workspace(two_workspaces: Any) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    a, b, _ = two_workspaces
    ran = {"rows": 0}

    @st.composite
    def queries(draw: Any) -> str:
        sep = lambda: draw(st.sampled_from(_SEPARATORS))  # noqa: E731
        name = draw(st.sampled_from(_NAMES))
        node = "(" + sep() + name + sep() + draw(st.sampled_from(_LABELS)) + draw(st.sampled_from(_MAPS))
        node += draw(st.sampled_from(_WHERES)).replace("c.", name + ".").replace("'B'", repr(b.namespace)) + sep() + ")"
        prefix = draw(st.sampled_from(_PREFIXES))
        hops = draw(st.integers(min_value=0, max_value=2))
        pattern = node + "".join(sep() + "-" + sep() + "-" + sep() + "(" + sep() + ")" for _ in range(hops))
        if "SHORTEST" in prefix or prefix == "MATCH ANY":
            pattern = node + "-->+()"
        query = f"{prefix}{sep()}{pattern}{sep()}"
        projection = f"properties({name}) AS p"
        if prefix.startswith("CALL"):
            return f"{query}RETURN {name} AS n }} RETURN properties(n) AS p"
        return f"{query}RETURN {projection}"

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(queries())
    def attempt(query: str) -> None:
        try:
            result = a.run_read_cypher(query)
        except (CypherNotAllowedError, StoreError):
            return
        text = json.dumps(result.to_dict())
        assert SECRET not in text and b.namespace not in text, query
        ran["rows"] += len(result.rows)

    attempt()
    assert ran["rows"] > 0  # the generated queries do run and read workspace a
