"""Graph browsing, /health, auth and the request size limit."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_entity_search_detail_subgraph_stats(graph_backend: str, indexed_client: TestClient) -> None:
    client = indexed_client
    found = client.get("/graph/entities", params={"q": "scrooge", "limit": 5}).json()
    assert 0 < len(found["entities"]) <= 5 and found["total"] >= len(found["entities"])
    top = found["entities"][0]
    assert "scrooge" in top["name"].lower()
    typed = client.get("/graph/entities", params={"type": top["type"], "limit": 1000}).json()["entities"]
    assert typed and all(e["type"] == top["type"] for e in typed)
    assert client.get("/graph/entities", params={"q": "zzzz-no-such-thing"}).json() == {"entities": [], "total": 0}

    detail = client.get(f"/graph/entities/{top['key']}").json()
    assert detail["entity"]["key"] == top["key"]
    assert detail["relations"] and all(top["key"] in (r["source"], r["target"]) for r in detail["relations"])
    assert detail["chunks"] and all(c["text"] for c in detail["chunks"])
    assert client.get(f"/graph/entities/{top['name']}").json()["entity"]["key"] == top["key"]  # by name too
    assert client.get("/graph/entities/no such entity").status_code == 404

    sub = client.get("/graph/subgraph", params={"entity": top["key"], "depth": 2, "limit": 30}).json()
    node_ids = {n["id"] for n in sub["nodes"]}
    assert sub["center"] == top["key"] and top["key"] in node_ids and len(node_ids) <= 30
    assert sub["edges"] and all(e["source"] in node_ids and e["target"] in node_ids for e in sub["edges"])
    assert client.get("/graph/subgraph", params={"entity": "nope"}).status_code == 404
    assert client.get("/graph/subgraph", params={"entity": top["key"], "depth": 99}).status_code == 422

    stats = client.get("/graph/stats").json()
    assert stats["documents"] == 3 and stats["entities"] > 0 and stats["relations"] > 0


def test_health_reports_stores_and_versions(graph_backend: str, indexed_client: TestClient) -> None:
    body = indexed_client.get("/health").json()
    assert body["status"] == "ok"
    assert body["stores"] == {"state": "ok", "graph": "ok", "vectors": "ok"}
    assert body["versions"]["graphrag"]
    if graph_backend == "neo4j":
        assert body["versions"]["neo4j_server"].startswith("Neo4j")
    assert indexed_client.get("/docs").status_code == 200
    assert "/query" in indexed_client.get("/openapi.json").json()["paths"]


def test_api_key_required_when_configured(make_client) -> None:
    client = make_client(api_key="s3cret")
    assert client.get("/health").status_code == 200  # probes stay open
    for method, path, kwargs in (
        ("GET", "/documents", {}),
        ("GET", "/graph/stats", {}),
        ("POST", "/query", {"json": {"question": "x"}}),
        ("POST", "/cypher", {"json": {"query": "RETURN 1"}}),
        ("POST", "/documents", {"json": {"documents": [{"text": "x"}]}}),
    ):
        assert client.request(method, path, **kwargs).status_code == 401, path
        assert client.request(method, path, headers={"X-API-Key": "wrong"}, **kwargs).status_code == 401, path
    assert client.get("/documents", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/documents", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/documents").json()["detail"].startswith("missing or wrong API key")


def test_no_key_configured_means_open(make_client) -> None:
    assert make_client().get("/documents").status_code == 200


def test_request_size_limit(make_client) -> None:
    client = make_client(api_max_body_bytes=4096)
    big = {"documents": [{"text": "word " * 2000}]}
    response = client.post("/documents", json=big)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    response = client.post("/documents", files=[("files", ("big.txt", b"x" * 10_000))])
    assert response.status_code == 413
    assert client.post("/query", json={"question": "small"}).status_code == 200
    # a streamed (chunked) body without Content-Length is counted as it arrives
    for path in ("/documents", "/query"):
        chunked = client.post(path, content=iter([b'{"question": "' + b"x" * 3000, b"y" * 3000 + b'"}']),
                              headers={"content-type": "application/json"})
        assert chunked.status_code == 413, (path, chunked.text)


# --- scoped keys and several workspaces per server

def _scoped_client(make_client, make_rag, texts: dict[str, str]):
    """Workspaces a (default) and b on one server; b holds one document. Keys: read-a,
    write-b, admin-all, and the legacy single key."""
    from graphrag.settings import ApiKeyScope
    from tests.api.conftest import wait_job

    keys = {
        "read-a": ApiKeyScope(workspaces=["a"], role="read"),
        "write-b": ApiKeyScope(workspaces=["b"], role="write"),
        "admin-all": ApiKeyScope(workspaces=["*"], role="admin"),
    }
    rag_b = make_rag("b", graph_namespace="b")
    client = make_client("a", api_key="legacy", workspaces={"b": rag_b}, graph_namespace="a", api_keys=keys)
    in_b = {"X-API-Key": "write-b", "X-Graphrag-Workspace": "b"}
    response = client.post("/documents", json={"documents": [{"text": texts["B"], "source": "b.txt"}]},
                           headers=in_b)
    assert response.status_code == 202, response.text
    client.headers.update(in_b)  # wait_job polls /jobs/{id} of workspace b
    assert wait_job(client, response.json()["track_id"])["status"] == "done"
    for name in in_b:
        del client.headers[name]
    return client


def test_keys_are_scoped_to_workspaces_and_roles(make_client, make_rag, sample_texts) -> None:
    client = _scoped_client(make_client, make_rag, sample_texts)

    def get(path: str, key: str, workspace: str | None = None) -> int:
        headers = {"X-API-Key": key} | ({"X-Graphrag-Workspace": workspace} if workspace else {})
        return client.get(path, headers=headers).status_code

    # read-a: workspace a (also the default), reads only
    assert get("/documents", "read-a") == 200
    assert get("/documents", "read-a", "a") == 200
    assert get("/documents", "read-a", "b") == 403
    assert client.post("/query", json={"question": "x"}, headers={"X-API-Key": "read-a"}).status_code == 200
    assert client.post("/query", json={"question": "x"},
                       headers={"X-API-Key": "read-a", "X-Graphrag-Workspace": "b"}).status_code == 403
    write = client.post("/documents", json={"documents": [{"text": "x"}]}, headers={"X-API-Key": "read-a"})
    assert write.status_code == 403 and "needs 'write'" in write.json()["detail"]
    # write-b: workspace b only
    assert get("/documents", "write-b", "b") == 200
    assert get("/documents", "write-b") == 403  # the default workspace is a
    # the legacy single key: admin of the default workspace only
    assert get("/documents", "legacy") == 200
    assert get("/documents", "legacy", "b") == 403
    # admin-all: everywhere; an unknown workspace is a 404 that names the served ones
    assert get("/documents", "admin-all", "b") == 200
    missing = client.get("/documents", headers={"X-API-Key": "admin-all", "X-Graphrag-Workspace": "zzz"})
    assert missing.status_code == 404 and "served: a, b" in missing.json()["detail"]
    assert get("/documents", "nope", "a") == 401


def test_each_workspace_sees_its_own_documents(make_client, make_rag, sample_texts) -> None:
    client = _scoped_client(make_client, make_rag, sample_texts)
    admin = {"X-API-Key": "admin-all"}
    in_b = client.get("/documents", headers=admin | {"X-Graphrag-Workspace": "b"}).json()
    in_a = client.get("/documents", headers=admin).json()
    assert [d["source"].rsplit("/", 1)[-1] for d in in_b["documents"]] == ["b.txt"]
    assert in_a["documents"] == []
    assert client.get("/graph/stats", headers=admin).json()["entities"] == 0
    assert client.get("/graph/stats", headers=admin | {"X-Graphrag-Workspace": "b"}).json()["entities"] > 0


def test_a_configured_workspace_gets_its_own_folder_namespace_and_vectors(make_client, tmp_path) -> None:
    """GRAPHRAG_API_WORKSPACES: each workspace is built from the server's settings with its own
    folder, graph namespace and vector location (even when GRAPHRAG_VECTOR_URI is shared)."""
    from graphrag.settings import ApiKeyScope

    client = make_client("a", graph_namespace="a", vector_uri=str(tmp_path / "shared-vectors"),
                         api_workspaces={"b": tmp_path / "b"},
                         api_keys={"k": ApiKeyScope(workspaces=["*"], role="admin")})
    headers = {"X-API-Key": "k", "X-Graphrag-Workspace": "b"}
    assert client.get("/documents", headers=headers).status_code == 200
    b = client.app.state.workspaces.get("b").settings  # type: ignore[attr-defined]
    a = client.app.state.workspaces.get("a").settings  # type: ignore[attr-defined]
    assert b.workspace == tmp_path / "b" and b.resolved_graph_namespace == "b"
    assert b.resolved_vector_uri != a.resolved_vector_uri
    assert b.state_path != a.state_path
