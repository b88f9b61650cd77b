"""Long runs report progress: every stage (load, extract, describe, write, embed) with counts,
rate and ETA; log lines when the output is not a terminal, JSON with --log-format json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from graphrag.progress import EmbedProgress, JsonLogFormatter, LogProgress, with_describe_progress, with_embed_progress
from tests.cli.support import graphrag
from tests.conftest import SAMPLE_DIR


def test_index_through_a_pipe_logs_every_stage_as_json(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    proc = graphrag("--log-format", "json", "index", str(SAMPLE_DIR), "--workspace", str(workspace), "--json",
                    env={"GRAPHRAG_PROGRESS_INTERVAL": "0.001"})
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # stdout stays the report alone
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    progress = [e["progress"] for e in events if "progress" in e]
    stages = {p["stage"] for p in progress}
    assert {"load", "extract", "describe", "write", "embed"} <= stages, stages
    for stage in ("load", "extract", "describe", "write", "embed"):
        last = [p for p in progress if p["stage"] == stage][-1]
        assert last["total"] > 0 and last["done"] == last["total"], last
    embed = [p for p in progress if p["stage"] == "embed"]
    assert any(0 < p["done"] < p["total"] for p in embed), embed  # moves as batches finish
    assert any(p["eta_seconds"] is not None for p in progress if p["stage"] == "extract")


def test_plain_text_progress_when_not_a_terminal(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Ada Lovelace met Charles Babbage in London.", encoding="utf-8")
    proc = graphrag("index", str(corpus), "--workspace", str(tmp_path / "ws"))
    assert proc.returncode == 0, proc.stderr
    assert "extract 1/1 chunks (100%)" in proc.stderr and "done in" in proc.stderr


def _records(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [r.progress for r in caplog.records if hasattr(r, "progress")]


def test_log_progress_is_periodic_and_says_done_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="graphrag.progress")
    reporter = LogProgress(interval=3600)
    for done in range(0, 101):
        reporter("extract", done, 100)
    reporter("extract", 100, 100)
    lines = _records(caplog)
    assert [(p["done"], p["total"]) for p in lines] == [(0, 100), (100, 100)]  # start and end only
    assert lines[-1]["rate"] is not None and lines[-1]["eta_seconds"] is None


def test_eta_from_the_rate(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("graphrag.progress.time.monotonic", lambda: now[0])
    caplog.set_level(logging.INFO, logger="graphrag.progress")
    reporter = LogProgress(interval=5)
    reporter("embed", 0, 1000)
    now[0] += 10
    reporter("embed", 250, 1000)
    line = _records(caplog)[-1]
    assert line["rate"] == 25.0 and line["eta_seconds"] == 30.0
    assert "embed 250/1,000 texts (25%), 25.0/s, ETA 30s" in caplog.records[-1].getMessage()


def test_embed_progress_reports_batches_against_the_announced_total() -> None:
    class Batched:
        """Like graphrag's embedders: `progress(done, total)` after each batch of 128."""

        dim = 3
        model_id = "batched"

        def embed(self, texts, progress=None):
            for done in range(128, len(texts) + 128, 128):
                if progress is not None:
                    progress(min(done, len(texts)), len(texts))
            return np.ones((len(texts), 3), dtype=np.float32)

    class Plain:
        dim = 3
        model_id = "plain"

        def embed(self, texts):
            return np.ones((len(texts), 3), dtype=np.float32)

    seen: list[tuple[int, int]] = []

    class Recorder(LogProgress):
        def show(self, stage, clock):
            seen.append((clock.done, clock.total))

    reporter = Recorder()
    embedder = with_embed_progress(Batched(), reporter)
    assert isinstance(embedder, EmbedProgress) and embedder.model_id == "batched"
    assert with_embed_progress(Batched(), lambda *a: None).__class__.__name__ == "Batched"
    reporter("embed", 0, 300)
    out = embedder.embed(["t"] * 300)
    assert out.shape == (300, 3)
    assert seen == [(0, 300), (128, 300), (256, 300), (300, 300)]

    seen.clear()
    reporter("embed", 0, 300)
    assert with_embed_progress(Plain(), reporter).embed(["t"] * 300).shape == (300, 3)
    assert seen[-1] == (300, 300)  # an embedder that cannot report per batch moves once, at the end


def test_json_formatter_carries_the_fields() -> None:
    record = logging.LogRecord("graphrag.progress", logging.INFO, __file__, 1, "load 1/2 files", None, None)
    record.progress = {"stage": "load", "done": 1, "total": 2}
    data = json.loads(JsonLogFormatter().format(record))
    assert data["message"] == "load 1/2 files" and data["progress"]["total"] == 2 and data["level"] == "info"


def test_describe_progress_advances_per_description() -> None:
    import asyncio

    class Summarizer:
        chat = None

        async def describe(self, name, fragments):
            return " ".join(fragments)

    seen: list[int] = []

    class Recorder(LogProgress):
        def show(self, stage, clock):
            seen.append(clock.done)

    reporter = Recorder()
    summarizer = with_describe_progress(Summarizer(), reporter)
    assert summarizer.chat is None
    reporter("describe", 0, 3)

    async def run() -> list[str]:
        return await asyncio.gather(*(summarizer.describe(n, [n, "x"]) for n in "abc"))

    assert asyncio.run(run()) == ["a x", "b x", "c x"]
    assert seen == [0, 1, 2, 3]
