"""Resumability: a real ingest run (`python -m flows.ingest` in a subprocess, the real HTTP
client against the fake LLM server) is killed with SIGKILL at one point after another,
each run resuming where the last one was killed, and the last run goes to the end. The
result must equal an uninterrupted run, and nothing a killed run had extracted (a stored
extraction record, or an answer in the LLM cache) may be sent to the LLM again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graphrag.llm.cache import LLMCache
from graphrag.models import text_hash
from tests.fakes.chat import fenced_text
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest
from tests.flows.conftest import flow_settings, open_rag, run_flow, slow_responder, subprocess_env, wait_for
from tests.test_invariants import snapshot

pytestmark = pytest.mark.slow

DELAY = 0.1  # seconds per LLM answer: long enough to kill between answers


def _count(purpose: str, n: int) -> Callable[[list[RecordedRequest]], bool]:
    return lambda requests: sum(r.purpose == purpose for r in requests) >= n


KILL_POINTS = {
    # With two requests in flight at most, a third one means a first answer came back.
    "first-answers": lambda requests: len(requests) >= 3,
    "mid-extraction": _count("extract", 8),
    "merging-summaries": _count("summarize", 1),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, sample_texts: dict[str, str]) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in sample_texts.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(slow_responder(DELAY)) as fake:
        yield fake


@pytest.fixture(scope="module")
def reference(prefect_api: str, server: FakeOpenAIServer, corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """An uninterrupted run: its graph and vectors, and the chunk texts it extracted."""
    workspace = tmp_path_factory.mktemp("reference") / "ws"
    start = len(server.chat_requests)
    summary = run_flow(prefect_api, str(corpus), workspace, flow_settings(server))
    assert summary["documents"]["new"] == 3
    texts = {fenced_text(r.messages, "DOCUMENT") for r in server.chat_requests[start:] if r.purpose == "extract"}
    assert any(r.purpose == "summarize" for r in server.chat_requests[start:]), "the kill points need summaries"
    with open_rag(workspace, flow_settings(server)) as rag:
        return snapshot(rag), texts, rag.state.count_chunks()


def _extract_texts(requests: list[RecordedRequest]) -> list[str]:
    return [fenced_text(r.messages, "DOCUMENT") for r in requests if r.purpose == "extract"]


def _answered(rag, requests: list[RecordedRequest]) -> set[str]:
    """Texts whose extract answer the killed run had stored in its LLM cache."""
    answered = set()
    for r in requests:
        if r.purpose != "extract":
            continue
        params = {k: v for k, v in r.body.items() if k not in ("model", "messages")}
        if rag.state.cache_get(LLMCache.key(r.body["model"], r.messages, params)) is not None:
            answered.add(fenced_text(r.messages, "DOCUMENT"))
    return answered


def test_a_run_killed_again_and_again_resumes_to_the_same_graph(prefect_api, server, corpus, reference, tmp_path):
    """Each run is killed at the next point, the last one finishes; every run resumes
    from where the previous one was killed."""
    expected, all_texts, n_chunks = reference
    settings = flow_settings(server)
    workspace = tmp_path / "ws"
    command = [sys.executable, "-m", "flows.ingest", str(corpus), "--workspace", str(workspace), "--json"]
    env = subprocess_env(server, prefect_api)
    first = len(server.chat_requests)
    done: set[str] = set()  # texts extracted by killed runs: never to be sent again

    for point, reached in KILL_POINTS.items():
        start = len(server.chat_requests)
        run = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: reached(server.chat_requests[start:]) or run.poll() is not None,
                     timeout=120, what=f"kill point {point}")
            assert run.poll() is None, f"the run ended before {point}: {run.communicate()[1].decode()[-2000:]}"
            run.send_signal(signal.SIGKILL)
        finally:
            run.kill()
            run.communicate()
        assert run.returncode == -signal.SIGKILL
        sent = _extract_texts(server.chat_requests[start:])
        assert not done & set(sent), f"text extracted before was sent again ({point})"
        with open_rag(workspace, settings) as rag:
            stored = rag.state.get_extractions({text_hash(t) for t in all_texts}, rag.extractor.extractor_id)
            done |= {t for t in all_texts if text_hash(t) in stored} | _answered(rag, server.chat_requests[first:])
            if point == "merging-summaries":
                # Killed inside reconcile: every document committed, the journal not yet cleared.
                assert {r.status for r in rag.status()} == {"processing"}
                assert rag.state.pending("entity")
        assert done, f"nothing was extracted before {point}"

    start = len(server.chat_requests)
    rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr.decode()[-3000:]
    summary = json.loads(rerun.stdout)
    assert summary["documents"]["failed"] == 0
    resent = _extract_texts(server.chat_requests[start:])
    assert not done & set(resent), "text extracted before a kill was sent to the LLM again"

    every = _extract_texts(server.chat_requests[first:])
    assert set(every) == all_texts
    # Sent twice: only requests in flight at a kill (at most llm_concurrency per kill).
    assert len(every) - len(all_texts) <= settings["llm_concurrency"] * len(KILL_POINTS)

    with open_rag(workspace, settings) as rag:
        assert {r.status for r in rag.status()} == {"processed"}
        assert all(not rag.state.pending(kind) for kind in ("document", "chunk", "entity", "relation"))
        assert rag.state.count_chunks() == n_chunks
        assert snapshot(rag) == expected
