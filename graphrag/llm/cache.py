"""Response cache for chat models, kept in the state store.

A response is reused only for the exact same (model, messages, params): the key is a hash of
their canonical JSON, so any change to a prompt, a parameter or the model misses the cache.
Only answers worth replaying are kept: never an empty one, one cut off by the token limit,
or one its caller's validator rejected (`check_answer`); a cached answer that a validator
now rejects (written by an older version) is a miss, and the fresh answer replaces it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from graphrag.errors import LLMOutputError, LLMTruncatedError
from graphrag.llm.base import ChatResult, Message, Validator

KEY_PREFIX = "chat:"


class KeyValueCache(Protocol):
    """What the cache needs from a store (the StateStore protocol provides it)."""

    def cache_get(self, key: str) -> str | None: ...
    def cache_put(self, key: str, value: str) -> None: ...


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def check_answer(result: ChatResult, validate: Validator | None) -> None:
    """Raises LLMOutputError (with the answer attached) when `validate` is given and the
    answer was truncated or fails it; nothing without a validator."""
    if validate is None:
        return
    if result.truncated:
        raise LLMTruncatedError(
            f"the answer was cut off at the token limit ({result.completion_tokens} tokens)", answer=result.text
        )
    try:
        validate(result)
    except LLMOutputError as exc:
        if exc.answer is None:
            exc.answer = result.text
        raise


def worth_caching(result: ChatResult) -> bool:
    return bool(result.text.strip()) and not result.truncated


class LLMCache:
    """Chat results by (model, messages, params).

    Store calls are synchronous and made from the event loop's thread on purpose: they are
    short, and SQLite connections must stay on the thread that created them.
    """

    def __init__(self, store: KeyValueCache) -> None:
        self.store = store

    @staticmethod
    def key(model: str, messages: Sequence[Message], params: Mapping[str, Any]) -> str:
        payload = canonical_json({"model": model, "messages": list(messages), "params": dict(params)})
        return KEY_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def get_valid(self, key: str, validate: Validator | None) -> ChatResult | None:
        """The cached answer if there is one that passes `validate`."""
        cached = self.get(key)
        if cached is None:
            return None
        try:
            check_answer(cached, validate)
        except LLMOutputError:
            return None
        return cached

    def put_if_worth_it(self, key: str, result: ChatResult) -> None:
        if worth_caching(result):
            self.put(key, result)

    def get(self, key: str) -> ChatResult | None:
        raw = self.store.cache_get(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return ChatResult(
                text=data["text"],
                prompt_tokens=int(data.get("prompt_tokens", 0)),
                completion_tokens=int(data.get("completion_tokens", 0)),
                cached=True,
                finish_reason=data.get("finish_reason"),
            )
        except (ValueError, KeyError, TypeError):
            # An entry written by an incompatible version is a miss, not an error: the
            # fresh answer overwrites it.
            return None

    def put(self, key: str, result: ChatResult) -> None:
        self.store.cache_put(
            key,
            canonical_json(
                {
                    "text": result.text,
                    "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens,
                    "finish_reason": result.finish_reason,
                }
            ),
        )
