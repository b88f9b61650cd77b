"""Entity and relation extraction with a chat model.

Per distinct chunk text: one "extract" call in JSON mode; if the answer cannot be repaired
losslessly into a valid extraction, one "extract_reask" call quoting the reason; if it was
cut off by the token limit, one more call with twice the limit, then the chunk's halves
apart (never half an answer as data); then up to
`settings.gleaning` "glean" calls, stopping early once a pass finds nothing new. A glean
call is one compact message: the chunk and the names and relation pairs found so far, not
the first prompt and its whole answer again (which made gleaning cost more prompt tokens
than extraction itself). The results are merged by normalized name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from graphrag.errors import LLMOutputError, LLMTruncatedError
from graphrag.extract.parse import merge_extractions, parse_extraction
from graphrag.llm.base import ChatModel, ChatResult, Message
from graphrag.llm.cache import check_answer
from graphrag.models import Chunk, Extraction, normalize_name, relation_key, sha256_hex
from graphrag.prompts import fence, load_prompt, render_prompt
from graphrag.settings import Settings

log = logging.getLogger(__name__)

EXTRACT_PROMPT = "extract_entities"
REASK_PROMPT = "extract_reask"
GLEAN_PROMPT = "extract_glean"
# A chunk whose answer does not fit even twice the token limit is halved, at most this often.
MAX_SPLIT_DEPTH = 2


class LLMExtractor:
    """The `Extractor` backed by a chat model; concurrency is bounded by the model."""

    def __init__(self, chat: ChatModel, settings: Settings) -> None:
        self.chat = chat
        self.entity_types = list(settings.entity_types)
        self.language = settings.language
        self.gleaning = settings.gleaning
        self.max_tokens = getattr(chat, "max_tokens", None) or settings.chat_max_tokens
        # Set by `reextract`: ask the model again instead of replaying cached answers.
        self.refresh = False
        fingerprint = sha256_hex(
            *(load_prompt(name) for name in (EXTRACT_PROMPT, REASK_PROMPT, GLEAN_PROMPT)),
            json.dumps(self.entity_types),
            self.language,
            str(self.gleaning),
        )[:12]
        self.extractor_id = f"llm:{chat.model}:{fingerprint}"

    async def extract(self, chunks: Sequence[Chunk]) -> dict[str, Extraction | Exception]:
        # Identical texts (boilerplate, repeated sections) are extracted once.
        texts = list(dict.fromkeys(chunk.text for chunk in chunks))
        outcomes = await asyncio.gather(*(self.extract_text(t) for t in texts), return_exceptions=True)
        by_text: dict[str, Extraction | Exception] = {}
        for text, outcome in zip(texts, outcomes):
            if not isinstance(outcome, (Extraction, Exception)):
                raise outcome  # cancellation or interrupt: not a per-chunk failure
            by_text[text] = outcome
        return {chunk.id: by_text[chunk.text] for chunk in chunks}

    async def extract_text(self, text: str, *, depth: int = 0) -> Extraction:
        prompt = render_prompt(
            EXTRACT_PROMPT,
            entity_types=", ".join(self.entity_types),
            language=self.language,
            document=fence(text, "DOCUMENT"),
        )
        conversation: list[Message] = [{"role": "user", "content": prompt}]
        try:
            extraction = await self._ask(conversation, "extract")
        except LLMTruncatedError:
            return await self._after_truncation(text, conversation, depth)
        except LLMOutputError as error:
            extraction = await self._reask(conversation, error.answer or "", error)
        return await self._glean(text, extraction)

    async def _ask(self, messages: list[Message], purpose: str, *, lenient: bool = False, **params: Any) -> Extraction:
        """The extraction in the answer; the chat model caches the answer only once it
        parsed (`lenient`: items that stay invalid are dropped rather than failing it)."""
        parsed: list[Extraction] = []

        def validate(result: ChatResult) -> None:
            parsed.append(parse_extraction(result.text, drop_invalid=lenient))

        answer = await self.chat.complete(
            messages, purpose=purpose, json_mode=True, validate=validate, use_cache=not self.refresh, **params
        )
        if parsed:
            return parsed[-1]
        check_answer(answer, validate)  # a chat model that ignored `validate`
        return parsed[-1]

    async def _after_truncation(self, text: str, conversation: list[Message], depth: int) -> Extraction:
        """The answer did not fit the token limit: ask once more with twice the limit; if that
        is cut off too, extract the two halves of the chunk apart. Never half an answer."""
        larger = 2 * self.max_tokens
        try:
            extraction = await self._ask(conversation, "extract", max_tokens=larger)
        except LLMTruncatedError:
            pass
        except LLMOutputError as error:
            return await self._glean(text, await self._reask(conversation, error.answer or "", error))
        else:
            return await self._glean(text, extraction)
        halves = split_text(text) if depth < MAX_SPLIT_DEPTH else None
        if halves is None:
            raise LLMTruncatedError(
                f"{self.chat.model} was cut off at the token limit even with max_tokens={larger} and the "
                "chunk split in parts; raise GRAPHRAG_CHAT_MAX_TOKENS or lower GRAPHRAG_CHUNK_SIZE"
            )
        log.info("answer for a %d-character chunk cut off twice; extracting its halves", len(text))
        parts = await asyncio.gather(*(self.extract_text(half, depth=depth + 1) for half in halves))
        return merge_extractions(parts)

    async def _reask(self, conversation: list[Message], bad_answer: str, error: LLMOutputError) -> Extraction:
        messages: list[Message] = [
            *conversation,
            {"role": "assistant", "content": bad_answer},
            {"role": "user", "content": render_prompt(REASK_PROMPT, error=str(error))},
        ]
        try:
            return await self._ask(messages, "extract_reask", lenient=True)
        except LLMOutputError as second_error:
            # Rather than lose the chunk, keep the valid items of the first answer (dropping
            # invalid items invents nothing; a truncated answer never gets here as data).
            try:
                return parse_extraction(bad_answer, drop_invalid=True)
            except LLMOutputError:
                pass
            raise LLMOutputError(
                f"{self.chat.model} did not produce a valid extraction, even when asked again: "
                f"{second_error} (first answer: {error}). Try a more capable model "
                "(GRAPHRAG_CHAT_MODEL) or smaller chunks (GRAPHRAG_CHUNK_SIZE)."
            ) from second_error

    async def _glean(self, text: str, extraction: Extraction) -> Extraction:
        for _ in range(self.gleaning):
            prompt = render_prompt(
                GLEAN_PROMPT,
                entity_types=", ".join(self.entity_types),
                language=self.language,
                found=fence(found_list(extraction), "FOUND"),
                document=fence(text, "DOCUMENT"),
            )
            try:
                found = await self._ask([{"role": "user", "content": prompt}], "glean", lenient=True)
            except LLMOutputError as error:
                # The chunk already has a valid extraction; a bad glean (never cached) only ends gleaning.
                log.warning("gleaning answer of %s ignored: %s", self.chat.model, error)
                break
            merged = merge_extractions([extraction, found])
            if _keys(merged) == _keys(extraction):
                break
            extraction = merged
        return extraction


def found_list(extraction: Extraction) -> str:
    """What a glean call is told was found: each entity's name and each relation's pair,
    one per line (a few tokens each, where the whole answer was hundreds)."""
    lines = [f"entity: {e.name}" for e in extraction.entities]
    lines += [f"relation: {r.source} / {r.target}" for r in extraction.relations]
    return "\n".join(lines) or "(nothing yet)"


def split_text(text: str) -> tuple[str, str] | None:
    """Two halves of `text`, cut at the sentence or line end nearest the middle (else at a
    space); None when there is nothing to split."""
    middle = len(text) // 2
    for pattern in (r"[.!?]\s+|\n\s*", r"\s+"):
        cuts = [m.end() for m in re.finditer(pattern, text) if 0 < m.end() < len(text)]
        if cuts:
            cut = min(cuts, key=lambda c: abs(c - middle))
            first, second = text[:cut].strip(), text[cut:].strip()
            if first and second:
                return first, second
    return None


def _keys(extraction: Extraction) -> tuple[frozenset[str], frozenset[str]]:
    return (
        frozenset(normalize_name(e.name) for e in extraction.entities),
        frozenset(relation_key(normalize_name(r.source), normalize_name(r.target)) for r in extraction.relations),
    )
