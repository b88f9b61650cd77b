"""What a query returns: ranked graph elements and chunks, references, the answer, and what
it cost. Plain dataclasses; `to_dict` gives the JSON the CLI and the API print."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

QueryMode = Literal["naive", "local", "global", "hybrid", "mix", "ppr", "auto"]
QUERY_MODES: tuple[str, ...] = ("naive", "local", "global", "hybrid", "mix", "ppr", "auto")


@dataclass(frozen=True)
class Keywords:
    high_level: tuple[str, ...] = ()
    low_level: tuple[str, ...] = ()
    source: Literal["llm", "offline", "given"] = "offline"

    def to_dict(self) -> dict[str, Any]:
        return {"high_level": list(self.high_level), "low_level": list(self.low_level), "source": self.source}


@dataclass
class ScoredEntity:
    key: str
    name: str
    type: str
    description: str
    score: float
    source_ids: tuple[str, ...] = ()


@dataclass
class ScoredRelation:
    key: str
    source: str  # entity key
    target: str  # entity key
    keywords: tuple[str, ...]
    description: str
    weight: float
    score: float
    source_ids: tuple[str, ...] = ()


@dataclass
class ScoredChunk:
    id: str
    document_id: str
    score: float
    text: str = ""
    order: int = 0
    source: str = ""
    title: str = ""
    n_tokens: int = 0


@dataclass
class Retrieval:
    """Ranked entities, relations and chunks for one question in one mode; no answer."""

    question: str
    mode: str
    keywords: Keywords
    entities: list[ScoredEntity] = field(default_factory=list)
    relations: list[ScoredRelation] = field(default_factory=list)
    chunks: list[ScoredChunk] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    route: dict[str, str] | None = None  # mode auto: the question's kind, the mode it ran, decided by
    standalone_question: str | None = None  # a follow-up as retrieval searched it
    expansions: list[str] = field(default_factory=list)  # rewordings searched too (multi-query)

    @property
    def chunk_ids(self) -> list[str]:
        return [c.id for c in self.chunks]

    @property
    def document_ids(self) -> list[str]:
        """Documents in the order of their best chunk."""
        return list(dict.fromkeys(c.document_id for c in self.chunks))

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "mode": self.mode,
            "keywords": self.keywords.to_dict(),
            "entities": [_entity_dict(e) for e in self.entities],
            "relations": [_relation_dict(r) for r in self.relations],
            "chunks": [asdict(c) for c in self.chunks],
            "documents": self.document_ids,
            "timings": dict(self.timings),
            **self.query_details(),
        }

    def query_details(self) -> dict[str, Any]:
        """How the question was searched, when it was not simply as asked."""
        details: dict[str, Any] = {}
        if self.route is not None:
            details["route"] = dict(self.route)
        if self.standalone_question is not None:
            details["standalone_question"] = self.standalone_question
        if self.expansions:
            details["expansions"] = list(self.expansions)
        return details


@dataclass(frozen=True)
class Reference:
    """A citable source: `[ref]` in the context and the answer is this chunk."""

    ref: int
    chunk_id: str
    document_id: str
    source: str
    title: str


@dataclass
class QueryResult:
    question: str
    mode: str
    answer: str
    references: list[Reference]  # the ones the answer cites, in citation order
    retrieval: Retrieval
    context: str = ""
    context_references: list[Reference] = field(default_factory=list)  # every [n] in the context
    context_tokens: dict[str, int] = field(default_factory=dict)  # per section
    supported: bool = True  # False: the documents do not answer the question
    timings: dict[str, float] = field(default_factory=dict)
    llm: dict[str, Any] = field(default_factory=dict)  # calls, cache_hits, tokens by purpose

    @property
    def entities(self) -> list[ScoredEntity]:
        return self.retrieval.entities

    @property
    def relations(self) -> list[ScoredRelation]:
        return self.retrieval.relations

    @property
    def chunks(self) -> list[ScoredChunk]:
        return self.retrieval.chunks

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "mode": self.mode,
            "answer": self.answer,
            "supported": self.supported,
            "references": [asdict(r) for r in self.references],
            "keywords": self.retrieval.keywords.to_dict(),
            "chunks": [_chunk_dict(c) for c in self.chunks],
            "documents": self.retrieval.document_ids,
            "entities": [_entity_dict(e) for e in self.entities],
            "relations": [_relation_dict(r) for r in self.relations],
            "context": self.context,
            "context_references": [asdict(r) for r in self.context_references],
            "context_tokens": dict(self.context_tokens),
            "timings": dict(self.timings),
            "llm": self.llm,
            **self.retrieval.query_details(),
        }


def _entity_dict(e: ScoredEntity) -> dict[str, Any]:
    d = asdict(e)
    d["source_ids"] = list(e.source_ids)
    return d


def _relation_dict(r: ScoredRelation) -> dict[str, Any]:
    d = asdict(r)
    d["keywords"] = list(r.keywords)
    d["source_ids"] = list(r.source_ids)
    return d


def _chunk_dict(c: ScoredChunk) -> dict[str, Any]:
    return {
        "id": c.id,
        "document_id": c.document_id,
        "score": c.score,
        "order": c.order,
        "n_tokens": c.n_tokens,
        "source": c.source,
        "title": c.title,
    }
