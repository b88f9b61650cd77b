"""The OpenAI-compatible chat client against a real HTTP server (the fake one)."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from graphrag.errors import LLMError
from graphrag.llm.base import ChatResult, Message
from graphrag.llm.cache import LLMCache
from graphrag.llm.chat import OpenAIChatModel, build_chat_model
from graphrag.settings import Settings
from graphrag.tokens import count_tokens
from tests.fakes.chat import DictCacheStore
from tests.fakes.openai_server import FakeOpenAIServer, Reply, openai_server  # noqa: F401 - fixture

T = TypeVar("T")
HELLO: list[Message] = [{"role": "user", "content": "Say hello."}]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def make_model(server: FakeOpenAIServer, **overrides: Any) -> OpenAIChatModel:
    options: dict[str, Any] = {"timeout": 5.0, "max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05}
    options.update(overrides)
    return OpenAIChatModel(server.base_url, "fake-model", "sk-test", **options)


async def complete(model: OpenAIChatModel, messages: list[Message] = HELLO, **kw: Any) -> str:
    try:
        return (await model.complete(messages, purpose=kw.pop("purpose", "test"), **kw)).text
    finally:
        await model.aclose()


def test_429_waits_for_retry_after_then_succeeds(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(
        Reply.error(429, "rate limited", headers={"Retry-After": "0.3"}), Reply.chat("hello")
    )
    model = make_model(openai_server)
    started = time.perf_counter()
    assert run(complete(model)) == "hello"
    assert time.perf_counter() - started >= 0.3
    assert len(openai_server.chat_requests) == 2
    test_usage = model.usage.by_purpose["test"]
    assert (test_usage.calls, test_usage.failures) == (2, 1)


def test_retry_after_is_capped(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.error(429, headers={"Retry-After": "3600"}), Reply.chat("hello"))
    started = time.perf_counter()
    assert run(complete(make_model(openai_server, retry_after_max=0.1))) == "hello"
    assert time.perf_counter() - started < 2


def test_server_errors_are_retried(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.error(500), Reply.error(503), Reply.chat("hello"))
    assert run(complete(make_model(openai_server))) == "hello"
    assert len(openai_server.chat_requests) == 3


def test_persistent_server_error_fails_after_max_retries(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(*[Reply.error(500, "model crashed")] * 10)
    model = make_model(openai_server, max_retries=2)
    with pytest.raises(LLMError) as failure:
        run(complete(model))
    message = str(failure.value)
    assert "failed after 3 attempts" in message and "HTTP 500: model crashed" in message
    assert "Check that the server is up" in message
    assert len(openai_server.chat_requests) == 3
    assert model.usage.by_purpose["test"].failures == 3


def test_timeout_is_retried(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.chat("too late", delay=1.0), Reply.chat("in time"))
    started = time.perf_counter()
    assert run(complete(make_model(openai_server, timeout=0.3))) == "in time"
    assert time.perf_counter() - started < 1.0
    assert len(openai_server.chat_requests) == 2


def test_dropped_connection_and_malformed_body_are_retried(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(
        Reply(disconnect=True), Reply(raw=b'{"choices": [{"mess'), Reply.chat("hello")
    )
    assert run(complete(make_model(openai_server))) == "hello"
    assert len(openai_server.chat_requests) == 3


def test_unauthorized_is_not_retried_and_says_which_key(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.error(401, "Incorrect API key provided"))
    with pytest.raises(LLMError) as failure:
        run(complete(make_model(openai_server)))
    assert "Incorrect API key provided" in str(failure.value)
    assert "GRAPHRAG_CHAT_API_KEY" in str(failure.value) and "OPENAI_API_KEY" in str(failure.value)
    assert len(openai_server.chat_requests) == 1


def test_not_found_points_at_model_and_base_url(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.error(404, "model 'fake-model' not found"))
    with pytest.raises(LLMError) as failure:
        run(complete(make_model(openai_server)))
    assert "GRAPHRAG_CHAT_MODEL='fake-model'" in str(failure.value)
    assert openai_server.base_url in str(failure.value)
    assert len(openai_server.chat_requests) == 1


def test_request_shape(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.chat("{}"))
    run(complete(make_model(openai_server, temperature=0.2, max_tokens=64), json_mode=True, purpose="extract"))
    request = openai_server.chat_requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.purpose == "extract"
    assert request.body == {
        "model": "fake-model",
        "messages": HELLO,
        "temperature": 0.2,
        "max_tokens": 64,
        "response_format": {"type": "json_object"},
    }


def test_usage_by_purpose_reported_or_counted(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply.chat("reported", usage=(11, 7)), Reply.chat("counted answer"))
    model = make_model(openai_server)

    async def both() -> None:
        await model.complete(HELLO, purpose="extract")
        await model.complete(HELLO, purpose="summarize")
        await model.aclose()

    run(both())
    usage = model.usage.snapshot()["by_purpose"]
    assert usage["extract"] == {"calls": 1, "cache_hits": 0, "prompt_tokens": 11, "completion_tokens": 7, "failures": 0}
    assert usage["summarize"]["prompt_tokens"] == count_tokens(HELLO[0]["content"])
    assert usage["summarize"]["completion_tokens"] == count_tokens("counted answer")


def test_cache_hit_makes_no_request(openai_server: FakeOpenAIServer) -> None:
    cache = LLMCache(DictCacheStore())
    openai_server.enqueue(Reply.chat("first", usage=(5, 1)), Reply.chat("second"))

    async def twice() -> tuple[str, str]:
        model = make_model(openai_server, cache=cache)
        first = await model.complete(HELLO, purpose="extract")
        again = await model.complete(HELLO, purpose="extract")
        assert again.cached and (again.prompt_tokens, again.completion_tokens) == (5, 1)
        assert model.usage.by_purpose["extract"].cache_hits == 1
        await model.aclose()
        return first.text, again.text

    assert run(twice()) == ("first", "first")
    assert len(openai_server.chat_requests) == 1
    # Another parameter is another request.
    assert run(complete(make_model(openai_server, cache=cache), json_mode=True, purpose="extract")) == "second"
    assert len(openai_server.chat_requests) == 2


def test_concurrency_is_bounded(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(*[Reply.chat(str(i), delay=0.1) for i in range(6)])
    model = make_model(openai_server, concurrency=2)

    async def many() -> None:
        await asyncio.gather(*(model.complete(HELLO, purpose="test") for _ in range(6)))
        await model.aclose()

    run(many())
    assert openai_server.max_in_flight == 2


def test_one_client_per_event_loop(openai_server: FakeOpenAIServer) -> None:
    model = make_model(openai_server)

    async def three(close: bool) -> None:
        for _ in range(3):
            await model.complete(HELLO, purpose="test")
        if close:
            await model.aclose()

    run(three(close=False))  # as a careless caller would
    with warnings.catch_warnings():
        # The first loop is closed, so its client cannot be closed any more: a new loop
        # gets a new client, and the old one's sockets are left to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        run(three(close=True))
        gc.collect()
    ports = [r.client_port for r in openai_server.chat_requests]
    assert len(set(ports[:3])) == 1 and len(set(ports[3:])) == 1


def test_stream_yields_pieces_and_counts_usage(openai_server: FakeOpenAIServer) -> None:
    cache = LLMCache(DictCacheStore())
    openai_server.enqueue(Reply.stream(["Hel", "lo", " world"], usage=(9, 3), interval=0.01))
    model = make_model(openai_server, cache=cache)

    async def collect() -> list[str]:
        pieces = [p async for p in model.stream(HELLO, purpose="answer")]
        await model.aclose()
        return pieces

    assert run(collect()) == ["Hel", "lo", " world"]
    assert openai_server.chat_requests[0].body["stream"] is True
    answer = model.usage.by_purpose["answer"]
    assert (answer.calls, answer.prompt_tokens, answer.completion_tokens) == (1, 9, 3)
    # The cached answer is replayed in one piece, without a request.
    assert run(collect()) == ["Hello world"]
    assert len(openai_server.chat_requests) == 1
    assert model.usage.by_purpose["answer"].cache_hits == 1


def test_stream_retries_before_the_first_piece_and_skips_caching_a_cut_stream(
    openai_server: FakeOpenAIServer,
) -> None:
    cache = LLMCache(DictCacheStore())
    openai_server.enqueue(Reply.error(503), Reply.stream(["partial"], done=False))
    model = make_model(openai_server, cache=cache)

    async def collect() -> list[str]:
        pieces = [p async for p in model.stream(HELLO, purpose="answer")]
        await model.aclose()
        return pieces

    assert run(collect()) == ["partial"]
    assert len(openai_server.chat_requests) == 2
    assert cache.store.data == {}  # type: ignore[attr-defined]
    assert model.usage.by_purpose["answer"].completion_tokens == count_tokens("partial")


def test_stream_error_event_raises(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(Reply(sse=['{"error": {"message": "overloaded"}}']))
    model = make_model(openai_server)

    async def collect() -> list[str]:
        return [p async for p in model.stream(HELLO, purpose="answer")]

    with pytest.raises(LLMError, match="overloaded"):
        run(collect())
    assert model.usage.by_purpose["answer"].failures == 1


def test_build_chat_model_from_settings() -> None:
    assert build_chat_model(Settings(chat_base_url=None), DictCacheStore()) is None
    settings = Settings(
        chat_base_url="http://localhost:11434/v1/", chat_model="qwen2.5", llm_concurrency=3, chat_max_retries=1
    )
    model = build_chat_model(settings, DictCacheStore())
    assert model is not None
    assert (model.url, model.model, model.concurrency, model.max_retries) == (
        "http://localhost:11434/v1/chat/completions", "qwen2.5", 3, 1
    )
    assert model.cache is not None
    uncached = build_chat_model(settings.model_copy(update={"cache": False}), DictCacheStore())
    assert uncached is not None and uncached.cache is None


# --- answers that must not be kept (issue 11) and endpoints that are not there (issue 17)


def test_empty_and_cut_off_answers_are_never_cached(openai_server: FakeOpenAIServer) -> None:
    cache = LLMCache(DictCacheStore())
    openai_server.enqueue(Reply.chat(""), Reply.chat('{"a": 1', finish_reason="length"), Reply.chat('{"a": 1}'))
    model = make_model(openai_server, cache=cache)
    assert run(complete(model)) == ""
    result = run(model.complete(HELLO, purpose="test"))
    assert result.truncated and result.finish_reason == "length"
    assert run(complete(model)) == '{"a": 1}'
    assert run(complete(model)) == '{"a": 1}'  # now from the cache
    assert len(openai_server.chat_requests) == 3


def test_a_rejected_answer_is_not_cached_and_a_rejected_cached_one_is_a_miss(openai_server: FakeOpenAIServer) -> None:
    from graphrag.errors import LLMOutputError, LLMTruncatedError

    def must_be_ok(result: Any) -> None:
        if result.text != "ok":
            raise LLMOutputError("not ok")

    store = DictCacheStore()
    cache = LLMCache(store)
    model = make_model(openai_server, cache=cache)
    # An answer an older version cached without checking it.
    key = LLMCache.key("fake-model", HELLO, model._request_params(False, {}))
    cache.put(key, ChatResult("garbage"))
    openai_server.enqueue(Reply.chat("nope"), Reply.chat("o", finish_reason="length"), Reply.chat("ok"))
    with pytest.raises(LLMOutputError) as bad:
        run(complete(model, validate=must_be_ok))
    assert bad.value.answer == "nope"
    with pytest.raises(LLMTruncatedError):
        run(complete(model, validate=must_be_ok))
    assert run(complete(model, validate=must_be_ok)) == "ok"
    assert run(complete(model, validate=must_be_ok)) == "ok"
    assert len(openai_server.chat_requests) == 3  # the stale entry was never served


def test_an_unreachable_endpoint_fails_fast_with_one_quick_retry() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = OpenAIChatModel(f"http://127.0.0.1:{port}/v1", "fake-model", max_retries=5, backoff_base=2.0)
    started = time.perf_counter()
    with pytest.raises(LLMError, match="failed after 2 attempts.*Check that the server is up and reachable"):
        run(complete(model))
    assert time.perf_counter() - started < 2.0  # the 5 backoffs of a rate limit would take > 30 s
    assert model.usage.by_purpose["test"].calls == 2


def test_server_errors_keep_the_backoff(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(*[Reply.error(503, "busy")] * 3, Reply.chat("hello"))
    assert run(complete(make_model(openai_server, max_retries=3))) == "hello"
    assert len(openai_server.chat_requests) == 4
