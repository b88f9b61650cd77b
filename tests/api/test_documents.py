"""Documents through the API: JSON text, uploads of every supported type, bad files,
listing, deletion (the same result as `graphrag delete`), scanning a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import add_texts, wait_job
from tests.ingest.test_load import make_pdf

PROSE = "Ebenezer Scrooge kept a counting-house in London. Jacob Marley was his partner for many years."

GOOD_FILES = {
    "notes.txt": PROSE.encode(),
    "notes.md": f"# Marley\n\n{PROSE}".encode(),
    "page.html": f"<html><head><title>Scrooge</title></head><body><p>{PROSE}</p></body></html>".encode(),
    "carol.pdf": make_pdf([PROSE]),
    "records.jsonl": (json.dumps({"id": "a", "text": PROSE}) + "\n"
                      + json.dumps({"id": "b", "text": "Bob Cratchit worked for Scrooge."}) + "\n").encode(),
}


@pytest.mark.parametrize("name", sorted(GOOD_FILES))
def test_upload_of_each_supported_type_is_indexed(make_client, name: str) -> None:
    client = make_client()
    response = client.post("/documents", files=[("files", (name, GOOD_FILES[name]))])
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["document_ids"] and body["track_id"]
    assert wait_job(client, body["track_id"])["status"] == "done"
    for doc_id in body["document_ids"]:
        doc = client.get(f"/documents/{doc_id}").json()
        assert doc["status"] == "processed", doc
        assert doc["n_chunks"] >= 1
    assert client.get("/graph/stats").json()["entities"] > 0


BAD_FILES = {
    "binary.txt": b"\x00\x01\x02\xff" * 100,
    "empty.txt": b"",
    "program.exe": b"MZ\x90\x00",
    "broken.pdf": b"%PDF-1.4\nthis is not a pdf",
    "bad.jsonl": b"{not json\n",
    "noext": b"plain text without an extension",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_upload_is_422_with_a_reason_and_indexes_nothing(make_client, name: str) -> None:
    client = make_client()
    response = client.post("/documents", files=[("files", (name, BAD_FILES[name]))])
    assert response.status_code == 422, response.text
    assert name in response.json()["detail"]
    assert client.get("/documents").json()["counts"]["total"] == 0
    assert client.get("/jobs").json() == []


def test_invalid_document_bodies(make_client) -> None:
    client = make_client()
    assert client.post("/documents", json={"documents": []}).status_code == 422
    assert client.post("/documents", json={"documents": [{"text": ""}]}).status_code == 422
    assert client.post("/documents", json={"text": "x"}).status_code == 422
    assert client.post("/documents", content=b"\xff\xfe", headers={"content-type": "application/json"}
                       ).status_code == 422
    assert client.post("/documents", content=b"x", headers={"content-type": "text/plain"}).status_code == 415
    assert client.post("/documents", data={"note": "no files"}, files={}).status_code in (415, 422)


def test_list_get_and_unknown_ids(make_client, sample_texts) -> None:
    client = make_client()
    added = add_texts(client, sample_texts)
    listing = client.get("/documents").json()
    assert listing["counts"] == {"total": 3, "processed": 3}
    assert {d["id"] for d in listing["documents"]} == set(added["document_ids"])
    assert client.get("/documents", params={"status": "failed"}).json()["documents"] == []
    assert client.get("/documents/nope").status_code == 404
    assert client.delete("/documents/nope").status_code == 404
    # adding the same text again is a no-op: same ids, nothing re-extracted
    again = add_texts(client, sample_texts)
    assert again["document_ids"] == added["document_ids"]
    assert wait_job(client, again["track_id"])["result"]["documents_unchanged"] == 3


def _graph(rag) -> tuple[dict, dict]:
    entities = {e.key: (e.description, tuple(sorted(e.source_ids))) for e in rag.graph.iter_entities()}
    relations = {r.key: (r.description, tuple(sorted(r.source_ids))) for r in rag.graph.iter_relations()}
    return entities, relations


def test_delete_through_the_api_matches_graphrag_delete(graph_backend, make_client, make_rag, sample_texts, write_docs) -> None:
    client = make_client("api")
    added = add_texts(client, sample_texts)
    victim = added["document_ids"][1]
    response = client.delete(f"/documents/{victim}")
    assert response.status_code == 200, response.text
    assert [d["id"] for d in response.json()["deleted"]] == [victim]
    assert client.get(f"/documents/{victim}").status_code == 404

    # the same corpus indexed and deleted with the Python API (what `graphrag delete` runs)
    twin = make_rag("twin")
    paths = write_docs(sample_texts)
    twin.index(paths)
    doc_ids = {r.source: r.id for r in twin.status()}
    assert victim in doc_ids.values()
    twin.delete([victim])
    assert _graph(client.rag) == _graph(twin)
    assert client.get("/graph/stats").json()["chunks"] == twin.stats()["chunks"]


def test_scan_needs_a_configured_folder_and_ingests_it(make_client, sample_texts, write_docs, tmp_path: Path) -> None:
    assert make_client("noscan").post("/documents/scan").status_code == 400
    write_docs(sample_texts, "inbox")
    client = make_client("scan", api_scan_dir=tmp_path / "inbox")
    response = client.post("/documents/scan", json={"prune": True})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["track_id"])
    assert job["status"] == "done" and job["result"]["documents_new"] == 3
    assert client.get("/documents").json()["counts"]["processed"] == 3


def test_requests_do_not_wait_for_ingestion(make_client, sample_texts) -> None:
    import time

    from tests.fakes.chat import ScriptedChatModel

    client = make_client(chat=ScriptedChatModel(latency=0.05))  # every LLM call takes 50 ms
    assert client.get("/health").json()["status"] == "ok"  # stores opened (first use imports LanceDB)
    started = time.perf_counter()
    response = client.post("/documents", json={"documents": [{"text": t} for t in sample_texts.values()]})
    assert response.status_code == 202
    track = response.json()["track_id"]
    assert client.get("/documents").status_code == 200
    assert client.get("/health").json()["status"] == "ok"
    assert time.perf_counter() - started < 1.0
    assert client.get(f"/jobs/{track}").json()["status"] in ("queued", "running")
    pending = response.json()["document_ids"][0]
    assert client.get(f"/documents/{pending}").json()["status"] in ("queued", "pending", "processing", "processed")
    assert wait_job(client, track)["status"] == "done"
    assert client.get("/documents").json()["counts"]["processed"] == 3


def test_a_running_job_reports_its_stage_and_counts(make_client, sample_texts) -> None:
    import time

    from tests.fakes.chat import ScriptedChatModel

    client = make_client(chat=ScriptedChatModel(latency=0.05))
    track = client.post("/documents", json={"documents": [{"text": t} for t in sample_texts.values()]}).json()["track_id"]
    seen: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{track}").json()
        if job["progress"] is not None:
            p = job["progress"]
            assert 0 <= p["done"] <= p["total"] or p["total"] == 0
            seen.append((p["stage"], p["done"], p["total"]))
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.02)
    assert job["status"] == "done"
    stages = [s for s, _, _ in seen]
    assert "extract" in stages, seen  # chunks extracted so far, while the model answers
    extract = [(d, t) for s, d, t in seen if s == "extract"]
    assert any(d < t for d, t in extract) and extract == sorted(extract), extract  # it moved, forwards
    # The last report stays on the finished job, and a listing carries it too.
    assert job["progress"] is not None and job["progress"]["done"] == job["progress"]["total"]
    assert next(j for j in client.get("/jobs").json() if j["track_id"] == track)["progress"] == job["progress"]
