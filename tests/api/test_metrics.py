"""GET /metrics: Prometheus text with requests and latency per route template, LLM calls,
tokens and cache hits by purpose and model, index runs and documents by outcome, and the
write queue; behind the API key like the other routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import add_texts


def _samples(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_llm_usage_and_index_runs(
    make_client: Callable[..., TestClient], sample_texts: dict[str, str]
) -> None:
    client = make_client(api_key="k")
    headers = {"X-API-Key": "k"}
    assert client.get("/metrics").status_code == 401  # behind the key, like the data
    client.headers.update(headers)
    body = add_texts(client, sample_texts)
    doc_id = body["document_ids"][0]
    assert client.get(f"/documents/{doc_id}").status_code == 200
    assert client.get("/documents/doc-nope").status_code == 404
    assert client.post("/query", json={"question": "Who is Scrooge?"}).status_code == 200

    samples = _samples(client)
    assert _value(samples, "graphrag_http_requests_total", method="POST", route="/documents", status="202") == 1
    # One series per route template, not per id.
    assert _value(samples, "graphrag_http_requests_total", method="GET", route="/documents/{document_id}",
                  status="200") == 1
    assert _value(samples, "graphrag_http_requests_total", method="GET", route="/documents/{document_id}",
                  status="404") == 1
    assert _value(samples, "graphrag_http_request_duration_seconds_count", method="POST", route="/query") == 1
    assert _value(samples, "graphrag_index_runs_total", kind="index", outcome="done") == 1
    assert _value(samples, "graphrag_index_documents_total", outcome="new") == len(sample_texts)
    assert _value(samples, "graphrag_job_queue_length", status="queued") == 0

    model = client.rag.chat.model  # type: ignore[attr-defined]
    llm = {k: v for k, v in samples.items() if k[0] == "graphrag_llm_calls_total"}
    assert llm and all(dict(labels)["model"] == model for _, labels in llm)
    extract_calls = _value(samples, "graphrag_llm_calls_total", purpose="extract", model=model)
    assert extract_calls == client.rag.usage.by_purpose["extract"].calls > 0  # type: ignore[attr-defined]
    assert _value(samples, "graphrag_llm_tokens_total", purpose="extract", model=model, kind="prompt") > 0

    again = _samples(client)  # a finished job is counted once, however often Prometheus scrapes
    assert _value(again, "graphrag_index_runs_total", kind="index", outcome="done") == 1
    assert _value(again, "graphrag_http_requests_total", method="GET", route="/metrics", status="200") >= 1
