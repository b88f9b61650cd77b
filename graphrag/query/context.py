"""The context an answer is written from: entities, relations and source chunks, each
section within its own token budget, every chunk citable by a short reference `[n]`.

Chunks are numbered first, in rank order; an entity or relation lists the references of the
chunks it was extracted from (adding references for those not shown, so every claim the
model takes from the graph still cites a real chunk). Everything that came from documents —
chunk texts, and the names and descriptions extracted from them — sits inside fences: it is
data for the model, never instructions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from graphrag.prompts import fence
from graphrag.query.result import Reference, Retrieval, ScoredChunk, ScoredEntity, ScoredRelation
from graphrag.settings import Settings
from graphrag.tokens import count_tokens, truncate_tokens

MAX_REFS_PER_ITEM = 3
MAX_DESCRIPTION_TOKENS = 200
# Chunk text left after truncating the first chunk to its section's budget; below this a
# truncated chunk says too little to be worth showing.
MIN_TRUNCATED_CHUNK_TOKENS = 32
# A chunk's own token count (known from chunking) plus its block's framing can differ from
# the count of the assembled block where they meet; this much slack keeps the sum an upper
# bound without encoding every chunk again.
SEAM_TOKENS = 2

# chunk ids -> (chunk id -> (document id, source, title)) for chunks not among the retrieved ones
ChunkLookup = Callable[[Sequence[str]], Mapping[str, tuple[str, str, str]]]


@dataclass(frozen=True)
class ContextBudgets:
    entities: int
    relations: int
    chunks: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "ContextBudgets":
        return cls(settings.query_entity_tokens, settings.query_relation_tokens, settings.query_chunk_tokens)


@dataclass
class Context:
    text: str
    references: list[Reference]
    entities: list[ScoredEntity] = field(default_factory=list)
    relations: list[ScoredRelation] = field(default_factory=list)
    chunks: list[tuple[Reference, str]] = field(default_factory=list)  # shown chunks and their text
    tokens: dict[str, int] = field(default_factory=dict)  # per section, fences included

    @property
    def empty(self) -> bool:
        return not self.chunks and not self.entities and not self.relations

    def reference(self, ref: int) -> Reference | None:
        return next((r for r in self.references if r.ref == ref), None)


def build_context(retrieval: Retrieval, budgets: ContextBudgets, lookup: ChunkLookup | None = None) -> Context:
    refs: dict[str, Reference] = {}

    def add_ref(chunk_id: str, document_id: str, source: str, title: str) -> Reference:
        if chunk_id not in refs:
            refs[chunk_id] = Reference(len(refs) + 1, chunk_id, document_id, source, title)
        return refs[chunk_id]

    shown_chunks, chunk_section, chunk_tokens = _chunk_section(retrieval.chunks, budgets.chunks, add_ref)

    # Graph items cite their source chunks: shown ones first, then others we can locate.
    wanted: list[str] = []
    for item in [*retrieval.entities, *retrieval.relations]:
        wanted.extend(c for c in item.source_ids[:MAX_REFS_PER_ITEM] if c not in refs)
    located = lookup(list(dict.fromkeys(wanted))) if (lookup and wanted) else {}

    def cite(source_ids: Sequence[str]) -> str:
        cited: list[int] = []
        for chunk_id in [c for c in source_ids if c in refs] + [c for c in source_ids if c not in refs]:
            if len(cited) >= MAX_REFS_PER_ITEM:
                break
            if chunk_id in refs:
                cited.append(refs[chunk_id].ref)
            elif chunk_id in located:
                cited.append(add_ref(chunk_id, *located[chunk_id]).ref)
        return "".join(f"[{n}]" for n in cited)

    entity_lines = [
        (e, f"- {e.name} ({e.type}): {_short(e.description)} {cite(e.source_ids)}".rstrip()) for e in retrieval.entities
    ]
    names = {e.key: e.name for e in retrieval.entities}
    relation_lines = [
        (
            r,
            f"- {names.get(r.source, r.source)} -- {names.get(r.target, r.target)}"
            f" [{', '.join(r.keywords)}]: {_short(r.description)} {cite(r.source_ids)}".rstrip(),
        )
        for r in retrieval.relations
    ]
    entities, entity_block, entity_tokens = _line_section(entity_lines, budgets.entities, "ENTITIES")
    relations, relation_block, relation_tokens = _line_section(relation_lines, budgets.relations, "RELATIONS")

    parts = []
    if entity_block:
        parts.append("## Entities (name (type): description [sources])\n" + entity_block)
    if relation_block:
        parts.append("## Relations (entity -- entity [keywords]: description [sources])\n" + relation_block)
    if chunk_section:
        parts.append("## Sources\n" + chunk_section)
    return Context(
        text="\n\n".join(parts),
        references=sorted(refs.values(), key=lambda r: r.ref),
        entities=entities,
        relations=relations,
        chunks=shown_chunks,
        tokens={"entities": entity_tokens, "relations": relation_tokens, "chunks": chunk_tokens},
    )


def _short(description: str) -> str:
    if len(description) > MAX_DESCRIPTION_TOKENS:  # a token is at least one character
        description = truncate_tokens(description, MAX_DESCRIPTION_TOKENS)
    return " ".join(description.split())


def _chunk_section(
    chunks: Sequence[ScoredChunk], budget: int, add_ref: Callable[..., Reference]
) -> tuple[list[tuple[Reference, str]], str, int]:
    """Chunks in rank order while they fit; one that does not is skipped (a later, shorter
    one may fit), except the first, which is truncated rather than leaving no source."""
    shown: list[tuple[Reference, str]] = []
    blocks: list[str] = []
    used = 0
    for chunk in chunks:
        header = f"[{len(shown) + 1}] {chunk.title or chunk.source or chunk.document_id}"
        text = chunk.text
        overhead = _framing_tokens(header, text, first=not shown)
        size = overhead + (chunk.n_tokens or count_tokens(text)) + SEAM_TOKENS
        if used + size > budget:
            if shown:
                continue
            room = budget - overhead - SEAM_TOKENS
            if room < MIN_TRUNCATED_CHUNK_TOKENS:
                continue
            text = truncate_tokens(chunk.text, room)
            overhead = _framing_tokens(header, text, first=True)
            size = overhead + count_tokens(text) + SEAM_TOKENS
        ref = add_ref(chunk.id, chunk.document_id, chunk.source, chunk.title)
        shown.append((ref, text))
        blocks.append(header + "\n" + fence(text, "DOCUMENT"))
        used += size
    return shown, "\n\n".join(blocks), used


def _framing_tokens(header: str, text: str, *, first: bool) -> int:
    """Tokens of a chunk's block besides its text: the blank line before all but the first
    block, the header, and the fence lines (whose tag depends on the text)."""
    opening, _, rest = fence(text, "DOCUMENT").partition("\n")
    closing = rest.rsplit("\n", 1)[-1]
    return count_tokens(("" if first else "\n\n") + header + "\n" + opening + "\n") + count_tokens("\n" + closing)


def _line_section(lines: Sequence[tuple[object, str]], budget: int, label: str) -> tuple[list, str, int]:
    kept_items: list = []
    kept_lines: list[str] = []
    used = count_tokens(fence("", label))
    for item, line in lines:
        size = count_tokens(line) + 1
        if used + size > budget:
            continue
        kept_items.append(item)
        kept_lines.append(line)
        used += size
    while kept_lines:
        block = fence("\n".join(kept_lines), label)
        size = count_tokens(block)
        if size <= budget:
            return kept_items, block, size
        kept_items.pop()
        kept_lines.pop()
    return [], "", 0
