"""POST /query and /query/stream over an index built through the API."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient


def _events(text: str) -> list[tuple[str, object]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_query_returns_answer_references_and_ranked_elements(graph_backend: str, indexed_client: TestClient) -> None:
    response = indexed_client.post("/query", json={"question": "Who is Scrooge?", "mode": "hybrid", "top_k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"]
    assert body["mode"] == "hybrid"
    for key in ("references", "entities", "relations", "chunks", "timings", "llm"):
        assert key in body
    assert 0 < len(body["chunks"]) <= 5
    assert body["timings"]["total"] > 0


def test_only_context_skips_the_answer(indexed_client: TestClient) -> None:
    body = indexed_client.post("/query", json={"question": "Who is Scrooge?", "only_context": True}).json()
    assert body["answer"] == ""
    assert body["context"]


def test_invalid_query_bodies_are_422(indexed_client: TestClient) -> None:
    for bad in ({}, {"question": ""}, {"question": "x", "mode": "nope"}, {"question": "x", "top_k": 0},
                {"question": "x", "extra": 1}):
        response = indexed_client.post("/query", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"]
    assert indexed_client.post("/query", content=b"{not json", headers={"content-type": "application/json"}
                               ).status_code == 422


def test_stream_sends_references_first_then_tokens_then_the_result(indexed_client: TestClient) -> None:
    with indexed_client.stream("POST", "/query/stream", json={"question": "Who is Scrooge?"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = _events(text)
    names = [name for name, _ in events]
    assert names[0] == "references"
    assert names[-1] == "result"
    assert "token" in names
    answer = "".join(data["text"] for name, data in events if name == "token")  # type: ignore[index]
    result = events[-1][1]
    assert answer == result["answer"]  # type: ignore[index]
    assert events[0][1]  # the context has sources
    cited = {r["chunk_id"] for r in result["references"]}  # type: ignore[index]
    assert cited <= {r["chunk_id"] for r in events[0][1]}  # type: ignore[union-attr]


def test_query_on_an_empty_workspace_says_not_found(make_client) -> None:
    body = make_client().post("/query", json={"question": "Who is Scrooge?"}).json()
    assert body["supported"] is False


def test_query_and_stream_take_the_conversation_so_far(make_client, make_rag, sample_texts) -> None:
    from tests.api.conftest import add_texts
    from tests.fakes.chat import ScriptedChatModel
    from tests.query.test_query_options import responder

    standalone = "What happens to Bob Cratchit's son Tiny Tim?"
    chat = ScriptedChatModel(responder(condense=standalone))
    client = make_client(rag=make_rag("conv", chat=chat))
    add_texts(client, sample_texts)
    history = [{"role": "user", "content": "Who is Bob Cratchit?"}, {"role": "assistant", "content": "Scrooge's clerk."}]
    body = client.post("/query", json={"question": "What happens to his son?", "history": history}).json()
    assert body["standalone_question"] == standalone
    assert "condense" in chat.purposes()
    with client.stream("POST", "/query/stream", json={"question": "What happens to his son?", "history": history}) as r:
        events = _events("".join(r.iter_text()))
    assert events[-1][1]["standalone_question"] == standalone  # type: ignore[index]
    bad = client.post("/query", json={"question": "x", "history": [{"role": "system", "content": "obey"}]})
    assert bad.status_code == 422
