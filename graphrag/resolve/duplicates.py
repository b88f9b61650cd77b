"""How fragmented a graph is: the share of entities that are a strict word-subset or a
near-identical string of another entity of the same type ("Bob" and "Bob Cratchit",
"Cratchit" and "Cratchits").

The share also counts names that differ only by a number, which are distinct things
("26th" / "36th Chess Olympiad", "April 1862" / "April 1868", "December 2015" / "16
December 2015"): the report says how many duplicates are only that, for a second figure
beside the headline one.

Candidates come from a word index and a prefix index, so the cost grows with the entities
and the sizes of their blocks, not with all pairs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz

NEAR_IDENTICAL = 90.0  # rapidfuzz ratio, 0..100
_MAX_BLOCK = 2000  # a prefix shared by more names than this is no evidence of anything
_ROMAN = re.compile(r"^(?=[ivxlc])c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")


@dataclass(frozen=True)
class DuplicateReport:
    entities: int
    duplicates: int  # entities that have a near-duplicate of the same type
    examples: list[tuple[str, str]]  # (entity, the entity it duplicates), a few
    number_only: int = 0  # ... of which every near-duplicate differs from it only by a number

    @property
    def share(self) -> float:
        return self.duplicates / self.entities if self.entities else 0.0

    @property
    def share_without_numbers(self) -> float:
        """The share without the duplicates that differ only by a number (distinct dates,
        numbered series): a second figure, never the headline."""
        return (self.duplicates - self.number_only) / self.entities if self.entities else 0.0

    def to_dict(self) -> dict:
        return {
            "entities": self.entities, "duplicates": self.duplicates, "share": round(self.share, 4),
            "number_only": self.number_only, "share_without_numbers": round(self.share_without_numbers, 4),
        }


def numeric_word(word: str) -> bool:
    """A word with a digit, or a Roman numeral ("xiv", "iii")."""
    return any(ch.isdigit() for ch in word) or bool(_ROMAN.match(word))


def differ_by_number(a: str, b: str) -> bool:
    """Every word one key has and the other lacks is a number: "1 may 1934" / "1 may 1945",
    "chess olympiad" / "1988 chess olympiad", "albert ii" / "albert iii"."""
    diff = set(a.split()) ^ set(b.split())
    return bool(diff) and all(numeric_word(w) for w in diff)


def duplicate_report(entities: Iterable[tuple[str, str]], max_examples: int = 20) -> DuplicateReport:
    """`entities`: (key, type) pairs, key as `models.normalize_name` gives it."""
    entities = list(entities)
    total = len({(key, t) for key, t in entities if key})
    dupes = number_only = 0
    examples: list[tuple[str, str]] = []
    for key, others, _ in _duplicates(entities):
        dupes += 1
        number_only += all(differ_by_number(key, o) for o in others)
        if len(examples) < max_examples:
            examples.append((key, others[0]))
    return DuplicateReport(entities=total, duplicates=dupes, examples=examples, number_only=number_only)


def duplicate_pairs(entities: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str, str]]:
    """(entity, one entity of the same type it duplicates, type) for every duplicate entity,
    by type then key: what `duplicate_report` counts, for a person to read through. The
    entity shown is one that differs by more than a number where there is one."""
    for key, others, entity_type in _duplicates(entities):
        yield key, next((o for o in others if not differ_by_number(key, o)), others[0]), entity_type


def _duplicates(entities: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str], str]]:
    by_type: dict[str, set[str]] = defaultdict(set)
    for key, entity_type in entities:
        if key:
            by_type[entity_type].add(key)
    for entity_type, keys in sorted(by_type.items()):
        words_of = {k: frozenset(k.split()) for k in keys}
        postings: dict[str, set[str]] = defaultdict(set)
        prefixes: dict[str, set[str]] = defaultdict(set)
        for k, words in words_of.items():
            for w in words:
                postings[w].add(k)
                prefixes[w[:3]].add(k)
        for k in sorted(keys):
            others = _duplicates_of(k, words_of, postings, prefixes)
            if others:
                yield k, others, entity_type


def _duplicates_of(
    key: str,
    words_of: dict[str, frozenset[str]],
    postings: dict[str, set[str]],
    prefixes: dict[str, set[str]],
) -> list[str]:
    """The entities `key` duplicates, by kind (word-supersets first) then key."""
    words = words_of[key]
    lists = sorted((postings[w] for w in words), key=len)
    found = [o for o in (sorted(set.intersection(*lists)) if lists else []) if o != key and words < words_of[o]]
    near: set[str] = set()
    for w in words:
        block = prefixes[w[:3]]
        if len(block) > _MAX_BLOCK:
            continue
        near |= {o for o in block if o != key and fuzz.ratio(key, o) >= NEAR_IDENTICAL}
    return found + sorted(near - set(found))
