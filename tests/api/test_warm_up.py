"""The API warms up in the background: /health answers 503 `warming` until the query models
and tables are loaded, then 200 `ok`; a query after that pays no loading."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from graphrag import model_loader


def test_health_says_warming_until_the_models_are_loaded(
    make_rag: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphrag.api import create_app

    release = threading.Event()
    calls: list[Any] = []
    real = model_loader.warm_up

    def slow_warm_up(rag: Any, mode: str | None = None) -> dict[str, float]:
        calls.append(rag)
        assert release.wait(30)
        return real(rag, mode)

    monkeypatch.setattr(model_loader, "warm_up", slow_warm_up)
    rag = make_rag("ws")
    with TestClient(create_app(rag, warm_up=True)) as client:
        warming = client.get("/health")
        assert warming.status_code == 503 and warming.json()["status"] == "warming"
        release.set()
        deadline = time.monotonic() + 30
        while (health := client.get("/health")).status_code != 200:
            assert time.monotonic() < deadline, health.json()
            time.sleep(0.02)
        assert health.json()["status"] == "ok"
    assert calls == [rag]


def test_warm_up_loads_what_a_query_needs(make_rag: Callable[..., Any]) -> None:
    rag = make_rag("ws")
    timings = model_loader.warm_up(rag)
    assert {"keywords", "retrieval", "total"} <= timings.keys()
    assert "query_engine" in rag.__dict__  # built once, reused by the first query


def test_an_injected_rag_is_not_warmed_unless_asked(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assert client.get("/health").json()["status"] == "ok"


def test_spacy_pipeline_is_loaded_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import spacy

    loads: list[str] = []
    monkeypatch.setattr(spacy, "load", lambda name, exclude=(): loads.append(name) or object())
    monkeypatch.setattr(model_loader, "_spacy", {})
    threads = [threading.Thread(target=model_loader.spacy_pipeline, args=("some_model",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model_loader.spacy_pipeline("some_model") is model_loader.spacy_pipeline("some_model")
    assert loads == ["some_model"]
