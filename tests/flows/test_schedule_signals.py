"""`graphrag schedule` stopped with SIGTERM (what Docker, systemd and Kubernetes send) stops
like Ctrl-C: the process exits promptly and the deployment's schedule is paused, so it does
not keep firing runs that nobody serves."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.flows.conftest import api_get, subprocess_env, wait_for

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_schedule_pauses_on_sigterm_as_on_ctrl_c(prefect_server, fake_llm, write_docs, sample_texts, tmp_path, stop):
    paths = write_docs({"A": sample_texts["A"]})
    ws = tmp_path / f"ws-{stop.name.lower()}"
    env = subprocess_env(fake_llm(), prefect_server)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [str(BIN / "graphrag"), "schedule", str(paths[0].parent), "--interval", "3600", "--workspace", str(ws)],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            name = f"graphrag-ingest/ingest-{ws.name}"
            deployment = wait_for(lambda: serve.poll() is None and api_get(prefect_server, f"/deployments/name/{name}"),
                                  timeout=120, what="the deployment", interval=0.25)
            assert not deployment["paused"]
            wait_for(lambda: b"serving deployment" in log_path.read_bytes(), timeout=30, what="the serving message")
            serve.send_signal(stop)
            serve.wait(60)
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait()
    output = log_path.read_text(errors="replace")
    deployment = api_get(prefect_server, f"/deployments/name/{name}")
    assert deployment["paused"], output[-3000:]
    assert "schedule of 'ingest-" in output and "is paused" in output, output[-3000:]
