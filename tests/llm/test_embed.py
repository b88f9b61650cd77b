"""Embedders: feature hashing, the state-store cache, the OpenAI-compatible client against a
real HTTP server, and (slow) the local MiniLM on each runtime (parity: test_embed_local.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from graphrag.errors import ConfigError, LLMError
from graphrag.llm.base import Embedder, Usage
from graphrag.llm.embed import (
    CachingEmbedder,
    HashingEmbedder,
    OnnxBertEmbedder,
    OpenAIEmbedder,
    TransformersEmbedder,
    aembed,
    build_embedder,
)
from graphrag.llm.embed.local_model import WindowedEmbedder, split_evenly
from graphrag.models import text_hash
from graphrag.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer, Reply, openai_server  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]


class DictEmbeddingState:
    """The embedding-cache half of a StateStore, in a dict."""

    def __init__(self) -> None:
        self.vectors: dict[tuple[str, str], np.ndarray] = {}

    def get_embeddings(self, model: str, text_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        return {h: self.vectors[(model, h)] for h in text_hashes if (model, h) in self.vectors}

    def put_embeddings(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        for h, v in vectors.items():
            self.vectors[(model, h)] = np.array(v, dtype=np.float32)


class CountingEmbedder:
    """Records what it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed(texts)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------- hashing


def test_hashing_vectors_are_unit_float32_and_deterministic() -> None:
    emb = HashingEmbedder(64)
    assert (emb.model_id, emb.dim) == ("hashing:64", 64)
    assert isinstance(emb, Embedder)
    texts = ["Scrooge met Marley's ghost.", "", "!!!", "日本語"]
    vectors = emb.embed(texts)
    assert_unit_rows(vectors, 4, 64)
    np.testing.assert_array_equal(vectors, HashingEmbedder(64).embed(texts))
    np.testing.assert_array_equal(vectors[0], emb.embed(["SCROOGE  met marley's ghost"])[0])  # case, spacing
    assert emb.embed([]).shape == (0, 64)


def test_hashing_is_stable_across_processes() -> None:
    # Python's hash() is salted per process; the embedder must not depend on it.
    code = "from graphrag.llm.embed import HashingEmbedder; print(HashingEmbedder(32).embed(['a b c'])[0].tolist())"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": "12345"},  # this process has a random seed
    ).stdout
    assert other.strip() == str(HashingEmbedder(32).embed(["a b c"])[0].tolist())


def test_hashing_scores_shared_words_higher() -> None:
    emb = HashingEmbedder(384)
    a, b, c = emb.embed(
        [
            "Ebenezer Scrooge counts his money in the counting house",
            "In the counting house Scrooge counts money",
            "Tiny Tim sings a Christmas carol by the fire",
        ]
    )
    assert cosine(a, b) > 0.4 > cosine(a, c)


# --------------------------------------------------------------------------- cache


def test_caching_embedder_embeds_each_new_text_once() -> None:
    state = DictEmbeddingState()
    inner = CountingEmbedder(HashingEmbedder(32))
    emb = CachingEmbedder(inner, state)  # type: ignore[arg-type]
    assert (emb.model_id, emb.dim) == ("hashing:32", 32)

    texts = ["alpha", "beta", "alpha", "gamma"]
    first = emb.embed(texts)
    assert inner.calls == [["alpha", "beta", "gamma"]]  # duplicates within a call sent once
    assert emb.embedded_count == 3
    np.testing.assert_array_equal(first, HashingEmbedder(32).embed(texts))
    assert set(state.vectors) == {("hashing:32", text_hash(t)) for t in ("alpha", "beta", "gamma")}

    second = emb.embed(texts)
    assert emb.embedded_count == 3 and len(inner.calls) == 1  # re-embeds nothing
    np.testing.assert_array_equal(first, second)

    emb.embed(["beta", "delta"])
    assert inner.calls[-1] == ["delta"] and emb.embedded_count == 4
    assert emb.embed([]).shape == (0, 32)


def test_cache_is_per_model_and_ignores_vectors_of_another_size() -> None:
    state = DictEmbeddingState()
    CachingEmbedder(HashingEmbedder(32), state).embed(["shared text"])  # type: ignore[arg-type]
    other = CachingEmbedder(HashingEmbedder(48), state)  # type: ignore[arg-type]
    other.embed(["shared text"])
    assert other.embedded_count == 1  # another model_id: another vector space
    # A stale vector of the wrong size under the same model id is re-embedded.
    state.vectors[("hashing:48", text_hash("stale"))] = np.ones(7, dtype=np.float32)
    assert other.embed(["stale"]).shape == (1, 48) and other.embedded_count == 2


def test_caching_embedder_reports_progress_counting_hits_as_done() -> None:
    state = DictEmbeddingState()
    emb = CachingEmbedder(HashingEmbedder(16), state)  # type: ignore[arg-type]
    emb.embed(["a", "b"])
    seen: list[tuple[int, int]] = []
    emb.embed(["a", "b", "c", "c", "d"], progress=lambda done, total: seen.append((done, total)))
    # The two hits and the repeated "c" are done before anything is embedded; then the misses.
    assert seen == [(3, 5), (5, 5)]


def test_caching_survives_a_new_embedder_over_the_same_store() -> None:
    state = DictEmbeddingState()
    CachingEmbedder(HashingEmbedder(16), state).embed(["one", "two"])  # type: ignore[arg-type]
    restarted = CachingEmbedder(CountingEmbedder(HashingEmbedder(16)), state)  # type: ignore[arg-type]
    restarted.embed(["two", "one"])
    assert restarted.embedded_count == 0 and restarted.cache_hits == 2


# --------------------------------------------------------------------------- off the event loop


class BlockingEmbedder:
    """Embeds only once the event loop has run something else: proves it is not blocked."""

    model_id, dim = "blocking", 4

    def __init__(self) -> None:
        self.loop_ran = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.loop_ran.wait(timeout=10), "the event loop was blocked while embedding"
        return HashingEmbedder(4).embed(texts)


def test_aembed_leaves_the_event_loop_free_and_reports_progress() -> None:
    emb = BlockingEmbedder()
    seen: list[tuple[int, int]] = []

    async def main() -> np.ndarray:
        task = asyncio.create_task(aembed(emb, ["x", "y"], progress=lambda d, t: seen.append((d, t))))
        await asyncio.sleep(0)  # runs while the embedder works in its thread
        emb.loop_ran.set()
        return await task

    vectors = asyncio.run(main())
    assert vectors.shape == (2, 4)
    assert seen == [(2, 2)]  # an embedder without a progress parameter: reported once, at the end


# --------------------------------------------------------------------------- factory


def test_build_embedder_wraps_the_configured_embedder_in_the_cache() -> None:
    state = DictEmbeddingState()
    emb = build_embedder(Settings(embedder="hashing", embedding_dim=128), state)  # type: ignore[arg-type]
    assert isinstance(emb, CachingEmbedder) and isinstance(emb.inner, HashingEmbedder)
    assert (emb.model_id, emb.dim) == ("hashing:128", 128)
    assert isinstance(build_embedder(Settings(embedder="hashing"), None), HashingEmbedder)


def test_build_embedder_local_reads_the_model_config_without_loading_it() -> None:
    emb = build_embedder(Settings(embedder="local"), None)
    assert isinstance(emb, OnnxBertEmbedder)
    assert (emb.model_id, emb.dim, emb.max_seq_length) == ("transformers:all-MiniLM-L6-v2", 384, 256)
    assert emb._model is None  # weights load on first use


def test_build_embedder_configuration_errors_say_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GRAPHRAG_EMBEDDING_DIM=384"):
        build_embedder(Settings(embedder="local", embedding_dim=768), None)
    with pytest.raises(ConfigError, match="neither all-MiniLM-L6-v2 nor a local model directory"):
        build_embedder(Settings(embedder="local", embedding_model="BAAI/bge-small-en"), None)
    with pytest.raises(ConfigError, match="config.json missing"):
        build_embedder(Settings(embedder="local", embedding_model=str(tmp_path)), None)
    with pytest.raises(ConfigError, match="GRAPHRAG_EMBEDDING_BASE_URL"):
        build_embedder(Settings(embedder="openai", embedding_model="text-embedding-3-small"), None)


def test_long_token_lists_split_into_even_windows() -> None:
    assert split_evenly(list(range(10)), 254) == [list(range(10))]
    assert split_evenly([], 254) == [[]]
    windows = split_evenly(list(range(300)), 254)
    assert [len(w) for w in windows] == [150, 150]
    windows = split_evenly(list(range(1000)), 254)
    assert [len(w) for w in windows] == [250, 250, 250, 250]
    assert sum(windows, []) == list(range(1000))


# --------------------------------------------------------------------------- OpenAI-compatible


def make_openai(server: FakeOpenAIServer, **overrides: object) -> OpenAIEmbedder:
    options: dict[str, object] = {
        "dim": server.embedding_dim, "timeout": 5.0, "max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05
    }
    options.update(overrides)
    return OpenAIEmbedder(server.base_url, "fake-embed", "sk-test", **options)  # type: ignore[arg-type]


def test_openai_embeds_in_batches_over_one_connection(openai_server: FakeOpenAIServer) -> None:
    usage = Usage()
    with make_openai(openai_server, batch_size=2, usage=usage, concurrency=1) as emb:
        vectors = emb.embed(["one", "two", "three", ""])
    assert_unit_rows(vectors, 4, openai_server.embedding_dim)
    requests = openai_server.embedding_requests
    assert [r.body["input"] for r in requests] == [["one", "two"], ["three", " "]]  # no empty input
    assert all(r.body["model"] == "fake-embed" for r in requests)
    assert requests[0].headers["authorization"] == "Bearer sk-test"
    assert len({r.client_port for r in requests}) == 1  # the client is reused
    assert usage.by_purpose["embed"].calls == 2 and usage.by_purpose["embed"].failures == 0
    np.testing.assert_allclose(vectors[0] @ vectors[0], 1.0, rtol=1e-5)
    assert emb.model_id == "openai:fake-embed"


def test_openai_sends_batches_concurrently_up_to_the_limit_in_order(openai_server: FakeOpenAIServer) -> None:
    texts = [f"text {i}" for i in range(10)]
    with make_openai(openai_server, batch_size=2, concurrency=1) as emb:
        sequential = emb.embed(texts)
    assert openai_server.max_in_flight == 1
    # Slow replies keep every batch in flight at once: at most `concurrency` of them.
    dim = openai_server.embedding_dim
    slow = Reply(json={"data": [{"index": i, "embedding": [1.0] * dim} for i in range(2)]}, delay=0.3)
    openai_server.enqueue(*[slow] * 5, endpoint="embeddings")
    with make_openai(openai_server, batch_size=2, concurrency=3) as emb:
        assert emb.embed(texts).shape == (10, dim)
    assert openai_server.max_in_flight == 3
    # Concurrent batches land in their texts' rows, whatever order they finish in.
    seen: list[tuple[int, int]] = []
    with make_openai(openai_server, batch_size=2, concurrency=4) as emb:
        concurrent = emb.embed(texts, progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_array_equal(concurrent, sequential)
    assert [d for d, _ in seen] == [2, 4, 6, 8, 10] and {t for _, t in seen} == {10}


def test_openai_normalises_and_orders_by_index(openai_server: FakeOpenAIServer) -> None:
    data = [{"index": 1, "embedding": [0.0, 2.0]}, {"index": 0, "embedding": [3.0, 4.0]}]
    openai_server.enqueue(Reply(json={"data": data}), endpoint="embeddings")
    with make_openai(openai_server, dim=2) as emb:
        vectors = emb.embed(["first", "second"])
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-6)


def test_openai_retries_429_and_5xx_then_succeeds(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(
        Reply.error(429, "slow down", headers={"Retry-After": "0.2"}),
        Reply.error(503, "overloaded"),
        endpoint="embeddings",
    )
    usage = Usage()
    started = time.perf_counter()
    with make_openai(openai_server, usage=usage) as emb:
        assert emb.embed(["hello"]).shape == (1, openai_server.embedding_dim)
    assert time.perf_counter() - started >= 0.2  # Retry-After honoured
    assert len(openai_server.embedding_requests) == 3
    assert (usage.by_purpose["embed"].calls, usage.by_purpose["embed"].failures) == (3, 2)


def test_openai_retries_timeouts_then_gives_up_with_advice(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(*[Reply(delay=0.5)] * 3, endpoint="embeddings")
    with make_openai(openai_server, timeout=0.1, max_retries=2) as emb, pytest.raises(LLMError) as info:
        emb.embed(["hello"])
    message = str(info.value)
    assert "still failing after 3 attempts (timed out after 0.1s)" in message
    assert "GRAPHRAG_CHAT_TIMEOUT" in message


def test_openai_client_errors_fail_at_once_with_what_to_do(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.error(401, "Incorrect API key provided"), endpoint="embeddings")
    with make_openai(openai_server) as emb, pytest.raises(LLMError, match="Incorrect API key.*GRAPHRAG_EMBEDDING_API_KEY"):
        emb.embed(["hello"])
    assert len(openai_server.embedding_requests) == 1
    openai_server.enqueue(Reply.error(404, "model 'nope' not found"), endpoint="embeddings")
    with make_openai(openai_server) as emb, pytest.raises(LLMError, match="GRAPHRAG_EMBEDDING_MODEL"):
        emb.embed(["hello"])


def test_openai_malformed_and_mismatched_responses(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(
        Reply(raw=b"<html>gateway</html>"),
        Reply(json={"data": [{"index": 0, "embedding": [1.0, 0.0]}]}),
        Reply(json={"object": "list"}),
        endpoint="embeddings",
    )
    with make_openai(openai_server) as emb:
        with pytest.raises(LLMError, match="non-JSON"):
            emb.embed(["a"])
        with pytest.raises(LLMError, match=f"returned 2-dimensional vectors, expected {openai_server.embedding_dim}"):
            emb.embed(["a"])
        with pytest.raises(LLMError, match="malformed embeddings response.*expected 1 embeddings"):
            emb.embed(["a"])


def test_openai_probes_its_dimension_when_not_given(openai_server: FakeOpenAIServer) -> None:
    with make_openai(openai_server, dim=None) as emb:
        assert emb.dim == openai_server.embedding_dim
        assert emb.dim == openai_server.embedding_dim
    assert len(openai_server.embedding_requests) == 1


def test_build_embedder_openai_is_cached_end_to_end(openai_server: FakeOpenAIServer) -> None:
    settings = Settings(
        embedder="openai",
        embedding_base_url=openai_server.base_url,
        embedding_model="fake-embed",
        embedding_dim=openai_server.embedding_dim,
    )
    state = DictEmbeddingState()
    emb = build_embedder(settings, state)  # type: ignore[arg-type]
    try:
        first = emb.embed(["a", "b", "a"])
        second = build_embedder(settings, state).embed(["b", "a"])  # type: ignore[arg-type]
    finally:
        emb.close()  # type: ignore[attr-defined]
    assert len(openai_server.embedding_requests) == 1
    np.testing.assert_array_equal(second, first[[1, 0]])


# --------------------------------------------------------------------------- local MiniLM


@pytest.fixture(scope="module", params=["onnx", "torch"])
def minilm(request: pytest.FixtureRequest) -> WindowedEmbedder:
    """The local MiniLM on each runtime: ONNX Runtime (default) and torch (optional extra)."""
    if request.param == "torch":
        pytest.importorskip("torch", reason="the optional torch path is not installed")
        return TransformersEmbedder()
    return OnnxBertEmbedder()


@pytest.mark.slow
def test_minilm_scores_similar_texts_higher(minilm: WindowedEmbedder) -> None:
    vectors = minilm.embed(
        [
            "A cat is sitting on the mat.",
            "A kitten sits on a rug.",
            "The central bank raised interest rates by half a point.",
        ]
    )
    assert_unit_rows(vectors, 3, 384)
    cat, kitten, bank = vectors
    assert cosine(cat, kitten) > 0.5 > 0.2 > cosine(cat, bank)
    # Batching and length-sorting do not change a text's vector.
    alone = minilm.embed(["A kitten sits on a rug."])[0]
    np.testing.assert_allclose(alone, kitten, atol=1e-5)
    # Progress per batch of windows, in texts.
    minilm.batch_size = 2
    seen: list[tuple[int, int]] = []
    try:
        minilm.embed(["one", "two", "three", "four", "five"], progress=lambda d, t: seen.append((d, t)))
    finally:
        minilm.batch_size = 32
    assert seen == [(2, 5), (4, 5), (5, 5)]


@pytest.mark.slow
def test_minilm_embeds_long_texts_from_several_windows(minilm: WindowedEmbedder) -> None:
    minilm._load()
    tokenizer = minilm._tokenizer
    cooking = "Chop the onions, fry them in butter, then simmer the tomato sauce slowly. " * 34
    finance = "The bank reported quarterly earnings and raised its dividend for shareholders. " * 34
    long_text = cooking + finance
    ids = minilm._token_ids([long_text])[0]
    assert len(ids) > 3 * minilm.max_seq_length  # ~1,000 tokens
    head = tokenizer.decode(ids[: minilm.max_seq_length - 2])  # what truncation would keep

    whole, truncated, finance_only = minilm.embed([long_text, head, finance])
    assert_unit_rows(np.stack([whole, truncated]), 2, 384)
    assert cosine(whole, truncated) < 0.95  # the text past the first window counts
    # The second half (finance) is represented in the whole vector, not in the truncated one.
    assert cosine(whole, finance_only) > cosine(truncated, finance_only) + 0.2
