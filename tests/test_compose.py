"""docker-compose.yml, the Dockerfile and the Neo4j Browser style, checked as far as this
machine allows: the file against the Compose Specification's JSON Schema (no Docker
needed), ports, environment, health checks and start order, that services run real
commands, and `docker compose config` when the compose plugin is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
GRASS = REPO / "neo4j" / "graphrag.grass"
SCHEMA = REPO / "schemas" / "vendor" / "compose-spec.schema.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"neo4j", "prefect-server", "ingest", "api", "graphrag"}
    # `docker compose up` starts the stack; the one-off command service only on `run`.
    assert compose["services"]["graphrag"]["profiles"] == ["tools"]


def test_compose_file_is_valid_against_the_compose_spec(compose: dict[str, Any]) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, errors
    broken = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    broken["services"]["api"]["depends_on"] = {"neo4j": {"condition": "healthy"}}  # not a condition
    broken["services"]["ingest"]["healthcheck"] = {"test": "true", "interval": 5}
    assert len(list(validator.iter_errors(broken))) >= 2  # the check can fail


def test_neo4j_service(compose: dict[str, Any]) -> None:
    neo4j = compose["services"]["neo4j"]
    assert neo4j["image"] == "neo4j:5.26-community"
    assert {"7474:7474", "7687:7687"} <= {str(p) for p in neo4j["ports"]}
    assert any(str(v).endswith(":/data") for v in neo4j["volumes"])
    assert "neo4j-data" in compose["volumes"]
    # Authentication comes from the environment, never a password written in the file.
    auth = env_of(neo4j)["NEO4J_AUTH"]
    assert re.fullmatch(r"neo4j/\$\{NEO4J_PASSWORD:\?[^}]+\}", auth), auth
    assert "healthcheck" in neo4j


def _commands() -> set[str]:
    from graphrag.cli import app

    return {c.name or c.callback.__name__ for c in app.registered_commands}


def test_prefect_server_serves_the_ui_on_4200_with_its_api_url(compose: dict[str, Any]) -> None:
    server = compose["services"]["prefect-server"]
    assert server["entrypoint"] == ["prefect"] and server["command"][:2] == ["server", "start"]
    assert "--host" in server["command"] and server["command"][server["command"].index("--port") + 1] == "4200"
    assert [str(p) for p in server["ports"]] == ["${PREFECT_PORT:-4200}:4200"]
    env = env_of(server)
    assert env["PREFECT_UI_API_URL"].startswith("http://localhost:${PREFECT_PORT:-4200}/api")
    assert "/api/health" in " ".join(server["healthcheck"]["test"])
    assert any(str(v).startswith("prefect-data:") for v in server["volumes"])


def test_ingest_worker_serves_the_deployment_on_a_schedule_from_data(compose: dict[str, Any]) -> None:
    ingest = compose["services"]["ingest"]
    assert ingest["command"][0] == "schedule" and ingest["command"][0] in _commands()
    assert ingest["command"][1] == "/data" and "--interval" in ingest["command"] and "--prune" in ingest["command"]
    assert "./data:/data:ro" in ingest["volumes"]
    assert ingest["depends_on"] == {"neo4j": {"condition": "service_healthy"},
                                    "prefect-server": {"condition": "service_healthy"}}
    env = env_of(ingest)
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert env["GRAPHRAG_GRAPH_STORE"] == "neo4j" and env["NEO4J_URI"] == "bolt://neo4j:7687"
    # SIGTERM (docker compose stop) pauses the schedule: give the runner time to do it.
    assert ingest["stop_grace_period"] in ("60s", "1m")


def test_api_shares_the_graph_and_workspace_and_waits_for_the_lock(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api, ingest = services["api"], services["ingest"]
    assert env_of(api)["NEO4J_URI"] == env_of(ingest)["NEO4J_URI"]
    assert env_of(api)["GRAPHRAG_GRAPH_NAMESPACE"] == env_of(ingest)["GRAPHRAG_GRAPH_NAMESPACE"]
    workspace = {v for v in api["volumes"] if str(v).endswith(":/workspace")}
    assert workspace and workspace == {v for v in ingest["volumes"] if str(v).endswith(":/workspace")}
    # Two writers of one workspace wait for each other instead of failing with "locked".
    assert env_of(api)["GRAPHRAG_LOCK_TIMEOUT"].startswith("${GRAPHRAG_LOCK_TIMEOUT:-")
    assert "/health" in " ".join(api["healthcheck"]["test"])


def test_graphrag_service_indexes_into_neo4j(compose: dict[str, Any]) -> None:
    service = compose["services"]["graphrag"]
    env = env_of(service)
    assert env["GRAPHRAG_GRAPH_STORE"] == "neo4j"
    assert env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["NEO4J_PASSWORD"].startswith("${NEO4J_PASSWORD")
    assert service["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert service["build"] == "."
    # The entry point is `graphrag`; the command must be one the CLI has today.
    command = service["command"]
    assert command[0] in _commands(), f"{command[0]!r} is not a graphrag command ({sorted(_commands())})"
    assert command == ["index", "/data"]
    assert "./data:/data:ro" in service["volumes"]


def test_settings_read_the_compose_environment(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from graphrag.settings import Settings

    env = env_of(compose["services"]["graphrag"])
    values = {"NEO4J_PASSWORD": "s3cret-pass", "GRAPHRAG_GRAPH_NAMESPACE": "default", "GRAPHRAG_CHAT_BASE_URL": "",
              "GRAPHRAG_LOCK_TIMEOUT": "900", "PREFECT_UI_URL": "http://localhost:4200",
              "GRAPHRAG_CHAT_API_KEY": "", "GRAPHRAG_CHAT_MODEL": "gpt-4o-mini"}
    for key, value in env.items():
        monkeypatch.setenv(key, values.get(key, value))
    settings = Settings()
    assert settings.graph_store == "neo4j" and settings.neo4j_uri == "bolt://neo4j:7687"
    assert settings.neo4j_password is not None and settings.neo4j_password.get_secret_value() == "s3cret-pass"
    assert settings.workspace == Path("/workspace")
    assert not settings.has_chat_model  # an empty endpoint means offline extraction


def test_dockerfile_copies_what_exists_and_runs_graphrag() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM python:3.11" in text
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    assert 'ENTRYPOINT ["graphrag"]' in text
    # graphrag reads schemas/ and prompts/ next to the package: the install must be editable.
    assert "pip install -e ." in text


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    return probe.returncode == 0


def test_docker_compose_config_validates() -> None:
    if not _compose_plugin():
        pytest.skip("the docker compose plugin is not installed here (`docker compose config` needs no engine)")
    env = {"NEO4J_PASSWORD": "compose-test-pw", "GRAPHRAG_API_KEY": "compose-test-key",
           "PATH": "/usr/bin:/bin:/usr/local/bin"}
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True,
                          text=True, timeout=60, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    missing = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True,
                             text=True, timeout=60, env={**env, "NEO4J_PASSWORD": ""}, cwd=REPO)
    assert missing.returncode != 0 and "NEO4J_PASSWORD" in missing.stderr


# --- the Browser style

def parse_grass(text: str) -> dict[str, dict[str, str]]:
    """The Neo4j Browser's own .grass parser (GraphStyle.parse), ported: anything it would
    mangle (comments, stray text) shows up here as a broken selector."""
    rules: dict[str, str] = {}
    inside_string = inside_props = False
    keyword = props = ""
    for c in text:
        if c == "{" and not inside_string:
            inside_props = True
            continue
        if c == "}" and not inside_string:
            inside_props = False
            rules[keyword] = props
            keyword = props = ""
            continue
        if c == "'":
            inside_string = not inside_string
            continue
        if inside_props:
            props += c
        elif not c.isspace():
            keyword += c
    parsed: dict[str, dict[str, str]] = {}
    for selector, body in rules.items():
        parsed[selector] = {}
        for prop in body.split(";"):
            key, _, value = prop.partition(":")
            if key.strip() and value.strip():
                parsed[selector][key.strip()] = value.strip()
    return parsed


def test_grass_styles_every_label_and_captions_entities_by_name() -> None:
    from graphrag.extract.offline import KEPT_LABELS
    from graphrag.merge import normalize_type
    from graphrag.settings import DEFAULT_ENTITY_TYPES
    from graphrag.stores.neo4j_graph import type_label

    rules = parse_grass(GRASS.read_text(encoding="utf-8"))
    assert all(re.fullmatch(r"(node|relationship)(\.\w+)?", s) for s in rules), list(rules)
    assert {"node", "relationship", "node.Entity", "node.Document", "node.Chunk",
            "relationship.RELATED", "relationship.HAS_CHUNK", "relationship.MENTIONS"} <= rules.keys()
    assert rules["node.Entity"]["caption"] == "{name}"
    types = {type_label(normalize_type(t)) for t in [*DEFAULT_ENTITY_TYPES, *KEPT_LABELS, "UNKNOWN"]}
    for label in types:
        rule = rules.get(f"node.{label}")
        assert rule is not None, f"no style for :{label}"
        assert rule["caption"] == "{name}" and re.fullmatch(r"#[0-9A-Fa-f]{6}", rule["color"])
    # Type rules come after node.Entity, so their colour wins on a node that has both labels.
    order = list(rules)
    assert all(order.index(f"node.{label}") > order.index("node.Entity") for label in types)
