"""`graphrag` as a user runs it: a subprocess on the shipped sample corpus, offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DIR


def run(workspace: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRAPHRAG_EMBEDDER": "hashing", "GRAPHRAG_EXTRACTOR": "spacy"}
    env.pop("GRAPHRAG_CHAT_BASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "graphrag.cli", *args, "--workspace", str(workspace)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"graphrag {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("cli")
    corpus = base / "corpus"
    shutil.copytree(SAMPLE_DIR, corpus)
    workspace = base / "ws"
    report = json.loads(run(workspace, "index", str(corpus), "--json").stdout)
    return corpus, workspace, report


@pytest.mark.slow
def test_offline_index_of_the_sample_builds_a_useful_graph(indexed):
    _, workspace, report = indexed
    assert report["documents_new"] == 5 and report["documents_failed"] == 0
    assert report["llm_calls"] == 0
    assert report["entities"] >= 80 and report["relations"] >= 80
    exported = workspace.parent / "graph.json"
    run(workspace, "export", "--format", "json", "--out", str(exported))
    graph = json.loads(exported.read_text())
    top = max(graph["entities"], key=lambda e: e["degree"])
    assert top["key"] == "scrooge" and top["type"] == "PERSON"
    keys = {e["key"] for e in graph["entities"]}
    assert {"marley", "tiny tim", "bob cratchit"} <= keys
    assert all({"key", "source", "target"} <= r.keys() for r in graph["relations"])


@pytest.mark.slow
def test_second_run_is_free_and_stats_status_export_delete_work(indexed):
    corpus, workspace, _ = indexed
    again = json.loads(run(workspace, "index", str(corpus), "--json").stdout)
    assert again["llm_calls"] == 0 and again["chunks_extracted"] == 0
    assert again["documents_unchanged"] == 5 and again["documents_new"] == 0

    stats = json.loads(run(workspace, "stats", "--json").stdout)
    assert stats["documents"] == 5 and stats["chunks"] > 5
    assert stats["entities"] == again["entities"] and stats["relations"] == again["relations"]

    status = json.loads(run(workspace, "status", "--json").stdout)
    assert {s["status"] for s in status} == {"processed"}

    out = workspace.parent / "export"
    run(workspace, "export", "--format", "parquet", "--out", str(out))
    assert (out / "entities.parquet").stat().st_size > 0 and (out / "relations.parquet").stat().st_size > 0
    run(workspace, "export", "--format", "graphml", "--out", str(out / "g.graphml"))
    assert "<graphml" in (out / "g.graphml").read_text()

    stave5 = corpus / "stave_5_five.txt"
    deleted = json.loads(run(workspace, "delete", str(stave5), "--json").stdout)
    assert [d["source"] for d in deleted["deleted"]] == [str(stave5.resolve())]
    after = json.loads(run(workspace, "stats", "--json").stdout)
    assert after["documents"] == 4 and after["chunks"] < stats["chunks"]

    missing = run(workspace, "delete", "no-such-document", check=False)
    assert missing.returncode == 2 and "graphrag status" in missing.stderr  # an argument error


def test_bad_inputs_fail_alone_with_reasons(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Ebenezer Scrooge kept a counting-house in London.", encoding="utf-8")
    (corpus / "empty.txt").write_text("   \n", encoding="utf-8")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (corpus / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus / "records.jsonl").write_text(
        '{"id": "p1", "title": "Fezziwig", "text": "Mr. Fezziwig gave a ball in London."}\n'
        "{not json\n"
        '{"id": "p2", "title": "Belle", "text": "Belle released Scrooge from their engagement."}\n',
        encoding="utf-8",
    )
    proc = run(tmp_path / "ws", "index", str(corpus), "--json", check=False)
    assert proc.returncode == 3, proc.stderr  # some documents failed: an honest exit code
    report = json.loads(proc.stdout)
    assert report["documents_new"] == 3  # good.txt and two records
    assert report["documents_skipped"] == 1 and report["documents_failed"] == 3
    reasons = {Path(f["source"]).name: f["reason"] for f in report["failures"]}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "line 2" in reasons["records.jsonl"]
    status = {Path(s["source"]).name: s for s in json.loads(run(tmp_path / "ws", "status", "--json").stdout)}
    assert status["good.txt"]["status"] == "processed"
    assert status["binary.txt"]["status"] == "failed" and status["binary.txt"]["error"]
