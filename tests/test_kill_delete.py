"""A `graphrag delete` killed half-way converges when run again (issue 11 item 7): the
rerun finishes the journal first, then finds the deletion already done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graphrag.core import GraphRAG
from graphrag.llm.cache import LLMCache
from graphrag.llm.chat import OpenAIChatModel
from graphrag.settings import Settings
from graphrag.stores.factory import build_state_store
from tests.fakes.openai_server import FakeOpenAIServer
from tests.flows.conftest import slow_responder, wait_for
from tests.test_invariants import snapshot

SETTINGS = {"chunk_size": 200, "chunk_overlap": 20, "embedder": "hashing", "summary_min_fragments": 2, "extractor": "llm"}


def open_rag(workspace: Path, server: FakeOpenAIServer) -> GraphRAG:
    settings = Settings(workspace=workspace, chat_base_url=server.base_url, **SETTINGS)
    state = build_state_store(settings)
    chat = OpenAIChatModel(server.base_url, "fake-model", cache=LLMCache(state), concurrency=2)
    return GraphRAG(settings, chat=chat, state=state)


@pytest.mark.parametrize("by", ["id", "path"])
def test_a_killed_delete_converges_when_run_again(by: str, tmp_path: Path, sample_texts: dict[str, str]) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    paths = []
    for name, text in sample_texts.items():
        paths.append(folder / f"{name}.txt")
        paths[-1].write_text(text, encoding="utf-8")
    with FakeOpenAIServer(slow_responder(0.2)) as server:
        with open_rag(tmp_path / "clean", server) as clean:
            clean.index([paths[0], paths[2]])
            expected = snapshot(clean)
        ws = tmp_path / "ws"
        with open_rag(ws, server) as rag:
            rag.index(paths)
            [doomed] = rag.state.find_documents_by_source(str(paths[1].resolve()))

        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "OPENAI_"))}
        env.update({f"GRAPHRAG_{k.upper()}": str(v) for k, v in SETTINGS.items()})
        env.update(GRAPHRAG_CHAT_BASE_URL=server.base_url, GRAPHRAG_CHAT_MODEL="fake-model", GRAPHRAG_WORKSPACE=str(ws))
        command = [sys.executable, "-m", "graphrag.cli", "delete", doomed.id if by == "id" else str(paths[1])]
        start = len(server.chat_requests)
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # Re-summarizing what the document shared with the others: inside reconcile.
            wait_for(lambda: any(r.purpose == "summarize" for r in server.chat_requests[start:]) or run.poll() is not None,
                     timeout=120, what="the delete's first summary")
            assert run.poll() is None, run.communicate()[1].decode()[-2000:]
            run.send_signal(signal.SIGKILL)
        finally:
            run.kill()
            run.communicate()
        with open_rag(ws, server) as rag:
            assert any(rag.state.pending(kind) for kind in ("document", "entity", "relation")), "killed too late"
            assert snapshot(rag) != expected

        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert doomed.id in again.stdout
        with open_rag(ws, server) as rag:
            assert all(not rag.state.pending(kind) for kind in ("document", "chunk", "entity", "relation"))
            assert snapshot(rag) == expected
