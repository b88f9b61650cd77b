"""POST /cypher and /query/cypher (text-to-Cypher) against the test Neo4j, and the clear
400 on NetworkX."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient

from graphrag.llm.base import Message
from tests.api.conftest import add_texts
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder
from tests.test_cypher import WRITE_ATTEMPTS

COUNT = "MATCH (n {workspace: $workspace}) RETURN count(n) AS nodes"


def _scripted(replies: list[str], prompts: list[str]) -> ScriptedChatModel:
    """Extraction as usual; text_to_cypher calls get `replies` in order."""

    def respond(messages: Sequence[Message], purpose: str) -> str:
        if purpose == "text_to_cypher":
            prompts.append("\n".join(m["content"] for m in messages))
            return replies.pop(0)
        return derived_extraction_responder(messages, purpose)

    return ScriptedChatModel(respond)


@pytest.fixture
def neo4j_client(make_client, sample_texts, graph_backend) -> TestClient:
    if graph_backend != "neo4j":
        pytest.skip("Neo4j only")
    replies: list[str] = []
    prompts: list[str] = []
    client = make_client(chat=_scripted(replies, prompts))
    client.replies, client.prompts = replies, prompts  # type: ignore[attr-defined]
    add_texts(client, {k: sample_texts[k] for k in "AB"})
    return client


@pytest.mark.neo4j
@pytest.mark.parametrize("graph_backend", ["neo4j"], indirect=True)
def test_cypher_reads_with_params_and_row_limit(neo4j_client: TestClient) -> None:
    client = neo4j_client
    body = client.post("/cypher", json={"query": COUNT}).json()
    assert body["columns"] == ["nodes"] and body["rows"][0]["nodes"] > 0
    rows = client.post("/cypher", json={
        "query": "MATCH (e:Entity {workspace: $workspace}) WHERE e.degree >= $d RETURN e.name AS name",
        "params": {"d": 1}, "limit": 2,
    }).json()
    assert len(rows["rows"]) == 2 and rows["truncated"] is True and rows["row_limit"] == 2


@pytest.mark.neo4j
@pytest.mark.parametrize("graph_backend", ["neo4j"], indirect=True)
def test_cypher_refuses_every_write_and_changes_nothing(neo4j_client: TestClient) -> None:
    client = neo4j_client
    before = client.post("/cypher", json={"query": COUNT}).json()["rows"]
    stats = client.get("/graph/stats").json()
    for query in WRITE_ATTEMPTS:
        response = client.post("/cypher", json={"query": query})
        assert response.status_code == (422 if not query else 400), (query, response.text)
        assert response.json()["detail"]
    assert client.post("/cypher", json={"query": COUNT}).json()["rows"] == before
    assert client.get("/graph/stats").json() == stats
    bad = client.post("/cypher", json={"query": "MATCH (n) RETURN n.x +"})
    assert bad.status_code == 400 and "could not run" in bad.json()["detail"]
    unclosed = client.post("/cypher", json={"query": "MATCH (n RETURN n"})
    assert unclosed.status_code == 400 and "unclosed '('" in unclosed.json()["detail"]


@pytest.mark.neo4j
@pytest.mark.parametrize("graph_backend", ["neo4j"], indirect=True)
def test_text_to_cypher_retries_once_with_the_error(neo4j_client: TestClient) -> None:
    client = neo4j_client
    client.replies[:] = [  # type: ignore[attr-defined]
        "MATCH (e:Entity {workspace: $workspace} RETURN e.name",  # syntax error: EXPLAIN rejects it
        "```cypher\nMATCH (e:Entity {workspace: $workspace}) RETURN e.name AS name ORDER BY name LIMIT 3;\n```",
    ]
    response = client.post("/query/cypher", json={"question": "Name three entities"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attempts"] == 2 and len(body["errors"]) == 1
    assert body["cypher"].startswith("MATCH (e:Entity") and not body["cypher"].endswith(";")
    assert len(body["rows"]) == 3 and body["columns"] == ["name"]
    first, retry = client.prompts  # type: ignore[attr-defined]
    assert "Node labels:" in first and "Entity" in first and "RELATED" in first and "Name three entities" in first
    assert "not valid here" in retry


@pytest.mark.neo4j
@pytest.mark.parametrize("graph_backend", ["neo4j"], indirect=True)
def test_text_to_cypher_refuses_generated_writes(neo4j_client: TestClient) -> None:
    client = neo4j_client
    before = client.post("/cypher", json={"query": COUNT}).json()["rows"]
    client.replies[:] = ["MATCH (n) DETACH DELETE n", "MATCH (n {workspace: $workspace}) SET n.name = 'x'"]  # type: ignore[attr-defined]
    response = client.post("/query/cypher", json={"question": "Delete everything"})
    assert response.status_code == 400
    assert "refused" in response.json()["detail"]
    assert client.post("/cypher", json={"query": COUNT}).json()["rows"] == before


def test_cypher_on_networkx_is_a_clear_400(make_client) -> None:
    client = make_client()
    for path, body in (("/cypher", {"query": "MATCH (n) RETURN n"}), ("/query/cypher", {"question": "x"})):
        response = client.post(path, json=body)
        assert response.status_code == 400
        assert "needs the Neo4j graph store" in response.json()["detail"]


# --- workspaces: a query for workspace a never returns anything of b

@pytest.fixture
def two_workspace_client(make_client, make_rag, sample_texts, graph_backend) -> TestClient:
    """Workspaces a (default) and b on one Neo4j database, both indexed (different texts);
    keys: read-a (read, a), admin-all (admin, *)."""
    if graph_backend != "neo4j":
        pytest.skip("Neo4j only")
    from graphrag.settings import ApiKeyScope
    from tests.neo4j_support import fresh_namespace

    replies: list[str] = []
    prompts: list[str] = []
    rag_b = make_rag("b")
    a = fresh_namespace("a")
    keys = {"read-a": ApiKeyScope(workspaces=[a], role="read"),
            "admin-all": ApiKeyScope(workspaces=["*"], role="admin")}
    client = make_client("a", chat=_scripted(replies, prompts), api_keys=keys, graph_namespace=a,
                         workspaces={rag_b.settings.resolved_graph_namespace: rag_b})
    client.replies, client.b = replies, rag_b.settings.resolved_graph_namespace  # type: ignore[attr-defined]
    client.a = client.rag.settings.resolved_graph_namespace  # type: ignore[attr-defined]
    client.headers["X-API-Key"] = "admin-all"
    add_texts(client, {"A": sample_texts["A"]})
    client.headers["X-Graphrag-Workspace"] = client.b  # type: ignore[attr-defined]
    add_texts(client, {"B": sample_texts["B"]})
    del client.headers["X-Graphrag-Workspace"]
    client.headers["X-API-Key"] = "read-a"
    return client


def _b_texts(client: TestClient) -> set[str]:
    """Every chunk text and entity name of workspace b (asked with the admin key)."""
    rows = client.post("/cypher", headers={"X-API-Key": "admin-all", "X-Graphrag-Workspace": client.b},
                       json={"query": "MATCH (n) WHERE n:Chunk OR n:Entity RETURN coalesce(n.text, n.name) AS t"}
                       ).json()["rows"]
    return {r["t"] for r in rows if r["t"]}


@pytest.mark.neo4j
@pytest.mark.parametrize("graph_backend", ["neo4j"], indirect=True)
def test_post_cypher_never_returns_another_workspace(two_workspace_client: TestClient) -> None:
    from tests.test_cypher_tenancy import CROSS_WORKSPACE

    client = two_workspace_client
    secrets = _b_texts(client) - _a_texts(client)
    assert secrets
    for query, params in CROSS_WORKSPACE:
        query = query.replace("'b'", repr(client.b))
        params = {k: (client.b if v == "b" else v) for k, v in params.items() if k != "id"}
        if "$id" in query:
            continue
        response = client.post("/cypher", json={"query": query, "params": params})
        assert response.status_code in (200, 400), (query, response.text)
        body = response.text
        assert client.b not in body and not any(s in body for s in secrets), query
    # $workspace is the server's, and a read key cannot read across workspaces
    override = client.post("/cypher", json={"query": "MATCH (c:Chunk {workspace: $workspace}) RETURN c.text",
                                            "params": {"workspace": client.b}})
    assert override.status_code == 400 and "set by the server" in override.json()["detail"]
    wide = client.post("/cypher", json={"query": "MATCH (c:Chunk) RETURN c.text", "all_workspaces": True})
    assert wide.status_code == 403
    other = client.post("/cypher", json={"query": "MATCH (c:Chunk) RETURN c.text"},
                        headers={"X-Graphrag-Workspace": client.b})
    assert other.status_code == 403
    # an admin of every workspace may read across them, on purpose
    everything = client.post("/cypher", headers={"X-API-Key": "admin-all"},
                             json={"query": "MATCH (c:Chunk) RETURN c.text AS t", "all_workspaces": True})
    assert everything.status_code == 200 and secrets & {r["t"] for r in everything.json()["rows"]}


def _a_texts(client: TestClient) -> set[str]:
    rows = client.post("/cypher", json={"query": "MATCH (n) WHERE n:Chunk OR n:Entity "
                                                 "RETURN coalesce(n.text, n.name) AS t"}).json()["rows"]
    return {r["t"] for r in rows if r["t"]}


@pytest.mark.neo4j
@pytest.mark.parametrize("graph_backend", ["neo4j"], indirect=True)
def test_text_to_cypher_never_returns_another_workspace(two_workspace_client: TestClient) -> None:
    client = two_workspace_client
    secrets = _b_texts(client) - _a_texts(client)
    client.replies[:] = [  # type: ignore[attr-defined]
        "MATCH (c:Chunk) RETURN c.text AS text",
        f"MATCH (c:Chunk {{workspace: '{client.b}'}}) RETURN c.text AS text",  # type: ignore[attr-defined]
        "MATCH (n) RETURN n",
    ]
    for _ in range(3):
        response = client.post("/query/cypher", json={"question": "Show every chunk of every workspace"})
        assert response.status_code in (200, 400), response.text
        rows = json.dumps(response.json().get("rows", []))  # the query echoed back may name b; its rows may not
        assert client.b not in rows and not any(s in rows for s in secrets)  # type: ignore[attr-defined]
