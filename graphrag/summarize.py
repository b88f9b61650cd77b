"""Turn the description fragments a merged entity or relation gathered into one description.

Few, short fragments are kept as they are. Many or long ones are summarized by the chat
model (map-reduce when they exceed one prompt; responses cached, so a rebuild of the same
fragments is free); offline, the most frequent fragments are kept up to a token budget.
An empty or cut-off summary is never used or cached; when the model cannot give one, the
offline summary stands in and the caller is told, so that a later run asks again.

An update touches entities that were summarized before. Two policies (`summary_policy`):

- `rebuild`: summarize all fragments again whenever they change. A description is then a
  function of its fragment set alone: any indexing order, an edit or a delete gives exactly
  what a fresh index gives. One call per touched summarized key, on every update.
- `fold` (default): remember which fragments each summary was made from (a `SummaryRecord`
  in the state store's key-value cache). New fragments are appended to the summary as they
  are, with no call, until `fold_min_new` of them gather or the description outgrows its
  token budget; then they are folded into the summary with one call over the summary and
  the new fragments only. When a fragment the summary was made from is gone (its document
  was deleted or edited), the summary is rebuilt from the remaining fragments, so a delete
  never leaves facts of the deleted document behind. The trade-off: a description that was
  folded or appended to depends on the order documents arrived in, so "any order gives the
  same graph" and "edit == fresh index" hold for the graph's structure (keys, names, types,
  sources, relations, weights) but not word for word for those descriptions; switch to
  `rebuild` when that matters more than the calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from graphrag.errors import LLMError, LLMOutputError, LLMTruncatedError
from graphrag.llm.base import ChatModel, ChatResult, Message
from graphrag.models import sha256_hex
from graphrag.prompts import fence, render_prompt
from graphrag.tokens import count_tokens, truncate_tokens

log = logging.getLogger(__name__)

# One summarize prompt holds at most this many tokens of fragments; beyond, map-reduce.
MAP_BUDGET_TOKENS = 3000
SummaryPolicy = Literal["fold", "rebuild"]
_RECORD_PREFIX = "summary:"


class KeyValueStore(Protocol):
    """Where summary records live: the state store's cache half is enough."""

    def cache_get(self, key: str) -> str | None: ...
    def cache_put(self, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class SummaryRecord:
    """A summary and the digests of the fragments it was made from."""

    covered: frozenset[str]
    text: str

    def dumps(self) -> str:
        return json.dumps({"covered": sorted(self.covered), "text": self.text}, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str) -> "SummaryRecord | None":
        try:
            data = json.loads(raw)
            return cls(frozenset(data["covered"]), str(data["text"]))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as absent, so the summary is rebuilt


def fragment_digest(fragment: str) -> str:
    return sha256_hex(fragment)[:16]

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
        policy: SummaryPolicy = "rebuild",
        fold_min_new: int = 4,
        records: KeyValueStore | None = None,
    ) -> None:
        self.chat = chat
        self.min_fragments = min_fragments
        self.max_tokens = max_tokens
        self.language = language
        # The chat model's own limit: the one a cut-off answer ran into.
        self.answer_limit = getattr(chat, "max_tokens", None) or 4096
        self.policy = policy
        self.fold_min_new = max(1, fold_min_new)
        self.records = records

    def needs_summary(self, fragments: Sequence[str]) -> bool:
        return len(fragments) >= self.min_fragments or count_tokens("\n".join(fragments)) > self.max_tokens

    async def describe(self, name: str, fragments: Sequence[str], *, key: str | None = None) -> str:
        return (await self.describe_checked(name, fragments, key=key))[0]

    async def describe_checked(
        self, name: str, fragments: Sequence[str], *, key: str | None = None, defer: Callable[[], bool] | None = None
    ) -> tuple[str, bool]:
        """(description, whether it is final) of `name` from its distinct fragments (most
        frequent first). `key` names the entity or relation (e.g. "entity:scrooge") for the
        fold policy. Not final: the model failed (unreachable, empty or cut-off answers), or
        `defer()` (asked only when a call would be made) says more fragments may come, so the
        offline summary stands in until a later round or run."""
        if not fragments:
            return "", True
        if not self.needs_summary(fragments):
            return "\n".join(fragments), True
        if self.chat is None:
            return self._keep_most_frequent(fragments), True
        if defer is not None and defer():
            return self._keep_most_frequent(fragments), False
        try:
            if self.policy == "rebuild" or key is None or self.records is None:
                return await self._from_scratch(name, fragments), True
            return await self._fold(name, fragments, _RECORD_PREFIX + key), True
        except LLMError as error:
            log.warning("summary of %r left offline for now: %s", name, error)
            return self._keep_most_frequent(fragments), False
    async def _fold(self, name: str, fragments: Sequence[str], record_key: str) -> str:
        assert self.records is not None
        digests = {fragment_digest(f): f for f in fragments}
        raw = self.records.cache_get(record_key)
        record = SummaryRecord.loads(raw) if raw else None
        if record is None or not record.covered <= digests.keys():
            # First summary, or a fragment it was made from is gone: start again from what remains.
            text = await self._from_scratch(name, fragments)
        else:
            new = [f for d, f in digests.items() if d not in record.covered]
            if not new:
                return record.text
            appended = "\n".join([record.text, *new])
            if len(new) < self.fold_min_new and count_tokens(appended) <= self.max_tokens:
                return appended
            text = await self._map_reduce(name, [record.text, *new])
        self.records.cache_put(record_key, SummaryRecord(frozenset(digests), text).dumps())
        return text

    async def _from_scratch(self, name: str, fragments: Sequence[str]) -> str:
        # Sorted, so the prompt (and, through the LLM cache, the summary) is a function of
        # the fragment set: the same set reached in any order or after a delete costs nothing.
        return await self._map_reduce(name, sorted(fragments))

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
