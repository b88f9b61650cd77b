"""Query expansion through the chat model, for questions worded unlike the documents.

- multi (RAG-fusion): the model writes a few rewordings of the question; each is retrieved
  in the same mode and the chunk rankings are fused by rank with the question's own.
- hyde (HyDE, Gao et al.): the model writes the passage that would answer the question;
  the dense channel searches with its vector (averaged with the question's), since a
  passage is closer to passages than a question is.

Both cost one chat call per question (cached). Without a chat model they cannot run, and
say so instead of silently doing nothing.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Literal

from graphrag.errors import ConfigError
from graphrag.llm.base import ChatModel
from graphrag.prompts import render_prompt
from graphrag.query.usage import QueryUsage

log = logging.getLogger(__name__)

Expansion = Literal["none", "multi", "hyde"]
EXPANSIONS: tuple[str, ...] = ("none", "multi", "hyde")
HYDE_MAX_CHARS = 2000


def require_chat(expansion: str, chat: ChatModel | None) -> ChatModel:
    if expansion not in EXPANSIONS:
        raise ConfigError(f"unknown query expansion {expansion!r}; use {', '.join(EXPANSIONS)}")
    if chat is None:
        raise ConfigError(
            f"query expansion {expansion!r} needs a chat model: set GRAPHRAG_CHAT_BASE_URL and "
            "GRAPHRAG_CHAT_MODEL, or set GRAPHRAG_QUERY_EXPANSION=none"
        )
    return chat


async def rewordings(chat: ChatModel, question: str, count: int, usage: QueryUsage | None = None) -> list[str]:
    """Up to `count` rewordings of the question, none equal to it; [] when the reply holds none."""
    prompt = render_prompt("query_multi", question=question, count=count)
    result = await chat.complete([{"role": "user", "content": prompt}], purpose="expansion", json_mode=True)
    if usage is not None:
        usage.record("expansion", result)
    try:
        data = json.loads(_json_part(result.text))
    except json.JSONDecodeError:
        data = None
    items = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        # A plain list of lines is an answer too.
        items = [line for line in result.text.splitlines() if line.strip()]
    seen = {question.strip().lower()}
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        text = " ".join(re.sub(r"^\s*(?:\d+[.)]|[-*])\s*", "", item).split())
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    if not out:
        log.warning("query expansion returned no rewording; retrieving with the question alone")
    return out[:count]


async def hypothetical_passage(chat: ChatModel, question: str, usage: QueryUsage | None = None) -> str:
    prompt = render_prompt("query_hyde", question=question)
    result = await chat.complete([{"role": "user", "content": prompt}], purpose="expansion")
    if usage is not None:
        usage.record("expansion", result)
    return " ".join(result.text.split())[:HYDE_MAX_CHARS]


def _json_part(text: str) -> str:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    return text[start:] if start >= 0 else text
