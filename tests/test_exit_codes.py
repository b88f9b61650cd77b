"""Honest exit codes (issue 11 item 5, issue 17 item 2): `graphrag` as a script sees it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from graphrag import exit_codes
from tests.fakes.openai_server import FakeOpenAIServer

TEXT = "Ada Lovelace wrote to Charles Babbage from London. Charles Babbage answered from Cambridge."


def graphrag(workspace: Path, chat_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "OPENAI_"))}
    env.update(
        GRAPHRAG_EMBEDDER="hashing", GRAPHRAG_EXTRACTOR="llm", GRAPHRAG_CHAT_BASE_URL=chat_url,
        GRAPHRAG_CHAT_MAX_RETRIES="1", GRAPHRAG_WORKSPACE=str(workspace),
    )
    return subprocess.run(
        [sys.executable, "-m", "graphrag.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    (folder / "b.txt").write_text(TEXT.replace("Ada Lovelace", "Mary Somerville"), encoding="utf-8")
    return folder


def test_a_missing_path_is_an_argument_error_and_records_nothing(tmp_path: Path, dead_url: str) -> None:
    ws = tmp_path / "ws"
    proc = graphrag(ws, dead_url, "index", str(tmp_path / "no-such-folder"))
    assert proc.returncode == exit_codes.USAGE, proc.stderr
    assert "no such file or folder" in proc.stderr and "no-such-folder" in proc.stderr
    assert not ws.exists()  # no fake failed document, no workspace at all
    glob = graphrag(ws, dead_url, "index", str(tmp_path / "*.nothing"))
    assert glob.returncode == exit_codes.USAGE and not ws.exists()


def test_failed_documents_exit_3_unless_partial_success_is_allowed(tmp_path: Path, docs: Path, dead_url: str) -> None:
    ws = tmp_path / "ws"
    proc = graphrag(ws, dead_url, "index", str(docs), "--json")
    assert proc.returncode == exit_codes.PARTIAL, proc.stderr
    report = json.loads(proc.stdout)
    assert report["documents_failed"] == 2 and "Check that the server is up" in report["failures"][0]["reason"]
    allowed = graphrag(ws, dead_url, "index", str(docs), "--allow-partial")
    assert allowed.returncode == exit_codes.OK, allowed.stderr
    assert "2 document(s) failed" not in allowed.stderr


def test_all_done_exits_0_and_an_unknown_document_is_an_argument_error(tmp_path: Path, docs: Path) -> None:
    ws = tmp_path / "ws"
    with FakeOpenAIServer() as server:
        assert graphrag(ws, server.base_url, "index", str(docs)).returncode == exit_codes.OK
        assert graphrag(ws, server.base_url, "delete", str(docs / "a.txt")).returncode == exit_codes.OK
        unknown = graphrag(ws, server.base_url, "delete", "doc-0123456789abcdef")
    assert unknown.returncode == exit_codes.USAGE and "no indexed document" in unknown.stderr


def test_ingest_refuses_a_missing_path_before_any_flow_run(tmp_path: Path, dead_url: str) -> None:
    ws = tmp_path / "ws"
    proc = graphrag(ws, dead_url, "ingest", str(tmp_path / "no-such-folder"))
    assert proc.returncode == exit_codes.USAGE, proc.stderr
    assert "no such file or folder" in proc.stderr and not ws.exists()
