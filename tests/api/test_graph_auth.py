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
