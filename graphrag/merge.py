"""Merge per-chunk extraction records into entities and relations.

The result depends only on the *set* of (chunk id, extraction) records and the resolution
mapping (name key -> entity key), never on their order: that is what makes "delete ==
never indexed" and "any order == same graph" hold. It is computed in two steps: counts per
name key and per pair of name keys (`graphrag.merge_aggregates`, which fold: the stored
counts plus a new chunk's equal the counts over all chunks), then entities and relations
from those counts (`combine_entities`, `combine_relations`). Names, types and keywords are
cleaned of control and bidi characters, whatever the extractor let through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from graphrag.merge_aggregates import (
    UNKNOWN_TYPE,
    NameAggregate,
    PairAggregate,
    name_aggregates,
    normalize_type,
    pair_aggregates,
    ranked,
)
from graphrag.models import Alias, Extraction, normalize_name, relation_key

__all__ = [
    "UNKNOWN_TYPE", "Canonical", "MergedEntity", "MergedRelation", "combine_entities", "combine_relations",
    "merge_entities", "merge_relations", "normalize_type", "record_keys",
]

Canonical = Callable[[str], str]  # name key -> the key of the entity it resolved to


def _identity(key: str) -> str:
    return key


@dataclass(frozen=True)
class MergedEntity:
    key: str
    name: str
    type: str
    fragments: tuple[str, ...]  # distinct descriptions, most frequent first
    source_ids: tuple[str, ...]
    aliases: tuple[Alias, ...] = ()  # the other names resolved to this entity


@dataclass(frozen=True)
class MergedRelation:
    key: str
    source: str
    target: str
    keywords: tuple[str, ...]
    fragments: tuple[str, ...]
    weight: float
    source_ids: tuple[str, ...]


def record_keys(extraction: Extraction) -> tuple[set[str], set[str]]:
    """Entity and relation keys one chunk's extraction supports (relation endpoints included)."""
    entity_keys = {k for k in (normalize_name(e.name) for e in extraction.entities) if k}
    relation_keys: set[str] = set()
    for r in extraction.relations:
        s, t = normalize_name(r.source), normalize_name(r.target)
        if s and t and s != t:
            entity_keys.update((s, t))
            relation_keys.add(relation_key(s, t))
    return entity_keys, relation_keys


def combine_entities(
    names: Mapping[str, NameAggregate], canonical: Canonical | None = None, keys: Iterable[str] | None = None
) -> dict[str, MergedEntity]:
    """Entities by key from the aggregates of their names (each name into the entity it
    resolved to): the canonical name's most frequent spelling (another name's only if it
    has none), the most frequent real type (UNKNOWN only when no row gave one), the
    descriptions by frequency, and every other name as an alias with its chunks."""
    canon = canonical or _identity
    wanted = None if keys is None else set(keys)
    groups: dict[str, list[str]] = {}
    for surface in sorted(names):
        key = canon(surface)
        if wanted is None or key in wanted:
            groups.setdefault(key, []).append(surface)
    merged: dict[str, MergedEntity] = {}
    for key in sorted(groups):
        members = groups[key]
        own = names[key].spellings if key in names and key in members else Counter()
        spellings = own if own else sum((names[s].spellings for s in members if s != key), Counter())
        types: Counter[str] = Counter()
        descriptions: Counter[str] = Counter()
        chunks: set[str] = set()
        for s in members:
            types.update(names[s].types)
            descriptions.update(names[s].descriptions)
            chunks.update(names[s].chunks)
        types.pop(UNKNOWN_TYPE, None)
        aliases = [
            Alias(name=ranked(names[s].spellings)[0], source_ids=tuple(sorted(names[s].chunks)))
            for s in members if s != key
        ]
        merged[key] = MergedEntity(
            key=key,
            name=ranked(spellings)[0],
            type=(ranked(types) or (UNKNOWN_TYPE,))[0],
            fragments=ranked(descriptions),
            source_ids=tuple(sorted(chunks)),
            aliases=tuple(sorted(aliases, key=lambda a: (a.name.casefold(), a.name))),
        )
    return merged


def combine_relations(
    pairs: Mapping[str, PairAggregate], canonical: Canonical | None = None, keys: Iterable[str] | None = None,
    endpoints: Iterable[str] | None = None,
) -> dict[str, MergedRelation]:
    """Relations by key from the aggregates of name pairs, between the entities their names
    resolved to (a pair of two names of one entity is no relation); `keys` or `endpoints`
    (entity keys) select."""
    canon = canonical or _identity
    wanted_keys = None if keys is None else set(keys)
    wanted_ends = None if endpoints is None else set(endpoints)
    groups: dict[tuple[str, str], list[str]] = {}
    for pair in sorted(pairs):
        s, t = pair.split("|", 1)
        a, b = sorted((canon(s), canon(t)))
        if a == b or (wanted_ends is not None and a not in wanted_ends and b not in wanted_ends):
            continue
        if wanted_keys is not None and relation_key(a, b) not in wanted_keys:
            continue
        groups.setdefault((a, b), []).append(pair)
    merged: dict[str, MergedRelation] = {}
    for (a, b), members in sorted(groups.items()):
        weight = Fraction(0)
        keywords: Counter[str] = Counter()
        descriptions: Counter[str] = Counter()
        chunks: set[str] = set()
        for p in members:
            weight += pairs[p].weight
            keywords.update(pairs[p].keywords)
            descriptions.update(pairs[p].descriptions)
            chunks.update(pairs[p].chunks)
        key = relation_key(a, b)
        merged[key] = MergedRelation(
            key=key, source=a, target=b, keywords=ranked(keywords), fragments=ranked(descriptions),
            weight=round(float(weight), 6), source_ids=tuple(sorted(chunks)),
        )
    return merged


def merge_entities(
    records: Mapping[str, Extraction],
    keys: Iterable[str] | None = None,
    canonical: Canonical | None = None,
) -> dict[str, MergedEntity]:
    """Entities by key from the records; with `canonical`, every name is merged into the
    entity it resolved to (see `combine_entities`)."""
    canon = canonical or _identity
    wanted = None if keys is None else set(keys)
    names = name_aggregates(records)
    if wanted is not None:
        names = {s: agg for s, agg in names.items() if canon(s) in wanted}
    return combine_entities(names, canon, wanted)


def merge_relations(
    records: Mapping[str, Extraction],
    keys: Iterable[str] | None = None,
    canonical: Canonical | None = None,
    endpoints: Iterable[str] | None = None,
) -> dict[str, MergedRelation]:
    """Relations by key from the records, between the entities their endpoints resolved
    to; `keys` or `endpoints` (entity keys) select."""
    return combine_relations(pair_aggregates(records), canonical, keys, endpoints)
