"""Chat over any OpenAI-compatible endpoint: OpenAI, Ollama (`/v1`), vLLM, llama.cpp server.

Every request goes to `{base_url}/chat/completions` through one long-lived httpx client,
bounded by a semaphore, retried on 429/5xx/timeouts/connection errors, counted in `usage`
by purpose, and answered from the cache when the same request was made before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from graphrag.errors import LLMError
from graphrag.llm.base import ChatResult, Message, Usage, Validator
from graphrag.llm.cache import KeyValueCache, LLMCache, check_answer
from graphrag.llm.http_errors import error_detail, retry_after
from graphrag.tokens import count_tokens

if TYPE_CHECKING:
    from graphrag.settings import Settings

log = logging.getLogger(__name__)

# Besides 429 and 5xx: 408 (request timeout) and 409 (conflict) are transient by
# definition, and OpenAI's own SDK retries them too.
_TRANSIENT_4XX = frozenset({408, 409, 429})

# Lets a gateway or proxy (LiteLLM, an API manager) attribute cost to pipeline stages.
PURPOSE_HEADER = "X-GraphRAG-Purpose"


class _TransientError(Exception):
    """A failure worth retrying; `retry_after` is the server's requested wait, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _UnreachableError(_TransientError):
    """Connection refused or the host name does not resolve: nothing is listening there,
    and backing off like for a rate limit only delays the message that says so."""


# An unreachable endpoint gets one quick retry (a server restarting), not the backoff.
_UNREACHABLE_ATTEMPTS = 2
_UNREACHABLE_WAIT = 0.25


@dataclass
class _LoopResources:
    client: httpx.AsyncClient
    semaphore: asyncio.Semaphore


class OpenAIChatModel:
    """An async `ChatModel` for an OpenAI-compatible HTTP endpoint.

    The httpx client and the concurrency semaphore belong to an event loop, and a process
    may run several loops (the indexer calls `asyncio.run()` more than once, a thread pool
    may run one per thread), so both are created lazily for each running loop. Call
    `aclose()` before a loop ends to close its connections cleanly.

    Every HTTP attempt counts as a call in `usage` (a retried request costs quota too);
    attempts that did not produce an answer are also counted as failures.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_retries: int = 5,
        concurrency: int = 4,
        temperature: float = 0.0,
        max_tokens: int | None = 4096,
        cache: LLMCache | None = None,
        usage: Usage | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 60.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.cache = cache
        self.usage = usage if usage is not None else Usage()
        self.retry_after_max = retry_after_max
        # Jitter spreads out the retries of requests that failed together.
        self._backoff = wait_exponential(multiplier=backoff_base, max=backoff_max) + wait_random(0, backoff_base)
        self._auth_headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._per_loop: dict[asyncio.AbstractEventLoop, _LoopResources] = {}
        self._per_loop_lock = threading.Lock()

    # --- public API

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        purpose: str,
        json_mode: bool = False,
        validate: Validator | None = None,
        use_cache: bool = True,
        **params: Any,
    ) -> ChatResult:
        request_params = self._request_params(json_mode, params)
        key = LLMCache.key(self.model, messages, request_params)
        if use_cache and (cached := self._cached(key, purpose, validate)) is not None:
            return cached

        body = {"model": self.model, "messages": list(messages), **request_params}
        resources = self._resources()
        async with resources.semaphore:
            try:
                result: ChatResult = await self._retrying(purpose)(
                    self._complete_once, resources.client, body, purpose
                )
            except _TransientError as exc:
                raise self._exhausted_error(exc) from exc
        check_answer(result, validate)
        if self.cache is not None:
            self.cache.put_if_worth_it(key, result)
        return result

    async def stream(
        self, messages: Sequence[Message], *, purpose: str, **params: Any
    ) -> AsyncIterator[str]:
        """Yields the answer in pieces as the server sends them (SSE). Failures before the
        first piece are retried; a stream cut off midway raises LLMError."""
        request_params = self._request_params(False, params)
        key = LLMCache.key(self.model, messages, request_params)
        if (cached := self._cached(key, purpose, None)) is not None:
            yield cached.text
            return

        body = {
            "model": self.model,
            "messages": list(messages),
            **request_params,
            "stream": True,
            # Without this, servers send no token counts in a stream.
            "stream_options": {"include_usage": True},
        }
        resources = self._resources()
        async with resources.semaphore:
            try:
                response: httpx.Response = await self._retrying(purpose)(
                    self._send, resources.client, body, purpose, stream=True
                )
            except _TransientError as exc:
                raise self._exhausted_error(exc) from exc

            pieces: list[str] = []
            finish_reason: str | None = None
            reported: tuple[int, int] | None = None
            failed = done = False
            try:
                async for line in response.aiter_lines():
                    event = _sse_event(line)
                    if event is None:
                        continue
                    if event == "[DONE]":
                        done = True
                        break
                    piece, event_usage, event_finish = self._parse_stream_event(event)
                    reported = event_usage or reported
                    finish_reason = event_finish or finish_reason
                    if piece:
                        pieces.append(piece)
                        yield piece
            except LLMError:
                failed = True
                raise
            except httpx.HTTPError as exc:
                failed = True
                raise LLMError(
                    f"The stream from {self.url} broke off after {len(pieces)} pieces: "
                    f"{type(exc).__name__}: {exc}. Ask again; if it keeps happening, check the server."
                ) from exc
            finally:
                await response.aclose()
                text = "".join(pieces)
                result = ChatResult(
                    text, *(reported or self._count_tokens(messages, text)), finish_reason=finish_reason
                )
                self.usage.record(
                    purpose,
                    prompt_tokens=result.prompt_tokens,
                    completion_tokens=result.completion_tokens,
                    failed=failed,
                )
                # A stream that ended without [DONE] may have been cut short: not worth replaying.
                if done and self.cache is not None:
                    self.cache.put_if_worth_it(key, result)

    async def aclose(self) -> None:
        """Closes the connections of the running loop's client (a later call opens new ones)."""
        loop = asyncio.get_running_loop()
        with self._per_loop_lock:
            resources = self._per_loop.pop(loop, None)
        if resources is not None:
            await resources.client.aclose()

    # --- one request

    def _cached(self, key: str, purpose: str, validate: Validator | None) -> ChatResult | None:
        cached = self.cache.get_valid(key, validate) if self.cache is not None else None
        if cached is not None:
            self.usage.record(purpose, cache_hit=True)
        return cached

    async def _complete_once(
        self, client: httpx.AsyncClient, body: dict[str, Any], purpose: str
    ) -> ChatResult:
        response = await self._send(client, body, purpose, stream=False)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            if not isinstance(text, str):
                raise TypeError(f"content is {type(text).__name__}")
            finish_reason = choice.get("finish_reason")
        except (ValueError, LookupError, TypeError) as exc:
            # Typically a proxy cutting the body short: worth another attempt.
            self.usage.record(purpose, failed=True)
            raise _TransientError(f"malformed response body ({exc}): {response.text[:200]!r}") from exc
        prompt_tokens, completion_tokens = _reported_usage(data.get("usage")) or self._count_tokens(
            body["messages"], text
        )
        self.usage.record(purpose, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return ChatResult(
            text, prompt_tokens, completion_tokens, finish_reason=finish_reason if isinstance(finish_reason, str) else None
        )

    async def _send(
        self, client: httpx.AsyncClient, body: dict[str, Any], purpose: str, *, stream: bool
    ) -> httpx.Response:
        request = client.build_request(
            "POST", self.url, json=body, headers={**self._auth_headers, PURPOSE_HEADER: purpose}
        )
        try:
            response = await client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            self.usage.record(purpose, failed=True)
            raise _TransientError(f"no answer within the {self.timeout:g} s timeout ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            self.usage.record(purpose, failed=True)
            raise _UnreachableError(f"cannot connect ({type(exc).__name__}: {exc})") from exc
        except httpx.TransportError as exc:
            self.usage.record(purpose, failed=True)
            raise _TransientError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            if stream:
                await response.aread()
                await response.aclose()
            self.usage.record(purpose, failed=True)
            raise self._status_error(response)
        return response

    def _status_error(self, response: httpx.Response) -> Exception:
        status = response.status_code
        reason = f"HTTP {status}: {error_detail(response)}"
        if status in _TRANSIENT_4XX or status >= 500:
            return _TransientError(reason, retry_after=retry_after(response.headers))
        if status in (401, 403):
            hint = (
                "Check the API key: set GRAPHRAG_CHAT_API_KEY (or OPENAI_API_KEY) to a key "
                f"that may use model {self.model!r}."
            )
        elif status == 404:
            hint = (
                f"Check the model name (GRAPHRAG_CHAT_MODEL={self.model!r}) and the base URL "
                f"(GRAPHRAG_CHAT_BASE_URL={self.base_url!r}); OpenAI-compatible servers usually "
                "serve under /v1, e.g. http://localhost:11434/v1 for Ollama."
            )
        elif status in (400, 413, 422):
            hint = (
                "The server rejected the request. If the prompt is too long for the model, "
                "lower GRAPHRAG_CHUNK_SIZE or GRAPHRAG_CHAT_MAX_TOKENS."
            )
        else:
            hint = "The server refused the request; this is not retried."
        return LLMError(f"{self.url} answered {reason}. {hint}")

    def _exhausted_error(self, exc: _TransientError) -> LLMError:
        attempts = min(self.max_retries + 1, _UNREACHABLE_ATTEMPTS) if isinstance(exc, _UnreachableError) else (
            self.max_retries + 1
        )
        return LLMError(
            f"{self.url} (model {self.model!r}) failed after {attempts} attempts; "
            f"last error: {exc}. Check that the server is up and reachable; if it is "
            "overloaded, lower GRAPHRAG_LLM_CONCURRENCY or raise GRAPHRAG_CHAT_TIMEOUT."
        )

    def _parse_stream_event(self, payload: str) -> tuple[str, tuple[int, int] | None, str | None]:
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise LLMError(f"{self.url} sent a malformed stream event: {payload[:200]!r}") from exc
        if not isinstance(event, dict):
            raise LLMError(f"{self.url} sent a malformed stream event: {payload[:200]!r}")
        if "error" in event:
            raise LLMError(f"{self.url} reported an error mid-stream: {event['error']}")
        # The closing event with include_usage has no choices, only usage.
        choices = event.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        finish = choice.get("finish_reason")
        return (
            content if isinstance(content, str) else "",
            _reported_usage(event.get("usage")),
            finish if isinstance(finish, str) else None,
        )

    # --- plumbing

    def _request_params(self, json_mode: bool, params: Mapping[str, Any]) -> dict[str, Any]:
        """Everything but model and messages that shapes the answer: this is the cache key's `params`."""
        request: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        if json_mode:
            request["response_format"] = {"type": "json_object"}
        request.update(params)
        return request

    def _resources(self) -> _LoopResources:
        loop = asyncio.get_running_loop()
        with self._per_loop_lock:
            # A closed loop's client can no longer be closed cleanly; dropping it lets the
            # garbage collector release its sockets.
            for stale in [lp for lp in self._per_loop if lp.is_closed()]:
                del self._per_loop[stale]
            resources = self._per_loop.get(loop)
            if resources is None:
                resources = _LoopResources(
                    client=httpx.AsyncClient(timeout=httpx.Timeout(self.timeout)),
                    semaphore=asyncio.Semaphore(self.concurrency),
                )
                self._per_loop[loop] = resources
            return resources

    def _retrying(self, purpose: str) -> AsyncRetrying:
        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            retries = min(self.max_retries, _UNREACHABLE_ATTEMPTS - 1) if isinstance(exc, _UnreachableError) else (
                self.max_retries
            )
            log.warning(
                "chat request (%s) to %s failed: %s; retry %d/%d in %.2f s",
                purpose, self.url, exc, state.attempt_number, retries, wait,
            )

        def unreachable(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            return isinstance(exc, _UnreachableError) and state.attempt_number >= _UNREACHABLE_ATTEMPTS

        return AsyncRetrying(
            retry=retry_if_exception_type(_TransientError),
            stop=stop_after_attempt(self.max_retries + 1) | unreachable,
            wait=self._wait,
            before_sleep=log_retry,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _UnreachableError):
            return _UNREACHABLE_WAIT
        if isinstance(exc, _TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_max)
        return float(self._backoff(state))

    @staticmethod
    def _count_tokens(messages: Sequence[Message], text: str) -> tuple[int, int]:
        """For servers that report no usage: cl100k_base counts, close enough for budgeting."""
        return sum(count_tokens(m.get("content", "")) for m in messages), count_tokens(text)


def build_chat_model(
    settings: Settings, state_store: KeyValueCache | None, *, usage: Usage | None = None
) -> OpenAIChatModel | None:
    """The configured chat model, caching in `state_store` (any StateStore) when
    `settings.cache` is on; None when no chat endpoint is configured (offline mode)."""
    if not settings.chat_base_url:
        return None
    api_key = settings.chat_api_key.get_secret_value() if settings.chat_api_key else None
    return OpenAIChatModel(
        settings.chat_base_url,
        settings.chat_model,
        api_key,
        timeout=settings.chat_timeout,
        max_retries=settings.chat_max_retries,
        concurrency=settings.llm_concurrency,
        temperature=settings.chat_temperature,
        max_tokens=settings.chat_max_tokens,
        cache=LLMCache(state_store) if settings.cache and state_store is not None else None,
        usage=usage,
    )


def _sse_event(line: str) -> str | None:
    """The data payload of an SSE line, or None for blank lines, comments and other fields."""
    if not line.startswith("data:"):
        return None
    return line[len("data:"):].strip()


def _reported_usage(usage: object) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return None
