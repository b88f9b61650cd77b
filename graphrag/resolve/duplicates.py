"""How fragmented a graph is: the share of entities that are a strict word-subset or a
near-identical string of another entity of the same type ("Bob" and "Bob Cratchit",
"Cratchit" and "Cratchits").

Candidates come from a word index and a prefix index, so the cost grows with the entities
and the sizes of their blocks, not with all pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

NEAR_IDENTICAL = 90.0  # rapidfuzz ratio, 0..100
_MAX_BLOCK = 2000  # a prefix shared by more names than this is no evidence of anything


@dataclass(frozen=True)
class DuplicateReport:
    entities: int
    duplicates: int  # entities that have a near-duplicate of the same type
    examples: list[tuple[str, str]]  # (entity, the entity it duplicates), a few

    @property
    def share(self) -> float:
        return self.duplicates / self.entities if self.entities else 0.0

    def to_dict(self) -> dict:
        return {"entities": self.entities, "duplicates": self.duplicates, "share": round(self.share, 4)}


def duplicate_report(entities: Iterable[tuple[str, str]], max_examples: int = 20) -> DuplicateReport:
    """`entities`: (key, type) pairs, key as `models.normalize_name` gives it."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for key, entity_type in entities:
        if key:
            by_type[entity_type].add(key)
    total = sum(len(keys) for keys in by_type.values())
    dupes = 0
    examples: list[tuple[str, str]] = []
    for keys in by_type.values():
        words_of = {k: frozenset(k.split()) for k in keys}
        postings: dict[str, set[str]] = defaultdict(set)
        prefixes: dict[str, set[str]] = defaultdict(set)
        for k, words in words_of.items():
            for w in words:
                postings[w].add(k)
                prefixes[w[:3]].add(k)
        for k in sorted(keys):
            other = _duplicate_of(k, words_of, postings, prefixes)
            if other is not None:
                dupes += 1
                if len(examples) < max_examples:
                    examples.append((k, other))
    return DuplicateReport(entities=total, duplicates=dupes, examples=examples)


def _duplicate_of(
    key: str,
    words_of: dict[str, frozenset[str]],
    postings: dict[str, set[str]],
    prefixes: dict[str, set[str]],
) -> str | None:
    words = words_of[key]
    lists = sorted((postings[w] for w in words), key=len)
    for other in sorted(set.intersection(*lists)) if lists else []:
        if other != key and words < words_of[other]:
            return other
    seen: set[str] = set()
    for w in words:
        block = prefixes[w[:3]]
        if len(block) > _MAX_BLOCK:
            continue
        for other in block - seen:
            if other != key and fuzz.ratio(key, other) >= NEAR_IDENTICAL:
                return other
        seen |= block
    return None
