"""The explorer on the Neo4j graph store: search, the graph view and the entity panel read
through the same routes, and the Cypher tab runs read-only queries confined to the
workspace (a write is refused with Neo4j's reason)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.serve_process import REPO, serving
from tests.e2e.test_explorer import open_page, search_for, serve_env
from tests.neo4j_support import fresh_namespace, neo4j_test_uri

pytestmark = pytest.mark.neo4j


def test_explorer_on_neo4j_with_cypher(page, tmp_path: Path, sample_texts: dict[str, str]) -> None:
    uri = neo4j_test_uri()
    namespace = fresh_namespace("e2e")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in sample_texts.items():
        (docs / f"{name}.txt").write_text(text, encoding="utf-8")
    env = serve_env(tmp_path / "ws", GRAPHRAG_GRAPH_STORE="neo4j", NEO4J_URI=uri, GRAPHRAG_GRAPH_NAMESPACE=namespace)
    try:
        done = subprocess.run([sys.executable, "-m", "graphrag.cli", "index", str(docs)], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        with serving(env) as base:
            open_page(page, base, "neo4j")
            search_for(page, "scrooge", "Scrooge").click()
            page.wait_for_selector("#entity-name >> text=Scrooge")
            page.wait_for_function("window.graphView.cy.nodes().length > 1")
            page.locator("#provenance-list .chunk mark").first.wait_for()

            page.click("nav button[data-tab=cypher]")
            assert "Read-only Cypher" in page.inner_text("#cypher-note")
            page.fill("#cypher-q", "MATCH (e:Entity) WHERE e.name = 'Scrooge' RETURN e.name AS name, e.degree AS degree")
            page.click("#cypher-form button[type=submit]")
            page.wait_for_selector("#cypher-out table td >> text=Scrooge")
            assert page.locator("#cypher-out table tr").count() == 2  # header + the one entity of this workspace
            page.fill("#cypher-q", "MATCH (e:Entity) DETACH DELETE e")
            page.click("#cypher-form button[type=submit]")
            page.wait_for_selector("#cypher-out .error")
            assert page.evaluate("fetch('/explore/server').then(r => r.json()).then(s => s.counts.entities)") > 0
    finally:
        from neo4j import GraphDatabase

        with GraphDatabase.driver(uri, auth=None) as driver:
            driver.execute_query("MATCH (n {workspace: $ws}) DETACH DELETE n", ws=namespace)
