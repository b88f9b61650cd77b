"""Fixtures for the Prefect flow tests: real Prefect, no mocks.

In-process flows run against one `prefect_test_harness` server per test session; flows in
subprocesses (kill, lock and schedule tests) talk to the same server through
PREFECT_API_URL, or to a `prefect server start` of their own where schedules must fire.
The chat model is `FakeOpenAIServer`: a real OpenAI-compatible HTTP server on loopback,
so every run, in-process or not, uses the real HTTP client, cache and retries.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from graphrag.llm.base import Message
from tests.fakes.chat import derived_extraction_responder
from tests.fakes.openai_server import FakeOpenAIServer

# Prefect reads its settings when first imported: quiet, isolated, no telemetry. Set before
# any test module imports prefect (test modules import it inside tests and fixtures only).
PREFECT_HOME = tempfile.mkdtemp(prefix="graphrag-prefect-home-")
PREFECT_ENV = {
    "PREFECT_HOME": PREFECT_HOME,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_CLI_PROMPT": "false",
}
os.environ.update(PREFECT_ENV)
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_API_KEY", None)

REPO = Path(__file__).resolve().parents[2]

# What every test workspace shares: small chunks, the hashing embedder, LLM extraction.
BASE_SETTINGS: dict[str, Any] = {
    "chunk_size": 200,
    "chunk_overlap": 20,
    "embedder": "hashing",
    "summary_min_fragments": 4,
    # These tests compare workspaces built in different orders (a budget stop, kills) word
    # for word; the default fold policy keeps only their structure order-independent.
    "summary_policy": "rebuild",
    "extractor": "llm",
    "llm_concurrency": 2,
}


@pytest.fixture(scope="session")
def prefect_api(request: pytest.FixtureRequest) -> Iterator[str]:
    """A temporary Prefect server for the whole session (~11 s to start); its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    if any("prefect_server" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("prefect_server_process")  # boots while the harness starts
    with prefect_test_harness(server_startup_timeout=None):
        yield str(PREFECT_API_URL.value())


class PrefectServerProcess:
    """`prefect server start` on a free loopback port, with its own PREFECT_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        # The recently-deployed scheduler looks every second instead of every 5.
        env.update(PREFECT_ENV, PREFECT_HOME=str(home), PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS="1")
        self.log = home / "server.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout: float = 120) -> str:
        import httpx

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"prefect server exited: {self.log.read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=timeout, what="prefect server start", interval=0.25)
        return self.url

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen, timeout: float = 30) -> int:
    """SIGINT (what Ctrl-C sends: Prefect's server and `serve` stop promptly on it), then SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture(scope="session")
def prefect_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServerProcess]:
    server = PrefectServerProcess(tmp_path_factory.mktemp("prefect-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prefect_server(prefect_server_process: PrefectServerProcess) -> str:
    """A real Prefect server (schedules fire only against one; it serves the UI too): its API URL."""
    return prefect_server_process.wait_healthy()


def slow_responder(delay: float, responder: Callable[[Sequence[Message], str], str] = derived_extraction_responder):
    """The deterministic fake LLM, taking `delay` seconds per answer (on the server's
    handler threads, so concurrent requests overlap like on a real endpoint)."""

    def respond(messages: Sequence[Message], purpose: str) -> str:
        time.sleep(delay)
        return responder(messages, purpose)

    return respond


@pytest.fixture
def fake_llm() -> Iterator[Callable[..., FakeOpenAIServer]]:
    """`fake_llm(delay=0.0, responder=None)` starts a FakeOpenAIServer, stopped after the test."""
    servers: list[FakeOpenAIServer] = []

    def start(delay: float = 0.0, responder: Callable[[Sequence[Message], str], str] | None = None) -> FakeOpenAIServer:
        chat = responder or derived_extraction_responder
        server = FakeOpenAIServer(slow_responder(delay, chat) if delay else chat).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def flow_settings(server: FakeOpenAIServer, **overrides: Any) -> dict[str, Any]:
    return {**BASE_SETTINGS, "chat_base_url": server.base_url, **overrides}


def run_flow(prefect_api: str, source: Any, workspace: Path, settings: dict[str, Any], **params: Any) -> dict[str, Any]:
    """Runs the ingest flow in this process against the session's Prefect server."""
    from flows.ingest import ingest

    return asyncio.run(ingest(source=source, workspace=str(workspace), settings=settings, **params))


def open_rag(workspace: Path, settings: dict[str, Any]):
    """A GraphRAG on a workspace the flow wrote, to look at its stores."""
    from graphrag.core import GraphRAG
    from graphrag.settings import Settings

    return GraphRAG(Settings(workspace=workspace, **settings))


def subprocess_env(server: FakeOpenAIServer, api_url: str, **extra: str) -> dict[str, str]:
    """Environment of a flow run in another process: the same settings through GRAPHRAG_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "PREFECT_", "OPENAI_"))}
    env.update(PREFECT_ENV)
    env.update({f"GRAPHRAG_{k.upper()}": str(v) for k, v in BASE_SETTINGS.items()})
    env.update(
        {
            "GRAPHRAG_CHAT_BASE_URL": server.base_url,
            "PREFECT_API_URL": api_url,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Counter:
    """A thread-safe counter for responders (they run on the fake server's threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def bump(self, key: str) -> int:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


def _api(method: str, api_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    for attempt in range(6):  # a busy SQLite-backed server answers 503 now and then
        response = httpx.request(method, f"{api_url.rstrip('/')}/{path.lstrip('/')}", json=body, timeout=30)
        if response.status_code not in (429, 503):
            break
        time.sleep(0.5 * 2**attempt)
    if method == "GET" and response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def api_post(api_url: str, path: str, body: dict[str, Any]) -> Any:
    """The Prefect REST API, called directly: what the UI shows."""
    return _api("POST", api_url, path, body)


def api_get(api_url: str, path: str) -> Any:
    """GET on the Prefect REST API; None for 404."""
    return _api("GET", api_url, path)


def read_artifacts(api_url: str, flow_run_id: Any) -> list[dict[str, Any]]:
    """The artifacts a flow run published."""
    return api_post(api_url, "/artifacts/filter", {"flow_runs": {"id": {"any_": [str(flow_run_id)]}}})
