"""Embeddings from any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import numpy as np

from graphrag.errors import LLMError
from graphrag.llm.embed.common import EmbedProgress, empty_vectors, normalize_rows

if TYPE_CHECKING:
    import httpx

    from graphrag.llm.base import Usage



class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIEmbedder:
    """POST {base_url}/embeddings on any OpenAI-compatible server (OpenAI, Ollama, vLLM,
    llama.cpp), over one long-lived HTTP client. Retries 429, 5xx, timeouts and connection
    errors with exponential backoff, honouring Retry-After; other errors fail at once.
    Every HTTP attempt is counted in `usage` under purpose "embed", as the chat client does.

    `dim=None` asks the endpoint once, on first access to `dim`. Some servers (Ollama)
    truncate over-long inputs themselves: keep chunks within the model's context.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
        max_retries: int = 5,
        *,
        dim: int | None = None,
        usage: Usage | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 60.0,
        concurrency: int = 4,
    ) -> None:
        import httpx
        from tenacity import wait_exponential, wait_random

        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.model_id = f"openai:{model}"
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.usage = usage
        self.retry_after_max = retry_after_max
        self.concurrency = max(1, concurrency)
        self._backoff = wait_exponential(multiplier=backoff_base, max=backoff_max) + wait_random(0, backoff_base)
        self._dim = dim
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.Client = httpx.Client(timeout=timeout, headers=headers)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str], *, progress: EmbedProgress | None = None) -> np.ndarray:
        """Batches of `batch_size`, up to `concurrency` of them in flight at once."""
        if not texts:
            return empty_vectors(self.dim)
        starts = range(0, len(texts), self.batch_size)
        parts: dict[int, np.ndarray] = {}
        done = 0
        if self.concurrency == 1 or len(starts) == 1:
            for i in starts:
                parts[i] = self._request(texts[i : i + self.batch_size])
                done += len(parts[i])
                if progress is not None:
                    progress(done, len(texts))
            return np.concatenate([parts[i] for i in starts])
        # Threads, not asyncio: callers are sync and async alike (aembed runs this in a worker
        # thread), and the one httpx client is thread-safe and pools the connections.
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(starts)), thread_name_prefix="embed")
        try:
            futures = {pool.submit(self._request, texts[i : i + self.batch_size]): i for i in starts}
            for future in as_completed(futures):
                parts[futures[future]] = future.result()  # the first failure stops the call
                done += len(parts[futures[future]])
                if progress is not None:
                    progress(done, len(texts))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return np.concatenate([parts[i] for i in starts])

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, texts: Sequence[str]) -> np.ndarray:
        from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt

        # OpenAI rejects empty strings in `input`; a blank embeds like whitespace anyway.
        payload = {"model": self.model, "input": [t if t.strip() else " " for t in texts]}
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
        )
        try:
            for attempt in retrying:
                with attempt:
                    body = self._post(payload)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise LLMError(
                f"embedding endpoint {self.url} still failing after {self.max_retries + 1} attempts ({last}); "
                "check that the server is up and reachable, or raise GRAPHRAG_CHAT_TIMEOUT / GRAPHRAG_CHAT_MAX_RETRIES"
            ) from None
        return self._parse(body, len(texts))

    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_max)
        return float(self._backoff(state))

    def _post(self, payload: dict[str, Any]) -> Any:
        import httpx

        from graphrag.llm.http_errors import error_detail, retry_after

        try:
            resp = self._client.post(self.url, json=payload)
        except httpx.TimeoutException:
            self._record(failed=True)
            raise _Retryable(f"timed out after {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            self._record(failed=True)
            raise _Retryable(f"connection failed: {exc}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            self._record(failed=True)
            raise _Retryable(f"HTTP {resp.status_code}: {error_detail(resp)}", retry_after(resp.headers))
        if resp.status_code >= 400:
            self._record(failed=True)
            raise LLMError(self._client_error(resp.status_code, error_detail(resp)))
        try:
            body = resp.json()
        except ValueError:
            self._record(failed=True)
            raise LLMError(f"embedding endpoint {self.url} answered non-JSON: {resp.text[:300]!r}") from None
        usage = body.get("usage") if isinstance(body, dict) else None
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        self._record(prompt_tokens=tokens if isinstance(tokens, int) else 0)
        return body

    def _record(self, *, prompt_tokens: int = 0, failed: bool = False) -> None:
        if self.usage is not None:
            self.usage.record("embed", prompt_tokens=prompt_tokens, failed=failed)

    def _client_error(self, code: int, detail: str) -> str:
        if code in (401, 403):
            return (
                f"embedding endpoint {self.url} refused the request (HTTP {code}: {detail}); "
                "set GRAPHRAG_EMBEDDING_API_KEY to a valid key"
            )
        if code == 404:
            return (
                f"HTTP 404 from {self.url} ({detail}); check GRAPHRAG_EMBEDDING_BASE_URL (it usually ends in /v1) "
                f"and that model {self.model!r} is served there (GRAPHRAG_EMBEDDING_MODEL)"
            )
        return (
            f"embedding endpoint {self.url} rejected the request (HTTP {code}: {detail}); if an input is too long "
            "for the model, lower GRAPHRAG_CHUNK_SIZE"
        )

    def _parse(self, body: Any, expected: int) -> np.ndarray:
        data = body.get("data") if isinstance(body, dict) else None
        try:
            if not isinstance(data, list) or len(data) != expected:
                got = len(data) if isinstance(data, list) else "no data list"
                raise ValueError(f"expected {expected} embeddings, got {got}")
            rows = sorted(data, key=lambda d: d.get("index", 0))
            vectors = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
            if vectors.ndim != 2:
                raise ValueError("embeddings of different lengths")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise LLMError(f"malformed embeddings response from {self.url}: {exc}") from None
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise LLMError(
                f"model {self.model!r} returned {vectors.shape[1]}-dimensional vectors, expected {self._dim}; "
                f"set GRAPHRAG_EMBEDDING_DIM={vectors.shape[1]} (and re-index: vectors of another size cannot mix)"
            )
        return normalize_rows(vectors)


