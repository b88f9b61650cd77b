"""The `api` service of docker-compose.yml runs `graphrag serve` on every interface, which
needs an API key: compose refuses to start without one, and so does `graphrag serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"


def test_api_service_serves_on_all_interfaces_with_a_required_key() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    api = services["api"]
    assert api["command"][:3] == ["serve", "--host", "0.0.0.0"]
    assert "--insecure-no-auth" not in api["command"]
    assert any(str(p).endswith(":8000") for p in api["ports"])
    env = api["environment"]
    assert env["GRAPHRAG_GRAPH_STORE"] == "neo4j" and env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["GRAPHRAG_API_KEY"].startswith("${GRAPHRAG_API_KEY:?")  # no key: compose refuses
    assert api["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert api["image"] == services["graphrag"]["image"]


def _serve(tmp_path: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHRAG_")}
    env.update(GRAPHRAG_WORKSPACE=str(tmp_path / "ws"), GRAPHRAG_EMBEDDER="hashing", PYTHONPATH=str(REPO))
    if key is not None:
        env["GRAPHRAG_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "graphrag.cli", "serve", *args], env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "api.example.org"])
def test_serve_refuses_a_non_loopback_address_without_a_key(tmp_path: Path, host: str) -> None:
    proc = _serve(tmp_path, "--host", host, "--port", "1")
    assert proc.returncode == 2, proc.stderr
    assert "GRAPHRAG_API_KEY" in proc.stderr and "--insecure-no-auth" in proc.stderr
    assert not (tmp_path / "ws").exists()


def test_is_loopback() -> None:
    from graphrag.serve_guard import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org"))
