"""LLM calls and tokens of one query, by purpose.

The chat model's own `Usage` is shared by every query of the process; this ledger counts
only the calls one query made, so concurrent queries report their own cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphrag.llm.base import ChatResult, PurposeUsage


@dataclass
class QueryUsage:
    by_purpose: dict[str, PurposeUsage] = field(default_factory=dict)

    def record(self, purpose: str, result: ChatResult) -> None:
        self.add(purpose, result.prompt_tokens, result.completion_tokens, cached=result.cached)

    def add(self, purpose: str, prompt_tokens: int, completion_tokens: int, *, cached: bool = False) -> None:
        u = self.by_purpose.setdefault(purpose, PurposeUsage())
        if cached:
            u.cache_hits += 1
            return
        u.calls += 1
        u.prompt_tokens += prompt_tokens
        u.completion_tokens += completion_tokens

    def to_dict(self) -> dict[str, Any]:
        parts = self.by_purpose.values()
        return {
            "calls": sum(u.calls for u in parts),
            "cache_hits": sum(u.cache_hits for u in parts),
            "prompt_tokens": sum(u.prompt_tokens for u in parts),
            "completion_tokens": sum(u.completion_tokens for u in parts),
            "by_purpose": {p: vars(u).copy() for p, u in sorted(self.by_purpose.items())},
        }
