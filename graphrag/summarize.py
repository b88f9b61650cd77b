"""Turn the description fragments a merged entity or relation gathered into one description.

Few, short fragments are kept as they are. Many or long ones are summarized by the chat
model (map-reduce when they exceed one prompt; responses cached, so a rebuild of the same
fragments is free); offline, the most frequent fragments are kept up to a token budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from graphrag.llm.base import ChatModel
from graphrag.prompts import fence, render_prompt
from graphrag.tokens import count_tokens, truncate_tokens

# One summarize prompt holds at most this many tokens of fragments; beyond, map-reduce.
MAP_BUDGET_TOKENS = 3000
# Offline, a description is the few most frequent fragments, not a paste of all of them.
OFFLINE_MAX_FRAGMENTS = 3


class DescriptionSummarizer:
    def __init__(
        self,
        chat: ChatModel | None,
        *,
        min_fragments: int,
        max_tokens: int,
        language: str = "English",
    ) -> None:
        self.chat = chat
        self.min_fragments = min_fragments
        self.max_tokens = max_tokens
        self.language = language

    def needs_summary(self, fragments: Sequence[str]) -> bool:
        return len(fragments) >= self.min_fragments or count_tokens("\n".join(fragments)) > self.max_tokens

    async def describe(self, name: str, fragments: Sequence[str]) -> str:
        if not fragments:
            return ""
        if not self.needs_summary(fragments):
            return "\n".join(fragments)
        if self.chat is None:
            return self._keep_most_frequent(fragments)
        return await self._map_reduce(name, list(fragments))

    def _keep_most_frequent(self, fragments: Sequence[str]) -> str:
        kept: list[str] = []
        used = 0
        for fragment in fragments[:OFFLINE_MAX_FRAGMENTS]:  # already ordered by frequency
            n = count_tokens(fragment)
            if used + n > self.max_tokens:
                if not kept:
                    kept.append(truncate_tokens(fragment, self.max_tokens))
                break
            kept.append(fragment)
            used += n
        return "\n".join(kept)

    async def _map_reduce(self, name: str, fragments: list[str]) -> str:
        groups = _pack(fragments, MAP_BUDGET_TOKENS)
        while len(groups) > 1:
            partials = await asyncio.gather(*(self._summarize(name, g) for g in groups))
            groups = _pack(list(partials), MAP_BUDGET_TOKENS)
        return await self._summarize(name, groups[0])

    async def _summarize(self, name: str, fragments: list[str]) -> str:
        assert self.chat is not None
        prompt = render_prompt(
            "summarize_descriptions",
            name=name,
            language=self.language,
            max_tokens=self.max_tokens,
            fragments=fence("\n".join("- " + " ".join(f.split()) for f in fragments), "DESCRIPTIONS"),
        )
        result = await self.chat.complete([{"role": "user", "content": prompt}], purpose="summarize")
        return truncate_tokens(result.text.strip(), self.max_tokens * 2) or "\n".join(fragments[:1])


def _pack(fragments: list[str], budget: int) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    used = 0
    for fragment in fragments:
        n = count_tokens(fragment)
        if groups[-1] and used + n > budget:
            groups.append([])
            used = 0
        groups[-1].append(fragment)
        used += n
    return groups
