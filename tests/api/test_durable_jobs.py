"""Durable API jobs (issue 11 item 6): an accepted upload is never lost, whether another
writer holds the workspace or the server restarts before the job could run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient
from filelock import FileLock, Timeout

from graphrag.api import create_app
from graphrag.core import GraphRAG
from graphrag.llm.cache import LLMCache
from graphrag.llm.chat import OpenAIChatModel
from graphrag.settings import Settings
from graphrag.stores.factory import build_state_store
from tests.api.conftest import wait_job
from tests.fakes.openai_server import FakeOpenAIServer
from tests.flows.conftest import slow_responder, wait_for

SETTINGS = {"chunk_size": 200, "chunk_overlap": 20, "embedder": "hashing", "summary_min_fragments": 4,
            "extractor": "llm", "chat_model": "fake-model"}
UPLOAD = "Grace Hopper joined the United States Navy in December 1943. Grace Hopper later worked on COBOL."


def open_rag(workspace: Path, url: str, **overrides: object) -> GraphRAG:
    settings = Settings(workspace=workspace, chat_base_url=url, **{**SETTINGS, **overrides})
    state = build_state_store(settings)
    chat = OpenAIChatModel(url, "fake-model", cache=LLMCache(state), backoff_base=0.01)
    return GraphRAG(settings, chat=chat, state=state)


def env_for(workspace: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "OPENAI_"))}
    env.update({f"GRAPHRAG_{k.upper()}": str(v) for k, v in SETTINGS.items()})
    env.update(GRAPHRAG_CHAT_BASE_URL=url, GRAPHRAG_WORKSPACE=str(workspace))
    return env


def lock_is_held(workspace: Path) -> bool:
    try:
        FileLock(str(workspace / "write.lock")).acquire(timeout=0).lock.release()
    except Timeout:
        return True
    return False


def upload(client: TestClient) -> tuple[str, str]:
    response = client.post("/documents", json={"documents": [{"text": UPLOAD, "source": "hopper.txt"}]})
    assert response.status_code == 202, response.text
    body = response.json()
    return body["track_id"], body["document_ids"][0]


def test_an_upload_accepted_while_a_cli_run_holds_the_workspace_ends_indexed(
    tmp_path: Path, sample_texts: dict[str, str]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in sample_texts.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    ws = tmp_path / "ws"
    with FakeOpenAIServer(slow_responder(0.05)) as server:
        cli = subprocess.Popen([sys.executable, "-m", "graphrag.cli", "index", str(folder)],
                               env=env_for(ws, server.base_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: (ws / "write.lock").exists() and lock_is_held(ws), timeout=60, what="the CLI's lock")
            with open_rag(ws, server.base_url) as rag, TestClient(create_app(rag)) as client:
                track, document = upload(client)
                time.sleep(0.5)
                assert cli.poll() is None, "the CLI run ended before the upload: nothing was tested"
                assert client.get(f"/documents/{document}").json()["status"] == "queued"
                assert "waiting for the workspace" in (client.get(f"/jobs/{track}").json()["error"] or "")
                job = wait_job(client, track, timeout=240)
                assert job["status"] == "done", job
                assert job["result"]["documents_new"] == 1
                assert client.get(f"/documents/{document}").json()["status"] == "processed"
        finally:
            _, err = cli.communicate(timeout=240)
    assert cli.returncode == 0, err.decode()[-2000:]
    with open_rag(ws, "http://unused.invalid/v1") as rag:
        assert len(rag.status("processed")) == len(sample_texts) + 1


def test_an_accepted_job_survives_a_server_restart(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    hold = "from graphrag.workspace_lock import workspace_lock; import sys, pathlib\n" \
           "with workspace_lock(pathlib.Path(sys.argv[1]), 0):\n    print('held', flush=True); sys.stdin.read()"
    with FakeOpenAIServer() as server:
        holder = subprocess.Popen([sys.executable, "-c", hold, str(ws)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
            with open_rag(ws, server.base_url) as rag, TestClient(create_app(rag)) as client:
                track, document = upload(client)
                wait_for(lambda: "waiting" in (client.get(f"/jobs/{track}").json()["error"] or ""), 30, "the lock wait")
                assert client.get(f"/documents/{document}").json()["status"] == "queued"
            # The server stopped with the job still waiting: nothing ran, nothing is lost.
        finally:
            holder.communicate(b"", timeout=30)  # the other writer is done
        with open_rag(ws, server.base_url) as rag, TestClient(create_app(rag)) as client:
            job = wait_job(client, track, timeout=120)
            assert job["status"] == "done", job
            assert client.get(f"/documents/{document}").json()["status"] == "processed"
            assert client.get("/documents").json()["counts"]["processed"] == 1


def test_a_delete_keeps_the_upload_an_index_queued_after_it_reads(tmp_path) -> None:
    """The same text added again while its delete waits lands on the same upload path: the
    delete must not take the file the later index job reads (found by the API fuzz test:
    the index job failed with 'no such file')."""
    from types import SimpleNamespace

    from graphrag.api.job_kinds import job_executor
    from graphrag.api.jobs import Job
    from graphrag.models import DocumentRecord

    upload_dir = tmp_path / "uploads"
    path = upload_dir / "5feceb66ffc86f38" / "text-0.txt"
    path.parent.mkdir(parents=True)
    path.write_text("0")
    record = DocumentRecord("doc", str(path), "", "hash")
    rag = SimpleNamespace(delete=lambda refs, progress: [record])
    index = Job("index-1", "index", {"paths": [str(path)]})

    job_executor(rag, upload_dir, lambda: [index])("delete", {"refs": ["doc"]}, lambda *a: None)
    assert path.exists()
    job_executor(rag, upload_dir, lambda: [])("delete", {"refs": ["doc"]}, lambda *a: None)
    assert not path.exists()
