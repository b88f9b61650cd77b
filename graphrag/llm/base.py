"""Model protocols and the usage ledger every call is counted in."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


@dataclass
class PurposeUsage:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0


@dataclass
class Usage:
    """Calls and tokens by purpose ("extract", "glean", "summarize", "keywords", "answer", ...).

    `calls` counts requests actually sent to an endpoint; cache hits are counted apart.
    """

    by_purpose: dict[str, PurposeUsage] = field(default_factory=lambda: defaultdict(PurposeUsage))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(
        self,
        purpose: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cache_hit: bool = False,
        failed: bool = False,
    ) -> None:
        with self._lock:
            u = self.by_purpose[purpose]
            if cache_hit:
                u.cache_hits += 1
                return
            u.calls += 1
            u.prompt_tokens += prompt_tokens
            u.completion_tokens += completion_tokens
            if failed:
                u.failures += 1

    @property
    def calls(self) -> int:
        return sum(u.calls for u in self.by_purpose.values())

    @property
    def cache_hits(self) -> int:
        return sum(u.cache_hits for u in self.by_purpose.values())

    @property
    def prompt_tokens(self) -> int:
        return sum(u.prompt_tokens for u in self.by_purpose.values())

    @property
    def completion_tokens(self) -> int:
        return sum(u.completion_tokens for u in self.by_purpose.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": self.calls,
                "cache_hits": self.cache_hits,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "by_purpose": {p: vars(u).copy() for p, u in sorted(self.by_purpose.items())},
            }


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    finish_reason: str | None = None  # "stop", "length" (cut off by max_tokens), ...

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


Validator = Callable[[ChatResult], object]
"""Checks an answer before it is cached or used: raises LLMOutputError to reject it."""


@runtime_checkable
class ChatModel(Protocol):
    """An async chat model. Implementations count every call in `usage` under `purpose`,
    and cache responses by (model, messages, params) when a cache is attached."""

    model: str
    usage: Usage

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
        """The answer. Never cached: an empty or truncated one, or one `validate` rejects.
        With `validate`, a truncated answer raises LLMTruncatedError and a rejected one the
        validator's LLMOutputError (its `answer` set); a cached answer the validator rejects
        is a cache miss. `use_cache=False` asks the model even if an answer is cached (and
        replaces it): how `reextract` gets fresh answers."""
        ...

    def stream(
        self, messages: Sequence[Message], *, purpose: str, **params: Any
    ) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    model_id: str  # identifies the vector space: part of the embedding-cache key
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, unit norm. Never truncates silently."""
