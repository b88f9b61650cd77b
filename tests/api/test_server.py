"""`graphrag serve` as a real process on loopback (uvicorn), used over HTTP with httpx:
offline spaCy extraction, hashing embedder, an API key."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.serve_process import serving

KEY = "test-key-123"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "GRAPHRAG_WORKSPACE": str(tmp_path / "ws"),
        "GRAPHRAG_EMBEDDER": "hashing",
        "GRAPHRAG_EXTRACTOR": "spacy",
        "GRAPHRAG_CHUNK_SIZE": "200",
        "GRAPHRAG_CHUNK_OVERLAP": "20",
        "GRAPHRAG_API_KEY": KEY,
    }
    with serving(env) as base:
        yield base


def test_serve_end_to_end_over_loopback(server: str, sample_texts: dict[str, str]) -> None:
    with httpx.Client(base_url=server, timeout=60) as anon:
        assert anon.get("/health").json()["status"] == "ok"
        assert anon.get("/documents").status_code == 401
    with httpx.Client(base_url=server, timeout=60, headers={"X-API-Key": KEY}) as client:
        accepted = client.post("/documents", files=[("files", ("a.txt", sample_texts["A"].encode())),
                                                    ("files", ("b.md", sample_texts["B"].encode()))])
        assert accepted.status_code == 202, accepted.text
        track = accepted.json()["track_id"]
        deadline = time.monotonic() + 90
        while (job := client.get(f"/jobs/{track}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["status"] == "done", job
        assert client.get("/documents").json()["counts"]["processed"] == 2

        answer = client.post("/query", json={"question": "Who is Scrooge?"}).json()
        assert answer["answer"] and answer["references"]
        with client.stream("POST", "/query/stream", json={"question": "Who is Scrooge?"}) as response:
            first = next(response.iter_lines())
        assert first == "event: references"

        doc_id = accepted.json()["document_ids"][0]
        deleted = client.delete(f"/documents/{doc_id}")
        assert deleted.status_code == 200 and deleted.json()["deleted"][0]["id"] == doc_id
        assert client.get("/documents").json()["counts"]["processed"] == 1
        assert client.post("/cypher", json={"query": "RETURN 1"}).status_code == 400  # NetworkX
