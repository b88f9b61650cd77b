"""Schedules and work pools against a real `prefect server start` on loopback (schedules
never fire against the temporary server of the harness)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.flows.conftest import REPO, api_get, api_post, open_rag, read_artifacts, stop_process, subprocess_env, wait_for

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _flow_runs(api_url: str, deployment_id: str, state: str | None = None) -> list[dict]:
    body: dict = {"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    if state:
        body["flow_runs"] = {"state": {"type": {"any_": [state]}}}
    return api_post(api_url, "/flow_runs/filter", body)


def _deployment(api_url: str, name: str) -> dict | None:
    return api_get(api_url, f"/deployments/name/graphrag-ingest/{name}")


def test_graphrag_schedule_serves_the_flow_and_runs_fire(prefect_server, fake_llm, write_docs, sample_texts, tmp_path):
    server = fake_llm()
    paths = write_docs(sample_texts)
    ws = tmp_path / "ws"
    # The served runner polls every second instead of every 10 s.
    env = subprocess_env(server, prefect_server, PREFECT_RUNNER_POLL_FREQUENCY="1")
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(BIN / "graphrag"), "schedule", str(paths[0].parent), "--interval", "2", "--workspace", str(ws)],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deployment = wait_for(lambda: serve.poll() is None and _deployment(prefect_server, "ingest-ws"),
                              timeout=90, what="the deployment", interval=0.25)
        [schedule] = deployment["schedules"]
        assert schedule["schedule"]["interval"] == 2.0 and schedule["active"]
        assert deployment["parameters"] == {"source": [str(paths[0].parent)], "workspace": str(ws), "prune": False}
        runs = wait_for(lambda: len(done := _flow_runs(prefect_server, deployment["id"], "COMPLETED")) >= 2 and done,
                        timeout=180, what="two scheduled runs to complete", interval=0.5)
    finally:
        returncode = stop_process(serve)
        log.close()
    assert returncode is not None, (tmp_path / "serve.log").read_text()[-3000:]

    first, second = runs[:2]
    assert first["auto_scheduled"] and second["auto_scheduled"]
    reports = [read_artifacts(prefect_server, run["id"])[0]["data"] for run in (first, second)]
    assert "| new | 3 |" in reports[0]
    assert "| unchanged | 3 |" in reports[1] and "| new | 0 |" in reports[1]
    with open_rag(ws, {"embedder": "hashing", "extractor": "llm", "chat_base_url": server.base_url}) as rag:
        assert [r.status for r in rag.status()] == ["processed"] * 3
    assert httpx.get(prefect_server.removesuffix("/api") + "/", timeout=10).text.lstrip().startswith("<!DOCTYPE html>")


def test_prefect_yaml_deploys_to_a_work_pool_and_a_worker_runs_it(
    prefect_server, fake_llm, write_docs, sample_texts, tmp_path
):
    from prefect.workers.process import ProcessWorker

    server = fake_llm()
    paths = write_docs(sample_texts)
    ws = tmp_path / "ws"
    env = subprocess_env(server, prefect_server, GRAPHRAG_CHECKOUT=str(REPO))
    api_post(prefect_server, "/work_pools/", {
        "name": "graphrag", "type": "process", "base_job_template": ProcessWorker.get_default_base_job_template(),
    })

    deploy = subprocess.run(
        [str(BIN / "prefect"), "deploy", "--prefect-file", str(REPO / "prefect.yaml"), "--name", "ingest-sample",
         "--params", json.dumps({"source": str(paths[0].parent), "workspace": str(ws)})],
        env=env, cwd=REPO, capture_output=True, timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout.decode()[-3000:] + deploy.stderr.decode()[-3000:]
    deployment = _deployment(prefect_server, "ingest-sample")
    assert deployment["work_pool_name"] == "graphrag"
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["*/15 * * * *"]
    run = api_post(prefect_server, f"/deployments/{deployment['id']}/create_flow_run", {})

    worker = subprocess.run(
        [str(BIN / "prefect"), "worker", "start", "--pool", "graphrag", "--run-once"],
        env=env, cwd=tmp_path, capture_output=True, timeout=300,
    )
    assert worker.returncode == 0, worker.stderr.decode()[-3000:]
    state = api_get(prefect_server, f"/flow_runs/{run['id']}")["state"]
    assert state["type"] == "COMPLETED", (state, worker.stdout.decode()[-3000:])
    with open_rag(ws, {"embedder": "hashing", "extractor": "llm", "chat_base_url": server.base_url}) as rag:
        assert [r.status for r in rag.status()] == ["processed"] * 3
