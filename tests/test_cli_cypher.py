"""`graphrag cypher` as a user runs it (a subprocess): confined to its workspace, the guard's
refusals as exit code 1, and `--ask` through a real OpenAI-compatible HTTP server (the fake
in tests/fakes/) — a generation that failed is never replayed from the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.test_cypher_tenancy import SECRET, two_workspaces  # noqa: F401 - a fixture

pytestmark = pytest.mark.neo4j
REPO = Path(__file__).resolve().parents[1]  # run from here, so this tree's graphrag is the one imported


def run(workspace: Path, namespace: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    from tests.neo4j_support import neo4j_test_uri

    environ = {**os.environ, "GRAPHRAG_EMBEDDER": "hashing", "GRAPHRAG_GRAPH_STORE": "neo4j",
               "NEO4J_URI": neo4j_test_uri(), "GRAPHRAG_GRAPH_NAMESPACE": namespace, **env}
    environ.pop("GRAPHRAG_CHAT_BASE_URL", None)
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "graphrag.cli", "cypher", *args, "--workspace", str(workspace)],
                          capture_output=True, text=True, env=environ, timeout=300, cwd=REPO)


def test_cli_is_confined_to_its_workspace(two_workspaces: Any, tmp_path: Path) -> None:
    a, b, _ = two_workspaces
    ws = tmp_path / "ws"
    mine = run(ws, a.namespace, "MATCH (c:Chunk) RETURN c.text AS text", "--json")
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout)["rows"] == [{"text": "open"}]

    override = run(ws, a.namespace, "MATCH (c:Chunk {workspace: $workspace}) RETURN c.text AS text",
                   "--param", f"workspace={b.namespace}")
    assert override.returncode == 1 and "set by the server" in override.stderr
    assert SECRET not in override.stdout

    named = run(ws, a.namespace, f"MATCH (c:Chunk {{workspace: '{b.namespace}'}}) RETURN c.text AS text", "--json")
    assert named.returncode == 0 and json.loads(named.stdout)["rows"] == []

    everything = run(ws, a.namespace, "MATCH (c:Chunk) RETURN c.text AS text", "--all-workspaces", "--json")
    assert everything.returncode == 0 and {"text": SECRET} in json.loads(everything.stdout)["rows"]

    attack = run(ws, a.namespace, r'L\u004fAD CSV FROM "file:///etc/passwd" AS row RETURN row[0] LIMIT 2')
    assert attack.returncode == 1 and "refused: LOAD CSV" in attack.stderr and "root" not in attack.stdout


def test_cli_ask_never_caches_a_failed_generation(two_workspaces: Any, tmp_path: Path) -> None:
    a, _, _ = two_workspaces
    ws = tmp_path / "ws"
    question = "Which entities are there?"
    with FakeOpenAIServer() as server:
        chat = {"GRAPHRAG_CHAT_BASE_URL": server.base_url, "GRAPHRAG_CHAT_MODEL": "fake-model",
                "GRAPHRAG_CHAT_API_KEY": "k"}
        # 1. the model writes a refused query twice (first try and retry): exit 1, nothing kept
        server.enqueue(Reply.chat("MATCH (n) DETACH DELETE n"), Reply.chat("SH\\u004fW USERS"))
        failed = run(ws, a.namespace, "--ask", question, **chat)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "did not write a valid read-only query" in failed.stderr
        calls = len(server.chat_requests)
        assert calls == 2

        # 2. the same question again: asked again over HTTP (the failure was not cached)
        server.enqueue(Reply.chat("MATCH (e:Entity) RETURN e.key AS key ORDER BY key"))
        ok = run(ws, a.namespace, "--ask", question, "--json", **chat)
        assert ok.returncode == 0, ok.stderr
        assert len(server.chat_requests) == calls + 1
        body = json.loads(ok.stdout)
        assert body["cypher"] == "MATCH (e:Entity) RETURN e.key AS key ORDER BY key"
        assert body["rows"] == [{"key": "x"}, {"key": "y"}]  # workspace a's only
        assert "cypher: MATCH (e:Entity)" in ok.stderr  # the generated query is shown

        # 3. and once more: the valid generation is served from the cache
        again = run(ws, a.namespace, "--ask", question, "--json", **chat)
        assert again.returncode == 0 and json.loads(again.stdout)["rows"] == body["rows"]
        assert len(server.chat_requests) == calls + 1
