"""API fixtures: a TestClient over a make_rag workspace (scripted chat model, hashing
embedder; NetworkX, or Neo4j for tests that take `graph_backend`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient


def wait_job(client: TestClient, track_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/jobs/{track_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {track_id} still {job['status']} after {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def make_client(make_rag: Callable[..., Any]) -> Iterator[Callable[..., TestClient]]:
    from graphrag.api import create_app

    clients: list[TestClient] = []

    def make(workspace: str = "ws", *, api_key: str | None = None, rag: Any = None,
             workspaces: dict[str, Any] | None = None, **overrides: Any) -> TestClient:
        rag = rag if rag is not None else make_rag(workspace, **overrides)
        client = TestClient(create_app(rag, api_key=api_key, workspaces=workspaces), raise_server_exceptions=False)
        client.__enter__()
        client.rag = rag  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def add_texts(client: TestClient, texts: dict[str, str]) -> dict[str, Any]:
    """Adds {name: text} through POST /documents and waits for the indexing job."""
    response = client.post(
        "/documents", json={"documents": [{"text": t, "source": f"{n}.txt"} for n, t in texts.items()]}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    job = wait_job(client, body["track_id"])
    assert job["status"] == "done", job
    return body


@pytest.fixture
def indexed_client(make_client: Callable[..., TestClient], sample_texts: dict[str, str]) -> TestClient:
    client = make_client()
    add_texts(client, sample_texts)
    return client
