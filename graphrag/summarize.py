"""Turn the description fragments a merged entity or relation gathered into one description.

Few, short fragments are kept as they are. Many or long ones are summarized by the chat
model (map-reduce when they exceed one prompt; responses cached, so a rebuild of the same
fragments is free); offline, the most frequent fragments are kept up to a token budget.
An empty or cut-off summary is never used or cached; when the model cannot give one, the
offline summary stands in and the caller is told, so that a later run asks again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from graphrag.errors import LLMError, LLMOutputError, LLMTruncatedError
from graphrag.llm.base import ChatModel, ChatResult, Message
from graphrag.prompts import fence, render_prompt
from graphrag.tokens import count_tokens, truncate_tokens

log = logging.getLogger(__name__)

# One summarize prompt holds at most this many tokens of fragments; beyond, map-reduce.
MAP_BUDGET_TOKENS = 3000


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
        # The chat model's own limit: the one a cut-off answer ran into.
        self.answer_limit = getattr(chat, "max_tokens", None) or 4096

    def needs_summary(self, fragments: Sequence[str]) -> bool:
        return len(fragments) >= self.min_fragments or count_tokens("\n".join(fragments)) > self.max_tokens

    async def describe(self, name: str, fragments: Sequence[str]) -> str:
        return (await self.describe_checked(name, fragments))[0]

    async def describe_checked(self, name: str, fragments: Sequence[str]) -> tuple[str, bool]:
        """(description, whether it is final). Not final: the model failed (unreachable,
        empty or cut-off answers), so the offline summary stands in until a later run."""
        if not fragments:
            return "", True
        if not self.needs_summary(fragments):
            return "\n".join(fragments), True
        if self.chat is None:
            return self._keep_most_frequent(fragments), True
        try:
            return await self._map_reduce(name, list(fragments)), True
        except LLMError as error:
            log.warning("summary of %r left offline for now: %s", name, error)
            return self._keep_most_frequent(fragments), False

    def _keep_most_frequent(self, fragments: Sequence[str]) -> str:
        kept: list[str] = []
        used = 0
        for fragment in fragments:  # already ordered by frequency
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
        messages: list[Message] = [{"role": "user", "content": prompt}]
        try:
            result = await self.chat.complete(messages, purpose="summarize", validate=_not_empty)
        except LLMTruncatedError:
            # A summary longer than the whole token limit is a runaway, not a description:
            # one more try with room to finish, then it fails (never half a sentence stored).
            result = await self.chat.complete(
                messages, purpose="summarize", validate=_not_empty, max_tokens=2 * self.answer_limit
            )
        return truncate_tokens(result.text.strip(), self.max_tokens * 2)


def _not_empty(result: ChatResult) -> None:
    if not result.text.strip():
        raise LLMOutputError("the summary is empty")


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
