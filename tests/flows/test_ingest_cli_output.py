"""`graphrag ingest` prints the run summary once (the flow's own log line of it stays in the
Prefect UI, not on the console) and no link when there is no UI to link to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.flows.conftest import PREFECT_ENV, REPO

pytestmark = pytest.mark.slow


def test_ingest_prints_the_summary_once_and_a_dry_run_writes_nothing(tmp_path: Path, sample_texts: dict[str, str]) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text(sample_texts["A"], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "PREFECT_"))}
    env.update(PREFECT_ENV, PREFECT_LOGGING_LEVEL="INFO", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
               GRAPHRAG_EMBEDDER="hashing", GRAPHRAG_EXTRACTOR="spacy", PYTHONPATH=str(REPO))
    dry = subprocess.run([sys.executable, "-m", "graphrag.cli", "ingest", str(doc), "--dry-run", "--workspace",
                          str(tmp_path / "ws")], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert not (tmp_path / "ws").exists()  # a dry run writes nothing, through the flow too
    assert dry.stdout.count("dry run") == 1, dry.stdout + dry.stderr[-3000:]
    proc = subprocess.run([sys.executable, "-m", "graphrag.cli", "ingest", str(doc), "--workspace", str(tmp_path / "ws")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    both = proc.stdout + proc.stderr
    assert "Finished in state Completed" in proc.stderr  # the flow's console logs are on
    assert proc.stdout.count("ingested into") == 1 and both.count("ingested into") == 1, both[-3000:]
    assert "None/flow-runs" not in both
