"""Manual decisions (merge, split, keep apart) take effect at once, are recorded, and
survive re-indexing and deletes; the same through the CLI and the HTTP API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from graphrag.errors import EntityNotFoundError
from tests.resolve.test_resolution_invariants import DOCS, resolved


def entity_of(rag, name: str) -> str:
    return rag.entities.entity(name)["key"]


def test_merge_and_split_survive_reindexing_and_deletes(make_rag, write_docs):
    a, b, c = write_docs(DOCS)
    rag = make_rag(offline=True)
    rag.index([str(a), str(b), str(c)])
    assert entity_of(rag, "Cratchit") != entity_of(rag, "Bob Cratchit")  # ambiguous: left apart
    merged = rag.entities.merge("Cratchit", "Bob Cratchit", note="the clerk")
    assert merged["key"] == "bob cratchit" and "Cratchit" in {x["name"] for x in merged["aliases"]}
    rag.entities.split("Scrooge", "Ebenezer Scrooge")
    assert entity_of(rag, "Ebenezer Scrooge") != entity_of(rag, "Scrooge")
    assert {(d["a"], d["b"], d["decision"]) for d in rag.entities.decisions()} == {
        ("bob cratchit", "cratchit", "merge"), ("ebenezer scrooge", "scrooge", "split")}

    rag.delete([str(c)])  # the only document that says "Cratchit"
    assert "cratchit" not in {x.key for x in rag.graph.iter_entities()}
    rag.index([str(a), str(b), str(c)])
    assert entity_of(rag, "Cratchit") == "bob cratchit"
    assert entity_of(rag, "Ebenezer Scrooge") != entity_of(rag, "Scrooge")

    # The decisions give the same graph whatever the history: a fresh workspace with them.
    fresh = make_rag("fresh", offline=True)
    fresh.index([str(c)])
    fresh.entities.merge("Cratchit", "Scrooge")  # a wrong merge, undone below
    assert fresh.entities.forget("Cratchit", "Scrooge")
    fresh.index([str(a), str(b)])
    fresh.entities.split("Scrooge", "Ebenezer Scrooge")
    fresh.entities.merge("Cratchit", "Bob Cratchit", note="the clerk")
    assert resolved(fresh) == resolved(rag)


def test_keep_apart_and_errors(make_rag, write_docs):
    rag = make_rag(offline=True)
    docs = {**DOCS, "D": "Mr. Cratchit went to the market with his daughter."}
    rag.index([str(p) for p in write_docs(docs)])
    rag.entities.keep_apart("Tim", "Tiny Tim")
    assert entity_of(rag, "Tim") != entity_of(rag, "Tiny Tim")
    with pytest.raises(EntityNotFoundError):
        rag.entities.merge("Nobody", "Scrooge")
    pairs = rag.entities.review()
    # "Cratchit" could be Bob, Martha or Peter: each pair is a candidate for review.
    assert {frozenset((p["a"], p["b"])) for p in pairs} >= {
        frozenset(("cratchit", "bob cratchit")), frozenset(("cratchit", "martha cratchit"))}
    assert all(p["score"] < rag.settings.resolution_threshold and not p["same_entity"] for p in pairs)
    assert not any({p["a"], p["b"]} == {"tim", "tiny tim"} for p in pairs)


def test_cli_and_api(make_rag, make_settings, write_docs, monkeypatch):
    from fastapi.testclient import TestClient

    from graphrag.api import create_app
    from graphrag.cli import app

    rag = make_rag(offline=True)
    rag.index([str(p) for p in write_docs(DOCS)])
    with TestClient(create_app(rag), raise_server_exceptions=False) as client:
        response = client.post("/entities/merge", json={"a": "Cratchit", "b": "Peter Cratchit"})
        assert response.status_code == 200, response.text
        assert response.json()["key"] == "peter cratchit"
        assert client.get("/entities/Cratchit").json()["key"] == "peter cratchit"
        found = client.get("/graph/entities/Ebenezer%20Scrooge").json()["entity"]  # by alias
        assert found["key"] == "scrooge" and "Ebenezer Scrooge" in found["aliases"]
        assert client.post("/entities/split", json={"entity": "peter cratchit", "alias": "Cratchit"}).status_code == 200
        assert client.get("/entities/nobody").status_code == 404
        assert [d["decision"] for d in client.get("/entities/decisions").json()] == ["split"]
        assert isinstance(client.get("/entities/review").json(), list)
    rag.close()

    monkeypatch.setenv("GRAPHRAG_EMBEDDER", "hashing")
    monkeypatch.setenv("GRAPHRAG_EXTRACTOR", "spacy")
    runner = CliRunner()
    workspace = str(rag.settings.workspace)
    result = runner.invoke(app, ["entities", "merge", "Martha", "Scrooge", "-w", workspace, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["key"] == "scrooge"
    result = runner.invoke(app, ["entities", "show", "martha", "-w", workspace])
    assert "Scrooge" in result.stdout and "Martha" in result.stdout
    assert runner.invoke(app, ["entities", "show", "nobody", "-w", workspace]).exit_code == 1
