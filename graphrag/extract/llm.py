"""Entity and relation extraction with a chat model.

Per distinct chunk text: one "extract" call in JSON mode; if the answer cannot be repaired
into a valid extraction, one "extract_reask" call quoting the reason; then up to
`settings.gleaning` "glean" calls continuing the conversation ("you missed some; add
them"), stopping early once a pass finds nothing new. The results are merged by
normalized name.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from graphrag.errors import LLMOutputError
from graphrag.extract.parse import merge_extractions, parse_extraction
from graphrag.llm.base import ChatModel, Message
from graphrag.models import Chunk, Extraction, normalize_name, relation_key, sha256_hex
from graphrag.prompts import fence, load_prompt, render_prompt
from graphrag.settings import Settings

log = logging.getLogger(__name__)

EXTRACT_PROMPT = "extract_entities"
REASK_PROMPT = "extract_reask"
GLEAN_PROMPT = "extract_glean"


class LLMExtractor:
    """The `Extractor` backed by a chat model; concurrency is bounded by the model."""

    def __init__(self, chat: ChatModel, settings: Settings) -> None:
        self.chat = chat
        self.entity_types = list(settings.entity_types)
        self.language = settings.language
        self.gleaning = settings.gleaning
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

    async def extract_text(self, text: str) -> Extraction:
        prompt = render_prompt(
            EXTRACT_PROMPT,
            entity_types=", ".join(self.entity_types),
            language=self.language,
            document=fence(text, "DOCUMENT"),
        )
        conversation: list[Message] = [{"role": "user", "content": prompt}]
        answer = await self.chat.complete(conversation, purpose="extract", json_mode=True)
        try:
            extraction = parse_extraction(answer.text)
        except LLMOutputError as error:
            extraction = await self._reask(conversation, answer.text, error)
        return await self._glean(conversation, extraction)

    async def _reask(self, conversation: list[Message], bad_answer: str, error: LLMOutputError) -> Extraction:
        messages: list[Message] = [
            *conversation,
            {"role": "assistant", "content": bad_answer},
            {"role": "user", "content": render_prompt(REASK_PROMPT, error=str(error))},
        ]
        answer = await self.chat.complete(messages, purpose="extract_reask", json_mode=True)
        try:
            return parse_extraction(answer.text)
        except LLMOutputError as second_error:
            # Rather than lose the chunk, keep the valid items of either answer.
            for candidate in (answer.text, bad_answer):
                try:
                    return parse_extraction(candidate, drop_invalid=True)
                except LLMOutputError:
                    continue
            raise LLMOutputError(
                f"{self.chat.model} did not produce a valid extraction, even when asked again: "
                f"{second_error} (first answer: {error}). Try a more capable model "
                "(GRAPHRAG_CHAT_MODEL) or smaller chunks (GRAPHRAG_CHUNK_SIZE)."
            ) from second_error

    async def _glean(self, conversation: list[Message], extraction: Extraction) -> Extraction:
        # The model sees its accepted answer in canonical form, not a repaired or re-asked one.
        messages = [*conversation, _assistant(extraction)]
        glean_prompt = render_prompt(
            GLEAN_PROMPT, entity_types=", ".join(self.entity_types), language=self.language
        )
        for _ in range(self.gleaning):
            messages.append({"role": "user", "content": glean_prompt})
            answer = await self.chat.complete(messages, purpose="glean", json_mode=True)
            try:
                found = parse_extraction(answer.text, drop_invalid=True)
            except LLMOutputError as error:
                # The chunk already has a valid extraction; a bad glean only ends gleaning.
                log.warning("gleaning answer of %s ignored: %s", self.chat.model, error)
                break
            merged = merge_extractions([extraction, found])
            if _keys(merged) == _keys(extraction):
                break
            extraction = merged
            messages.append(_assistant(found))
        return extraction


def _assistant(extraction: Extraction) -> Message:
    return {"role": "assistant", "content": json.dumps(extraction.model_dump(), ensure_ascii=False)}


def _keys(extraction: Extraction) -> tuple[frozenset[str], frozenset[str]]:
    return (
        frozenset(normalize_name(e.name) for e in extraction.entities),
        frozenset(relation_key(normalize_name(r.source), normalize_name(r.target)) for r in extraction.relations),
    )
