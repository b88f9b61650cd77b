"""The ingest flow, run for real under Prefect (the session's test server), with the fake
OpenAI-compatible server as the LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.chat import derived_extraction_responder, fenced_text
from graphrag.errors import IncompleteRunError
from tests.flows.conftest import Counter, api_get, flow_settings, open_rag, read_artifacts, run_flow
from tests.test_invariants import snapshot

OUTCOMES = ("new", "updated", "unchanged", "failed", "skipped", "removed", "pending")


def outcomes(**expected: int) -> dict[str, int]:
    return {k: expected.get(k, 0) for k in OUTCOMES}


@pytest.fixture
def backend_settings(graph_backend: str):
    """Extra settings per graph backend; Neo4j workspaces get their own namespace, dropped after."""
    opened: list[tuple[Path, dict]] = []

    def settings_for(workspace: Path, settings: dict) -> dict:
        if graph_backend == "neo4j":
            from tests.neo4j_support import fresh_namespace, neo4j_test_uri

            settings = {**settings, "graph_store": "neo4j", "neo4j_uri": neo4j_test_uri(),
                        "graph_namespace": fresh_namespace("flow")}
        opened.append((workspace, settings))
        return settings

    yield settings_for
    if graph_backend == "neo4j":
        for workspace, settings in opened:
            with open_rag(workspace, settings) as rag:
                rag.graph.drop_namespace()


def test_flow_ingests_like_index_and_a_rerun_is_free(
    graph_backend, backend_settings, prefect_api, fake_llm, write_docs, sample_texts, tmp_path
):
    server = fake_llm(delay=0.02)
    paths = write_docs(sample_texts)
    ws, direct_ws = tmp_path / "ws", tmp_path / "direct"
    settings = backend_settings(ws, flow_settings(server))

    summary = run_flow(prefect_api, str(paths[0].parent), ws, settings)

    assert summary["documents"] == outcomes(new=3)
    assert summary["failures"] == []
    extracted = summary["chunks"]["extracted"]
    assert extracted > 3
    llm = summary["llm"]
    assert llm["by_purpose"]["extract"]["calls"] == extracted
    assert llm["by_purpose"]["glean"]["calls"] == extracted
    assert llm["calls"] == len(server.chat_requests)
    assert llm["prompt_tokens"] > 0 and llm["completion_tokens"] > 0
    assert {"load", "extract", "merge", "finish"} <= set(summary["stage_seconds"])
    assert summary["prune"]["enabled"] is False and "prune off" in summary["prune"]["note"]
    assert summary["cost"] is None  # no prices configured
    # Documents run concurrently, but never more requests in flight than llm_concurrency.
    assert server.max_in_flight == settings["llm_concurrency"]

    # The run's report is a markdown artifact of the flow run.
    [artifact] = read_artifacts(prefect_api, summary["flow_run"]["id"])
    assert artifact["type"] == "markdown" and artifact["key"].startswith("graphrag-ingest-")
    assert "| new | 3 |" in artifact["data"] and "| extract |" in artifact["data"]

    # Same graph and vectors as the plain library call.
    with open_rag(ws, settings) as flowed, open_rag(direct_ws, backend_settings(direct_ws, settings)) as direct:
        direct.index(paths)
        assert snapshot(flowed) == snapshot(direct)
        before = snapshot(flowed)

    sent = len(server.chat_requests)
    again = run_flow(prefect_api, str(paths[0].parent), ws, settings)
    assert again["documents"] == outcomes(unchanged=3)
    assert again["llm"]["calls"] == 0 and len(server.chat_requests) == sent
    with open_rag(ws, settings) as rag:
        assert snapshot(rag) == before


def test_gone_files_are_removed_only_with_prune(prefect_api, fake_llm, write_docs, sample_texts, tmp_path):
    server = fake_llm()
    settings = flow_settings(server)
    a, b, c = write_docs(sample_texts)
    ws = tmp_path / "ws"
    run_flow(prefect_api, str(a.parent), ws, settings)

    c.unlink()
    b.write_text(sample_texts["B"] + "\n\nAt dawn Jacob Marley walked through the London fog to the Counting House.")
    kept = run_flow(prefect_api, str(a.parent), ws, settings)
    assert kept["documents"] == outcomes(updated=1, unchanged=1)
    assert kept["prune"] == {
        "enabled": False,
        "gone": 1,
        "note": "prune off: 1 indexed document(s) whose source is gone were kept; run with --prune to remove them",
    }
    with open_rag(ws, settings) as rag:
        assert [r.status for r in rag.state.find_documents_by_source(str(c))] == ["processed"]

    pruned = run_flow(prefect_api, str(a.parent), ws, settings, prune=True)
    assert pruned["documents"] == outcomes(unchanged=2, removed=1)
    # Removal rebuilds from stored extraction records: no extraction (a summary may change).
    assert set(pruned["llm"]["by_purpose"]) <= {"summarize"}

    fresh_ws = tmp_path / "fresh"
    run_flow(prefect_api, str(a.parent), fresh_ws, settings)
    with open_rag(ws, settings) as rag, open_rag(fresh_ws, settings) as fresh:
        assert rag.state.find_documents_by_source(str(c)) == []
        assert snapshot(rag) == snapshot(fresh)


def test_a_failing_document_ends_failed_and_the_others_go_on(prefect_api, fake_llm, write_docs, sample_texts, tmp_path):
    flaky = Counter()

    def responder(messages, purpose):
        document = fenced_text(messages, "DOCUMENT") or ""
        if "POISON" in document:
            raise RuntimeError("the model crashes on this text")
        if "FLAKY" in document and purpose == "extract" and flaky.bump("extract") <= 2:
            raise RuntimeError("overloaded, try later")
        return derived_extraction_responder(messages, purpose)

    server = fake_llm(responder=responder)
    docs = {
        "A": sample_texts["A"],
        "poison": "POISON. " + sample_texts["B"][:600],
        "flaky": "FLAKY. Ebenezer Scrooge met Bob Cratchit at the Counting House in London.",
    }
    paths = write_docs(docs)
    ws = tmp_path / "ws"
    # No retries in the HTTP client: the document tasks' own retries are what is tested.
    settings = flow_settings(server, chat_max_retries=0)

    summary = run_flow(
        prefect_api, str(paths[0].parent), ws, settings, retries=2, retry_delay_seconds=0.05, allow_partial=True
    )

    assert summary["documents"] == outcomes(new=2, failed=1)
    assert api_get(prefect_api, f"/flow_runs/{summary['flow_run']['id']}")["state"]["type"] == "COMPLETED"
    [failure] = summary["failures"]
    assert failure["source"] == str(paths[1])
    assert "the model crashes on this text" in failure["reason"]
    assert flaky.counts["extract"] == 3  # failed twice, retried by its task, then extracted
    with open_rag(ws, settings) as rag:
        status = {Path(r.source).stem: (r.status, r.error) for r in rag.status()}
        assert status["A"] == ("processed", None) and status["flaky"] == ("processed", None)
        assert status["poison"][0] == "failed" and "the model crashes on this text" in status["poison"][1]
        assert rag.stats()["entities"] > 0

    # The next run takes up the failed document again, and only it; without allow_partial
    # a run with a failed document ends Failed (issue 11: honest exit codes).
    with pytest.raises(IncompleteRunError, match="1 document") as incomplete:
        run_flow(prefect_api, str(paths[0].parent), ws, settings, retries=0)
    again = incomplete.value.summary
    assert again["documents"] == outcomes(unchanged=2, failed=1)
    assert api_get(prefect_api, f"/flow_runs/{again['flow_run']['id']}")["state"]["type"] == "FAILED"


def test_dry_run_estimates_before_anything_is_sent(prefect_api, fake_llm, write_docs, sample_texts, tmp_path):
    server = fake_llm()
    settings = flow_settings(server, price_prompt_per_1k=0.5, price_completion_per_1k=1.5)
    a, b, c = write_docs(sample_texts)
    ws = tmp_path / "ws"

    dry = run_flow(prefect_api, str(a.parent), ws, settings, dry_run=True)

    assert server.chat_requests == []
    with open_rag(ws, settings) as rag:
        assert rag.status() == [] and rag.state.count_chunks() == 0
    e = dry["estimate"]
    assert (e["documents_to_index"], e["documents_unchanged"]) == (3, 0)
    assert e["chunks_to_extract"] == e["chunks"] > 3 and e["chunks_reused"] == 0
    assert e["by_purpose"]["extract"]["calls"] == e["chunks_to_extract"]
    assert e["by_purpose"]["glean"]["calls"] == e["chunks_to_extract"]  # gleaning = 1
    assert e["llm_calls"] == sum(p["calls"] for p in e["by_purpose"].values())
    assert e["cost"] == pytest.approx(e["prompt_tokens"] / 1000 * 0.5 + e["completion_tokens"] / 1000 * 1.5, abs=1e-6)
    [artifact] = read_artifacts(prefect_api, dry["flow_run"]["id"])
    assert "nothing was sent or indexed" in artifact["data"]

    real = run_flow(prefect_api, str(a.parent), ws, settings)
    used = real["llm"]["by_purpose"]
    assert used["extract"]["calls"] == e["by_purpose"]["extract"]["calls"]
    assert used["extract"]["prompt_tokens"] == e["by_purpose"]["extract"]["prompt_tokens"]  # counted as rendered
    assert used["glean"]["calls"] == e["by_purpose"]["glean"]["calls"]
    extraction_tokens = sum(used[p]["prompt_tokens"] + used[p]["completion_tokens"] for p in ("extract", "glean"))
    assert extraction_tokens == pytest.approx(e["tokens"], rel=0.2)
    assert real["cost"] == pytest.approx(
        real["llm"]["prompt_tokens"] / 1000 * 0.5 + real["llm"]["completion_tokens"] / 1000 * 1.5, abs=1e-6
    )

    # After an edit at its end, only the document's new chunk texts are to extract.
    b.write_text(sample_texts["B"] + "\n\nAt dawn Jacob Marley walked through the London fog to the Counting House.")
    again = run_flow(prefect_api, str(a.parent), ws, settings, dry_run=True)["estimate"]
    assert (again["documents_to_index"], again["documents_unchanged"]) == (1, 2)
    assert 1 <= again["chunks_to_extract"] < again["chunks"]
    assert again["chunks_reused"] == again["chunks"] - again["chunks_to_extract"]


def test_token_budget_stops_cleanly_and_the_next_run_finishes(prefect_api, fake_llm, write_docs, sample_texts, tmp_path):
    server = fake_llm()
    settings = flow_settings(server)
    a, b, c = write_docs(sample_texts)
    ws = tmp_path / "ws"
    with open_rag(tmp_path / "probe", settings) as probe:
        one = probe.estimate([a]).tokens
        two = probe.estimate([a, b]).tokens
    max_tokens = (one + two) // 2  # the first document fits, the second does not

    summary = run_flow(prefect_api, str(a.parent), ws, settings, max_tokens=max_tokens)

    assert summary["documents"] == outcomes(new=1, pending=2)
    budget = summary["budget"]
    assert budget["max_tokens"] == max_tokens and "token budget reached" in budget["stopped"]
    extraction = sum(
        u["prompt_tokens"] + u["completion_tokens"]
        for p, u in summary["llm"]["by_purpose"].items() if p != "summarize"
    )
    assert 0 < extraction <= max_tokens
    sent_a = {fenced_text(r.messages, "DOCUMENT") for r in server.chat_requests if r.purpose == "extract"}
    with open_rag(ws, settings) as rag:
        status = {Path(r.source).stem: r for r in rag.status()}
        assert status["A"].status == "processed"
        for name in ("B", "C"):
            assert status[name].status == "pending" and "token budget reached" in status[name].error
        assert all(not rag.state.pending(kind) for kind in ("document", "chunk", "entity", "relation"))
        # Consistent: exactly what indexing the first document alone gives.
        with open_rag(tmp_path / "only-a", settings) as only_a:
            only_a.index([a])
            assert snapshot(rag) == snapshot(only_a)

    before = len(server.chat_requests)
    rest = run_flow(prefect_api, str(a.parent), ws, settings)
    assert rest["documents"] == outcomes(new=2, unchanged=1)
    assert rest["budget"] is None
    resent = {fenced_text(r.messages, "DOCUMENT") for r in server.chat_requests[before:] if r.purpose == "extract"}
    assert not sent_a & resent  # nothing extracted before the budget stopped is sent again
    with open_rag(ws, settings) as rag, open_rag(tmp_path / "all", settings) as everything:
        everything.index([a, b, c])
        assert snapshot(rag) == snapshot(everything)


def test_graphrag_ingest_command_runs_the_flow(prefect_api, fake_llm, write_docs, sample_texts, tmp_path):
    from typer.testing import CliRunner

    from graphrag.cli import app

    server = fake_llm()
    paths = write_docs(sample_texts)
    env = {f"GRAPHRAG_{k.upper()}": str(v) for k, v in flow_settings(server).items()}
    ws = str(tmp_path / "ws")
    runner = CliRunner()

    dry = runner.invoke(app, ["ingest", str(paths[0].parent), "-w", ws, "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["estimate"]["documents_to_index"] == 3 and server.chat_requests == []

    done = runner.invoke(app, ["ingest", str(paths[0].parent), "-w", ws], env=env)
    assert done.exit_code == 0, done.output
    assert "documents: 3 new, 0 updated, 0 unchanged, 0 failed" in done.stdout
    assert "prune off" in done.stdout and "chunks:" in done.stdout and "LLM:" in done.stdout


def test_the_reextract_flow_ends_completed_or_failed(prefect_api, fake_llm, write_docs, sample_texts, tmp_path):
    import asyncio

    from flows.reextract import reextract

    server = fake_llm()
    paths = write_docs({"A": sample_texts["A"][:800], "B": sample_texts["B"][:800]})
    ws = tmp_path / "ws"
    settings = flow_settings(server)
    run_flow(prefect_api, [str(p) for p in paths], ws, settings)

    done = asyncio.run(reextract(documents=[str(paths[0])], workspace=str(ws), settings=settings))
    assert done["documents_reextracted"] == 1 and done["llm_calls"] > 0
    assert api_get(prefect_api, f"/flow_runs/{done['flow_run']['id']}")["state"]["type"] == "COMPLETED"

    dead = {**settings, "chat_base_url": "http://127.0.0.1:9/v1", "chat_max_retries": 0}
    with pytest.raises(IncompleteRunError) as failed:
        asyncio.run(reextract(documents=None, workspace=str(ws), settings=dead))
    assert failed.value.summary["documents_failed"] == 2
    assert api_get(prefect_api, f"/flow_runs/{failed.value.summary['flow_run']['id']}")["state"]["type"] == "FAILED"
