"""Two ingestion runs on one workspace: the second refuses at once with a clear message,
or, given a lock timeout, waits for the first and then finds nothing left to do. The
workspace ends up exactly as one clean run leaves it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from typer.testing import CliRunner

from graphrag.cli import app
from graphrag.errors import WorkspaceLockedError
from tests.fakes.chat import derived_extraction_responder
from tests.flows.conftest import flow_settings, open_rag, run_flow, subprocess_env, wait_for
from tests.test_invariants import snapshot

LOCKED = r"another graphrag process is writing to .*ws .*; wait for it to finish, or set GRAPHRAG_LOCK_TIMEOUT"


@pytest.mark.slow
def test_a_second_run_refuses_or_waits_for_the_workspace_lock(prefect_api, fake_llm, write_docs, sample_texts, tmp_path):
    gate = threading.Event()  # the LLM answers nothing until the test opens it

    def responder(messages, purpose):
        gate.wait(120)
        return derived_extraction_responder(messages, purpose)

    server = fake_llm(responder=responder)
    paths = write_docs(sample_texts)
    folder, ws = paths[0].parent, tmp_path / "ws"
    settings = flow_settings(server)
    first = subprocess.Popen(
        [sys.executable, "-m", "flows.ingest", str(folder), "--workspace", str(ws), "--json"],
        env=subprocess_env(server, prefect_api), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: server.chat_requests or first.poll() is not None, timeout=120, what="the first run to extract")
        assert first.poll() is None, first.communicate()[1].decode()[-2000:]

        # The flow refuses at once (lock_timeout defaults to 0)...
        with pytest.raises(WorkspaceLockedError, match=LOCKED):
            run_flow(prefect_api, str(folder), ws, settings)
        # ... and so do its command line and the plain `graphrag index`.
        from flows.ingest import main

        assert main([str(folder), "--workspace", str(ws)]) == 1
        env = {f"GRAPHRAG_{k.upper()}": str(v) for k, v in settings.items()}
        refused = CliRunner().invoke(app, ["index", str(folder), "-w", str(ws)], env=env)
        assert refused.exit_code == 1 and "another graphrag process is writing" in refused.output

        # With a lock timeout, the second run waits for the first, then has nothing left to do.
        assert first.poll() is None
        threading.Timer(3.0, gate.set).start()  # the first run goes on once the second waits
        waited = run_flow(prefect_api, str(folder), ws, {**settings, "lock_timeout": 120})
        out, err = first.communicate(timeout=120)  # it released the lock and is finishing up
    finally:
        gate.set()
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, err.decode()[-3000:]
    assert json.loads(out)["documents"]["new"] == 3
    assert waited["documents"]["unchanged"] == 3 and waited["llm"]["calls"] == 0

    with open_rag(ws, settings) as rag, open_rag(tmp_path / "clean", settings) as clean:
        clean.index(paths)
        assert {r.status for r in rag.status()} == {"processed"}
        assert snapshot(rag) == snapshot(clean)
