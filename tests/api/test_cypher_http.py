"""`graphrag serve` as a real process over two workspaces of one Neo4j database, used over
HTTP: scoped keys, the workspace header, and Cypher that never crosses workspaces."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.serve_process import serving
from tests.test_cypher_tenancy import SECRET, two_workspaces  # noqa: F401 - a fixture

pytestmark = pytest.mark.neo4j


@pytest.fixture
def served(two_workspaces: Any, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    from tests.neo4j_support import neo4j_test_uri

    a, b, _ = two_workspaces
    keys = {"read-a": {"workspaces": [a.namespace], "role": "read"},
            "admin-all": {"workspaces": ["*"], "role": "admin"}}
    env = {**os.environ, "GRAPHRAG_WORKSPACE": str(tmp_path / "a"), "GRAPHRAG_EMBEDDER": "hashing",
           "GRAPHRAG_GRAPH_STORE": "neo4j", "NEO4J_URI": neo4j_test_uri(), "GRAPHRAG_GRAPH_NAMESPACE": a.namespace,
           "GRAPHRAG_API_KEYS": json.dumps(keys),
           "GRAPHRAG_API_WORKSPACES": json.dumps({b.namespace: str(tmp_path / "b")})}
    env.pop("GRAPHRAG_API_KEY", None)
    with serving(env, ready_within=90) as base:
        yield base, a.namespace, b.namespace


def test_cypher_over_http_stays_in_the_workspace_of_the_request(served: tuple[str, str, str]) -> None:
    base, a, b = served

    def cypher(key: str, body: dict[str, Any], workspace: str | None = None) -> httpx.Response:
        headers = {"X-API-Key": key} | ({"X-Graphrag-Workspace": workspace} if workspace else {})
        return httpx.post(f"{base}/cypher", json=body, headers=headers, timeout=30)

    everything = "MATCH (c:Chunk) RETURN c.text AS text"
    assert cypher("read-a", {"query": everything}).json()["rows"] == [{"text": "open"}]
    assert cypher("read-a", {"query": everything}, a).json()["rows"] == [{"text": "open"}]
    assert cypher("read-a", {"query": everything}, b).status_code == 403
    assert cypher("read-a", {"query": everything, "all_workspaces": True}).status_code == 403
    override = cypher("read-a", {"query": "MATCH (c:Chunk {workspace: $workspace}) RETURN c.text AS text",
                                 "params": {"workspace": b}})
    assert override.status_code == 400 and SECRET not in override.text
    attack = cypher("read-a", {"query": r'L\u004fAD CSV FROM "file:///etc/passwd" AS row RETURN row[0] LIMIT 2'})
    assert attack.status_code == 400 and "refused: LOAD CSV" in attack.json()["detail"]
    # the admin key reads b through the header, and every workspace on purpose
    assert cypher("admin-all", {"query": everything}, b).json()["rows"] == [{"text": SECRET}]
    rows = cypher("admin-all", {"query": everything, "all_workspaces": True}).json()["rows"]
    assert {"text": SECRET} in rows and {"text": "open"} in rows
    assert cypher("wrong", {"query": everything}).status_code == 401
