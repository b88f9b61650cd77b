"""The records that flow through the pipeline, from documents to graph elements.

Ids are content hashes, so the same input always yields the same ids: that is what makes
re-indexing free and every write idempotent.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, field_validator

DocumentStatus = Literal["pending", "processing", "processed", "failed", "skipped"]


def sha256_hex(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def document_id(text: str) -> str:
    return "doc-" + sha256_hex(text)[:32]


def chunk_id(doc_id: str, text: str) -> str:
    return "chunk-" + sha256_hex(doc_id, text)[:32]


def text_hash(text: str) -> str:
    return sha256_hex(text)[:40]


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Bidirectional embeddings, overrides, isolates and marks: invisible, and able to make a
# name display as something else.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_BIDI}\\ufeff\\u200b]")


def clean_text(text: str, *, single_line: bool = True) -> str:
    """Drops NUL, control and bidi-control characters; a single-line value (a name, a type,
    a keyword) also has its line breaks and tabs folded to one space."""
    cleaned = _INVISIBLE.sub("", text)
    if single_line:
        cleaned = " ".join(cleaned.split())
    return cleaned


@functools.lru_cache(maxsize=1 << 17)  # a graph rebuild normalizes the same names ~10^5 times
def normalize_name(name: str) -> str:
    """Entity key: case, accents' compatibility forms, whitespace and punctuation folded."""
    folded = unicodedata.normalize("NFKC", clean_text(name)).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def relation_key(source_key: str, target_key: str) -> str:
    """Relations are undirected: the key is the sorted pair of entity keys."""
    a, b = sorted((source_key, target_key))
    return f"{a}|{b}"


@dataclass(frozen=True)
class Document:
    id: str
    source: str
    title: str
    text: str

    @classmethod
    def from_text(cls, text: str, source: str, title: str | None = None) -> "Document":
        return cls(id=document_id(text), source=source, title=title or source, text=text)


@dataclass(frozen=True)
class Chunk:
    id: str
    document_id: str
    text: str
    order: int
    n_tokens: int

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


class ExtractedEntity(BaseModel):
    name: str = Field(min_length=1)
    type: str = "UNKNOWN"
    description: str = ""

    @field_validator("name", "type", "description", mode="before")
    @classmethod
    def _strip(cls, v: object) -> object:
        return v.strip() if isinstance(v, str) else v


class ExtractedRelation(BaseModel):
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    description: str = ""
    weight: float = 1.0

    @field_validator("keywords", mode="before")
    @classmethod
    def _split_keywords(cls, v: object) -> object:
        if isinstance(v, str):
            return [k.strip() for k in re.split(r"[,;]", v) if k.strip()]
        return v


class Extraction(BaseModel):
    """What an extractor returns for one chunk; stored durably per chunk text."""

    entities: list[ExtractedEntity] = Field(default_factory=list)
    relations: list[ExtractedRelation] = Field(default_factory=list)


@dataclass(frozen=True)
class Alias:
    """Another name of an entity, with the chunks that call it so."""

    name: str
    source_ids: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    key: str
    name: str
    type: str
    description: str
    source_ids: tuple[str, ...]
    aliases: tuple[Alias, ...] = ()


@dataclass(frozen=True)
class Relation:
    key: str
    source: str  # entity key
    target: str  # entity key
    description: str
    keywords: tuple[str, ...]
    weight: float
    source_ids: tuple[str, ...]


@dataclass
class DocumentRecord:
    """A document as the state store tracks it."""

    id: str
    source: str
    title: str
    content_hash: str
    status: DocumentStatus = "pending"
    error: str | None = None
    n_chunks: int = 0
    ingested_at: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
