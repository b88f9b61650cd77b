"""Indexing against a faulty model, over real HTTP (the fake OpenAI-compatible server).

Issue 11: a truncated answer became a wrong extraction forever ("Broken"), unusable answers
were cached, and no rerun could recover. The promises tested here, for truncated,
`finish_reason: length`, malformed, empty and failing answers at 30 % and 100 %:
- no invented entity or relation is ever stored;
- every document ends `processed` with its true graph, or `failed` with a reason;
- a rerun against a healthy model recovers the true graph, with the cache on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from graphrag.core import GraphRAG
from graphrag.llm.cache import LLMCache
from graphrag.llm.chat import OpenAIChatModel
from graphrag.settings import Settings
from graphrag.stores.factory import build_state_store
from tests.fakes.openai_server import FAULT_KINDS, FakeOpenAIServer, FaultyResponder


PEOPLE = ["Ada Lovelace", "Charles Babbage", "Alan Turing", "Grace Hopper", "Mary Somerville", "John Herschel",
          "Lord Byron", "Annabella Milbanke", "Michael Faraday", "Augustus De Morgan"]
PLACES = ["London", "Bletchley Park", "Cambridge", "Somerset", "Paris", "Turin"]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four documents of a few chunks each, every sentence naming two people and a place."""
    folder = tmp_path_factory.mktemp("docs")
    paths = []
    for d in range(4):
        sentences = []
        for i in range(8):
            a, b = PEOPLE[(d * 3 + i) % len(PEOPLE)], PEOPLE[(d * 3 + i + 1 + d) % len(PEOPLE)]
            place = PLACES[(d + i) % len(PLACES)]
            sentences.append(f"In {place} the letters of {a} reached {b}, who answered them at length and kept every one.")
        target = folder / f"doc{d}.txt"
        target.write_text(" ".join(sentences), encoding="utf-8")
        paths.append(target)
    return paths


def open_rag(settings: Settings, server: FakeOpenAIServer) -> GraphRAG:
    """A workspace whose chat model is the real HTTP client, with the cache on and quick retries."""
    state = build_state_store(settings)
    chat = OpenAIChatModel(
        server.base_url, "fake-model", timeout=10, max_retries=1, backoff_base=0.01, backoff_max=0.05,
        concurrency=4, cache=LLMCache(state),
    )
    return GraphRAG(settings, chat=chat, state=state)


def graph_keys(rag: GraphRAG) -> tuple[dict[str, str], set[str]]:
    return {e.key: e.name for e in rag.graph.iter_entities()}, {r.key for r in rag.graph.iter_relations()}


@pytest.fixture(scope="module")
def settings_for(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Settings]:
    base = tmp_path_factory.mktemp("ws")

    def make(name: str) -> Settings:
        return Settings(
            workspace=base / name, chunk_size=120, chunk_overlap=10, embedder="hashing",
            summary_min_fragments=3, extractor="llm", chat_base_url="http://unused.invalid/v1",
        )

    return make


def index_healthy(settings: Settings, paths: list[Path]) -> tuple[dict[str, str], set[str]]:
    with FakeOpenAIServer() as server, open_rag(settings, server) as rag:
        report = rag.index(list(paths))
        assert report.documents_failed == 0
        return graph_keys(rag)


@pytest.fixture(scope="module")
def true_graph(docs: list[Path], settings_for: Callable[[str], Settings]) -> tuple[dict[str, str], set[str]]:
    return index_healthy(settings_for("healthy"), docs)


@pytest.mark.parametrize("rate", [0.3, 1.0], ids=["30%", "100%"])
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_faulty_model_never_leaves_a_wrong_graph(
    kind: str, rate: float, docs: list[Path], settings_for: Callable[[str], Settings], true_graph: tuple
) -> None:
    true_entities, true_relations = true_graph
    settings = settings_for(f"{kind}-{int(rate * 100)}")
    responder = FaultyResponder(kind, rate)
    with FakeOpenAIServer(chat=responder) as server:
        with open_rag(settings, server) as rag:
            rag.index(list(docs))
            records = {r.source: r for r in rag.status()}
            entities, relations = graph_keys(rag)
        assert responder.spoiled > 0

        # Nothing invented: every stored entity and relation is one of the true graph.
        assert FaultyResponder.INVENTED not in entities.values()
        assert set(entities) <= set(true_entities), set(entities) - set(true_entities)
        assert relations <= true_relations, relations - true_relations
        # Every document processed or failed with a reason.
        assert {r.status for r in records.values()} <= {"processed", "failed"}
        assert all(r.error for r in records.values() if r.status == "failed")
        processed = [p for p in docs if records[str(p.resolve())].status == "processed"]
        if rate == 1.0 and kind != "malformed":
            assert processed == [], "every answer was spoiled: nothing can be processed"
        # The processed documents have their true graph: the graph of a healthy run over them.
        if processed:
            expected_entities, expected_relations = index_healthy(settings_for(f"{kind}-{rate}-subset"), processed)
            assert set(entities) == set(expected_entities)
            assert relations == expected_relations

        # A rerun against a healthy model recovers, with the cache on.
        responder.healthy = True
        with open_rag(settings, server) as rag:
            assert rag.settings.cache
            report = rag.index(list(docs))
            assert report.documents_failed == 0
            assert {r.status for r in rag.status()} == {"processed"}
            entities, relations = graph_keys(rag)
    assert set(entities) == set(true_entities)
    assert relations == true_relations
