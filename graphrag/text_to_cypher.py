"""Natural language -> Cypher: the chat model sees the live schema and examples
(prompts/text_to_cypher.txt); the query it writes runs through the same guard as any user
query (Neo4j's EXPLAIN decides, confined to the workspace), gets one retry with the error
otherwise. A generation is cached only once it ran: a refused or broken query is never
replayed from the cache."""

from __future__ import annotations

import asyncio
import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphrag.cypher import CypherResult
from graphrag.errors import ConfigError, CypherNotAllowedError, GraphRAGError, StoreError
from graphrag.llm.base import ChatResult, Message
from graphrag.llm.cache import LLMCache
from graphrag.prompts import fence, render_prompt

if TYPE_CHECKING:
    from graphrag.core import GraphRAG

PURPOSE = "text_to_cypher"
MAX_ATTEMPTS = 2  # the first query and one retry with its error


class TextToCypherError(GraphRAGError):
    """The model did not produce a valid read-only query, even after a retry."""

    def __init__(self, message: str, cypher: str, errors: list[str]) -> None:
        super().__init__(message)
        self.cypher = cypher
        self.errors = errors


@dataclass
class TextToCypherResult:
    question: str
    cypher: str
    result: CypherResult
    attempts: int
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "cypher": self.cypher, "attempts": self.attempts,
                "errors": self.errors, **self.result.to_dict()}


def live_schema(rag: "GraphRAG", timeout: float = 10.0) -> str:
    """Labels, relationship types and node properties of the database, as prompt text."""
    labels = rag.cypher("CALL db.labels() YIELD label RETURN label ORDER BY label", timeout=timeout, row_limit=300)
    rels = rag.cypher(
        "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType ORDER BY relationshipType",
        timeout=timeout, row_limit=300,
    )
    props = rag.cypher(
        "CALL db.schema.nodeTypeProperties() YIELD nodeLabels, propertyName, propertyTypes "
        "RETURN nodeLabels, propertyName, propertyTypes",
        timeout=timeout, row_limit=2000,
    )
    by_label: dict[str, set[str]] = {}
    for row in props.rows:
        name = row.get("propertyName")
        if not name:
            continue
        for label in row.get("nodeLabels") or []:
            if label in ("Document", "Chunk", "Entity"):
                types = "/".join(row.get("propertyTypes") or [])
                by_label.setdefault(label, set()).add(f"{name}: {types}" if types else name)
    lines = [
        "Node labels: " + ", ".join(r["label"] for r in labels.rows),
        "Relationship types: " + ", ".join(r["relationshipType"] for r in rels.rows),
    ]
    for label in sorted(by_label):
        lines.append(f"Properties of :{label}: " + ", ".join(sorted(by_label[label])))
    return "\n".join(lines)


_FENCE = re.compile(r"```(?:cypher|sql)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_query(text: str) -> str:
    """The Cypher statement in a model reply (code fences, a `Cypher:` prefix and a trailing
    `;` removed)."""
    m = _FENCE.search(text)
    query = (m.group(1) if m else text).strip()
    query = re.sub(r"^(cypher|query)\s*:\s*", "", query, flags=re.IGNORECASE).strip()
    return query.rstrip(";").strip()


class _ValidatedCache:
    """Reads the chat model's cache, but writes a generation only after it ran: the model is
    called through a copy without a cache, and `keep` stores the reply once it proved valid."""

    def __init__(self, chat: Any) -> None:
        self.cache: LLMCache | None = getattr(chat, "cache", None)
        params = getattr(chat, "_request_params", None)
        if self.cache is None or not callable(params):
            self.cache, self.chat = None, chat
            return
        self.chat = copy.copy(chat)
        self.chat.cache = None
        self.model, self.params = chat.model, params(False, {})

    def key(self, messages: list[Message]) -> str | None:
        return LLMCache.key(self.model, messages, self.params) if self.cache is not None else None

    async def complete(self, messages: list[Message]) -> ChatResult:
        key = self.key(messages)
        cached = self.cache.get(key) if self.cache is not None and key is not None else None
        if cached is not None:
            usage = getattr(self.chat, "usage", None)
            if usage is not None:
                usage.record(PURPOSE, cache_hit=True)
            return cached
        return await self.chat.complete(messages, purpose=PURPOSE)

    def keep(self, messages: list[Message], reply: ChatResult) -> None:
        key = self.key(messages)
        if self.cache is not None and key is not None and not reply.cached:
            self.cache.put(key, reply)


def _run(rag: "GraphRAG", query: str, timeout: float, row_limit: int) -> CypherResult:
    if not query:
        raise CypherNotAllowedError("the reply contained no query")
    return rag.cypher(query, None, timeout=timeout, row_limit=row_limit)


async def text_to_cypher(
    rag: "GraphRAG", question: str, *, timeout: float = 30.0, row_limit: int = 1000
) -> TextToCypherResult:
    chat = rag.chat
    schema = await asyncio.to_thread(live_schema, rag, min(timeout, 10.0))  # also: Neo4j or a clear error
    if chat is None:
        raise ConfigError(
            "text-to-Cypher needs a chat model: set GRAPHRAG_CHAT_BASE_URL (and GRAPHRAG_CHAT_MODEL); "
            "POST /cypher runs Cypher you write yourself"
        )
    model = _ValidatedCache(chat)
    prompt = render_prompt("text_to_cypher", schema=schema, question=fence(question, "QUESTION"),
                           limit=row_limit)
    messages: list[Message] = [{"role": "user", "content": prompt}]
    errors: list[str] = []
    query = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        reply = await model.complete(messages)
        query = extract_query(reply.text)
        try:
            result = await asyncio.to_thread(_run, rag, query, timeout, row_limit)
        except (CypherNotAllowedError, StoreError) as exc:
            if "unreachable" in str(exc):
                raise
            errors.append(str(exc))
            messages = [
                *messages,
                {"role": "assistant", "content": reply.text},
                {"role": "user", "content": f"That query is not valid here: {exc}\n"
                 "Reply with a corrected read-only Cypher query only."},
            ]
            continue
        model.keep(messages, reply)
        return TextToCypherResult(question, query, result, attempt, errors)
    raise TextToCypherError(
        f"the model did not write a valid read-only query in {MAX_ATTEMPTS} attempts; last query: {query!r}; "
        f"errors: {' | '.join(errors)}",
        query,
        errors,
    )
