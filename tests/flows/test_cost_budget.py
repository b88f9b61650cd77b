"""The dry-run estimate and the token budget on their own (no Prefect), through the
library and the `graphrag index` command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrag.budget import DocumentCost, TokenBudget, run_in_batches
from graphrag.cli import app
from graphrag.errors import ConfigError
from graphrag.llm.base import Usage
from graphrag.models import Document
from tests.fakes.chat import ScriptedChatModel
from tests.flows.conftest import flow_settings
from tests.test_invariants import snapshot


def test_budget_admits_until_the_estimate_would_exceed_it():
    usage = Usage()
    usage.record("extract", prompt_tokens=400, completion_tokens=100)
    budget = TokenBudget(1000, usage)  # counts from here on
    assert budget.used == 0 and budget.admit(1000)
    usage.record("extract", prompt_tokens=600, completion_tokens=100)
    assert budget.used == 700 and budget.remaining == 300
    assert budget.admit(300) and not budget.admit(301)
    assert "700 of 1,000 tokens used" in budget.stopped
    assert not budget.admit(1)  # stopped for good...
    assert budget.admit(0)  # ...except for work that costs nothing


def test_batches_stop_at_the_budget_but_free_documents_still_run():
    docs = [Document.from_text(f"text {i}", f"/d/{i}.txt") for i in range(6)]
    costs = {d.id: DocumentCost(chunks, tokens) for d, (chunks, tokens) in
             zip(docs, [(2, 100), (2, 100), (0, 0), (2, 100), (0, 0), (1, 10)])}
    usage = Usage()
    ran: list[list[str]] = []

    async def run(batch: list[Document]) -> None:
        ran.append([d.source for d in batch])
        usage.record("extract", prompt_tokens=sum(costs[d.id].tokens for d in batch))

    budget = TokenBudget(250, usage)
    deferred = asyncio.run(run_in_batches(docs, cost=lambda d: costs[d.id], run=run, budget=budget, batch_chunks=3))

    assert ran == [["/d/0.txt", "/d/1.txt"], ["/d/2.txt", "/d/4.txt"]]
    assert [d.source for d in deferred] == ["/d/3.txt", "/d/5.txt"]  # /d/5 would fit, but the budget stopped
    assert budget.used == 200


def test_index_with_a_budget_leaves_the_rest_pending_and_consistent(make_rag, write_docs, sample_texts):
    a, b, c = write_docs(sample_texts)
    rag = make_rag()
    nothing = rag.index([a, b, c], max_tokens=0)
    assert (nothing.documents_new, nothing.documents_pending, nothing.llm_calls) == (0, 3, 0)
    assert {r.status for r in rag.status()} == {"pending"}
    assert rag.stats()["entities"] == 0

    one = rag.estimate([a]).tokens
    partial = rag.index([a, b, c], max_tokens=one + one // 2)
    assert (partial.documents_new, partial.documents_pending) == (1, 2)
    assert partial.budget["max_tokens"] == one + one // 2 and "token budget reached" in partial.budget["stopped"]
    assert partial.usage["prompt_tokens"] + partial.usage["completion_tokens"] <= one + one // 2

    rest = rag.index([a, b, c])
    assert (rest.documents_new, rest.documents_unchanged, rest.documents_pending) == (2, 1, 0)
    fresh = make_rag("fresh")
    fresh.index([a, b, c])
    assert snapshot(rag) == snapshot(fresh)


def test_dry_run_writes_nothing_not_even_the_extractor(make_rag, write_docs, sample_texts):
    paths = write_docs(sample_texts)
    dry = make_rag(chat=ScriptedChatModel(model="model-a"))
    estimate = dry.estimate(paths)
    assert estimate.chunks_to_extract > 0 and dry.chat.requests == []
    dry.close()
    # The workspace is not bound to the extractor of a dry run: another model may index it.
    other = make_rag(chat=ScriptedChatModel(model="model-b"))
    assert other.index(paths).documents_new == 3


def test_offline_extraction_costs_no_llm_calls(make_rag, write_docs, sample_texts):
    estimate = make_rag(offline=True).estimate(write_docs(sample_texts))
    assert estimate.chunks_to_extract > 0
    assert (estimate.llm_calls, estimate.tokens, estimate.by_purpose) == (0, 0, {})
    assert "no LLM calls" in estimate.notes[0]


def test_index_command_dry_run_and_max_tokens(fake_llm, write_docs, sample_texts, tmp_path):
    server = fake_llm()
    paths = write_docs(sample_texts)
    env = {f"GRAPHRAG_{k.upper()}": str(v) for k, v in flow_settings(server, price_prompt_per_1k=0.15).items()}
    runner = CliRunner()
    ws = str(tmp_path / "ws")

    dry = runner.invoke(app, ["index", str(paths[0].parent), "-w", ws, "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    estimate = json.loads(dry.stdout)
    assert estimate["documents_to_index"] == 3 and estimate["llm_calls"] > 0
    assert estimate["cost"] == pytest.approx(estimate["prompt_tokens"] / 1000 * 0.15)
    assert server.chat_requests == []
    table = runner.invoke(app, ["index", str(paths[0].parent), "-w", ws, "--dry-run"], env=env)
    assert table.exit_code == 0 and f"{estimate['tokens']:,}" in table.stdout and "dry run" in table.stdout

    budgeted = runner.invoke(app, ["index", str(paths[0].parent), "-w", ws, "--max-tokens", "0", "--json"], env=env)
    assert budgeted.exit_code == 0, budgeted.output
    report = json.loads(budgeted.stdout)
    assert report["documents_pending"] == 3 and "token budget reached" in report["budget"]["stopped"]
    assert server.chat_requests == []
    status = json.loads(runner.invoke(app, ["status", "-w", ws, "--json"], env=env).stdout)
    assert {(s["status"], "token budget reached" in s["error"]) for s in status} == {("pending", True)}


def test_schedule_needs_one_schedule_and_a_server(tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.schedule import deployment_parameters, serve_ingest

    with pytest.raises(ConfigError, match="exactly one schedule"):
        serve_ingest(["docs"], workspace=tmp_path)
    with pytest.raises(ConfigError, match="exactly one schedule"):
        serve_ingest(["docs"], cron="* * * * *", interval=60, workspace=tmp_path)
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(ConfigError, match="prefect server start"):
        serve_ingest(["docs"], interval=60, workspace=tmp_path)
    params = deployment_parameters(["docs", "more/*.md"], workspace="ws", max_tokens=5)
    assert params == {
        "source": [str(Path("docs").resolve()), str(Path("more").resolve() / "*.md")],
        "workspace": str(Path("ws").resolve()),
        "prune": False,
        "max_tokens": 5,
    }
