"""Follow-up questions: a question asked after earlier turns ("And when did he die?") is
made standalone before retrieval, since the index knows nothing of "he".

With a chat model the question and the recent turns are condensed into one standalone
question (prompts/query_condense.txt; one call, cached). Offline, the names (low-level
keywords) of the recent user turns are carried over: they are added to the question's
keywords and to the text the dense and lexical channels search.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from graphrag.errors import ConfigError
from graphrag.llm.base import ChatModel
from graphrag.prompts import render_prompt
from graphrag.query.keywords import MAX_KEYWORDS
from graphrag.query.result import Keywords
from graphrag.query.usage import QueryUsage

log = logging.getLogger(__name__)

RECENT_TURNS = 6  # turns (user and assistant) shown to the condenser
CARRIED_USER_TURNS = 2  # user turns whose names are carried over offline
TURN_CHARS = 2000  # an earlier turn is cut to this many characters in the prompt


class Turn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1, max_length=20_000)


@dataclass(frozen=True)
class Condensed:
    question: str  # what retrieval searches
    carried: tuple[str, ...] = ()  # names taken over from earlier turns (offline)
    by: Literal["none", "llm", "offline"] = "none"


def parse_history(raw: Any) -> list[Turn]:
    """Turns from JSON data: a list of {"role", "content"} objects."""
    if not isinstance(raw, list):
        raise ConfigError('a conversation history is a JSON list of {"role": "user"|"assistant", "content": "..."}')
    try:
        return [Turn.model_validate(item) for item in raw]
    except ValueError as exc:
        raise ConfigError(f"invalid conversation history: {exc}") from None


async def condense(
    question: str,
    history: Sequence[Turn],
    chat: ChatModel | None,
    offline_keywords: Callable[[str], Awaitable[Keywords]],
    usage: QueryUsage | None = None,
) -> Condensed:
    if not history:
        return Condensed(question)
    if chat is not None:
        standalone = await _condense_with_model(chat, question, history, usage)
        if standalone:
            return Condensed(standalone, by="llm")
    carried: list[str] = []
    for turn in [t for t in history if t.role == "user"][-CARRIED_USER_TURNS:][::-1]:
        keywords = await offline_keywords(turn.content)
        carried.extend(w for w in keywords.low_level if w.lower() not in question.lower())
    carried = list(dict.fromkeys(carried))[:MAX_KEYWORDS]
    if not carried:
        return Condensed(question, by="offline")
    return Condensed(f"{question} ({'; '.join(carried)})", tuple(carried), by="offline")


def with_carried(keywords: Keywords, carried: Sequence[str]) -> Keywords:
    """The question's own keywords first, then the carried names, within the usual limit."""
    if not carried:
        return keywords
    low = list(dict.fromkeys([*keywords.low_level, *carried]))[:MAX_KEYWORDS]
    return Keywords(keywords.high_level, tuple(low), keywords.source)


async def _condense_with_model(
    chat: ChatModel, question: str, history: Sequence[Turn], usage: QueryUsage | None
) -> str | None:
    recent = history[-RECENT_TURNS:]
    transcript = "\n".join(f"{t.role}: {' '.join(t.content.split())[:TURN_CHARS]}" for t in recent)
    prompt = render_prompt("query_condense", history=transcript, question=question)
    result = await chat.complete([{"role": "user", "content": prompt}], purpose="condense")
    if usage is not None:
        usage.record("condense", result)
    text = " ".join(result.text.split()).strip().strip('"')
    if not text or len(text) > 4 * max(len(question), 200):
        log.warning("the condensed question was empty or far too long; retrieving with the question as asked")
        return None
    return text
