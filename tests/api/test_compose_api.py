"""The `api` service of docker-compose.yml runs `graphrag serve` on every interface."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_api_service_serves_on_all_interfaces() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    api = services["api"]
    assert api["command"][:3] == ["serve", "--host", "0.0.0.0"]
    assert any(str(p).endswith(":8000") for p in api["ports"])
    env = api["environment"]
    assert env["GRAPHRAG_GRAPH_STORE"] == "neo4j" and env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert "GRAPHRAG_API_KEY" in env
    assert api["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert api["image"] == services["graphrag"]["image"]
