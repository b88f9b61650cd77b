"""`graphrag query` on the indexed sample workspace (offline: no chat endpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrag.cli import app


@pytest.fixture
def cli(sample_workspace: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRAPHRAG_EMBEDDER", "hashing")  # the embedder the workspace was indexed with
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["query", *args, "--workspace", str(sample_workspace)])

    return run


def test_json_carries_answer_references_chunks_and_timings(cli) -> None:
    result = cli("Who is Bob Cratchit?", "--mode", "local", "--top-k", "4", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "local" and data["answer"] and data["supported"]
    assert data["references"] and {"ref", "chunk_id", "document_id", "source"} <= data["references"][0].keys()
    assert len(data["chunks"]) == 4
    assert all({"id", "document_id", "score"} <= c.keys() for c in data["chunks"])
    assert [c["score"] for c in data["chunks"]] == sorted((c["score"] for c in data["chunks"]), reverse=True)
    assert data["entities"] and data["relations"]
    assert {"keywords", "embed", "retrieval", "answer", "total"} <= data["timings"].keys()
    assert data["llm"]["calls"] == 0


def test_default_mode_is_mix_and_plain_output_lists_references(cli) -> None:
    result = cli("Who is Bob Cratchit?")
    assert result.exit_code == 0, result.output
    assert "[1]" in result.stdout
    assert "mode mix" in result.stderr


def test_only_context_prints_the_fenced_context(cli) -> None:
    result = cli("Who is Bob Cratchit?", "--only-context", "--mode", "naive")
    assert result.exit_code == 0, result.output
    assert "## Sources" in result.stdout and "<<<DOCUMENT" in result.stdout


def test_bad_mode_exits_with_a_message(cli) -> None:
    result = cli("Who?", "--mode", "deep")
    assert result.exit_code == 1
    assert "unknown query mode" in result.stderr


@pytest.mark.parametrize("mode", ["naive", "local", "global", "hybrid", "mix", "ppr"])
def test_with_a_chat_endpoint_every_mode_answers_with_citations(cli, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    from tests.fakes.openai_server import FakeOpenAIServer
    from tests.query.conftest import citing_responder

    with FakeOpenAIServer(citing_responder) as server:
        monkeypatch.setenv("GRAPHRAG_CHAT_BASE_URL", server.base_url)
        monkeypatch.setenv("GRAPHRAG_CACHE", "false")
        result = cli("Who is Bob Cratchit?", "--mode", mode, "--json")
        purposes = [r.purpose for r in server.chat_requests]
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert purposes == ["keywords", "answer"]
    assert data["llm"]["calls"] == 2 and data["keywords"]["source"] == "llm"
    assert data["supported"] and data["references"]
    assert all(f"[{r['ref']}]" in data["answer"] for r in data["references"])


def test_history_file_carries_the_conversation(cli, tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    history.write_text(json.dumps([
        {"role": "user", "content": "Who is Bob Cratchit?"},
        {"role": "assistant", "content": "Scrooge's clerk."},
    ]))
    result = cli("What does his family eat at Christmas?", "--history", str(history), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "Bob Cratchit" in data["standalone_question"]
    assert "Bob Cratchit" in data["keywords"]["low_level"]


@pytest.mark.parametrize(("content", "message"), [("not json", "is not JSON"), ('{"role": "user"}', "JSON list")])
def test_a_bad_history_file_is_a_clear_error(cli, tmp_path: Path, content: str, message: str) -> None:
    history = tmp_path / "history.json"
    history.write_text(content)
    result = cli("Who is he?", "--history", str(history))
    assert result.exit_code == 2
    assert message in result.output


def test_auto_mode_shows_the_route(cli) -> None:
    result = cli("Who is Bob Cratchit?", "--mode", "auto", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["route"] == {"kind": "lookup", "mode": "local", "by": "rules"}
