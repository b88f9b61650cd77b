"""What merging needs to know of each name and each pair of names, as counts that fold.

A name key's aggregate holds, over the chunks that mention it, the chunk ids (with their
text hashes), the count of every spelling, type and description; a pair of name keys'
aggregate the chunks, the exact sum of weights, the count of every keyword and
description. Merged entities and relations (`graphrag.merge`) are a function of these
aggregates and the resolution mapping alone, and an aggregate of two disjoint sets of
chunks is the sum of theirs: so folding a new chunk's records into a stored aggregate
gives, word for word, what rebuilding it from every chunk's records gives. The
difference holds too: taking a chunk's records out of an aggregate (`unfold`, for a
deleted or edited document) gives what rebuilding it from the remaining chunks gives.

Rows of a name come only from chunks whose record mentions it as `record_keys` indexes
it (an entity, or an endpoint of a relation between two different names), so an
aggregate is exactly a function of the name's live chunks in the state store.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from graphrag.models import Extraction, clean_text, normalize_name, relation_key

UNKNOWN_TYPE = "UNKNOWN"


def normalize_type(raw: str) -> str:
    cleaned = "_".join(clean_text(raw).upper().replace("-", " ").split())
    return cleaned or UNKNOWN_TYPE


@dataclass
class NameAggregate:
    """One name key over its chunks (see the module docstring)."""

    chunks: dict[str, str] = field(default_factory=dict)  # chunk id -> its text hash
    spellings: Counter[str] = field(default_factory=Counter)  # cleaned names, entity and endpoint rows
    votes: Counter[str] = field(default_factory=Counter)  # stripped names of entity rows (endpoints: 0)
    types: Counter[str] = field(default_factory=Counter)  # normalized types of entity rows
    descriptions: Counter[str] = field(default_factory=Counter)
    # Rows (entity and endpoint) per stripped name: a name stays in `votes`, with 0 votes,
    # while some chunk still names it, which counts alone cannot tell once chunks are taken
    # out. None in rows stored before it existed: such an aggregate folds but cannot unfold.
    mentions: Counter[str] | None = field(default_factory=Counter)

    def fold(self, other: NameAggregate) -> None:
        self.chunks.update(other.chunks)
        self.spellings.update(other.spellings)
        for name, n in other.votes.items():  # update() would drop the zero counts
            self.votes[name] += n
        self.types.update(other.types)
        self.descriptions.update(other.descriptions)
        if self.mentions is not None and other.mentions is not None:
            self.mentions.update(other.mentions)
        else:
            self.mentions = None

    def unfold(self, other: NameAggregate) -> bool:
        """Takes out `other`, the aggregate of some of this one's chunks; False (and nothing
        changed) when this one does not hold them as `other` counts them."""
        if self.mentions is None or other.mentions is None:
            return False
        counters = ((self.spellings, other.spellings), (self.votes, other.votes), (self.types, other.types),
                 (self.descriptions, other.descriptions), (self.mentions, other.mentions))
        if not other.chunks.keys() <= self.chunks.keys() or not all(_holds(m, t) for m, t in counters):
            return False
        for mine, theirs in counters:
            _subtract(mine, theirs, keep_zero=mine is self.votes)
        for name in [v for v in self.votes if v not in self.mentions]:
            del self.votes[name]  # no chunk names it any more (a 0 vote is a name still named)
        for chunk_id in other.chunks:
            del self.chunks[chunk_id]
        return True

    def to_json(self) -> str:
        raw = {"c": self.chunks, "s": self.spellings, "v": self.votes, "t": self.types, "d": self.descriptions}
        if self.mentions is not None:
            raw["m"] = self.mentions
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NameAggregate:
        raw = json.loads(text)
        mentions = Counter(raw["m"]) if "m" in raw else None
        return cls(raw["c"], Counter(raw["s"]), Counter(raw["v"]), Counter(raw["t"]), Counter(raw["d"]), mentions)


@dataclass
class PairAggregate:
    """One pair of name keys (a relation before resolution) over its chunks."""

    chunks: dict[str, str] = field(default_factory=dict)
    weight: Fraction = Fraction(0)  # exact: a float sum would depend on the order of the chunks
    keywords: Counter[str] = field(default_factory=Counter)
    descriptions: Counter[str] = field(default_factory=Counter)

    def fold(self, other: PairAggregate) -> None:
        self.chunks.update(other.chunks)
        self.weight += other.weight
        self.keywords.update(other.keywords)
        self.descriptions.update(other.descriptions)

    def unfold(self, other: PairAggregate) -> bool:
        """As `NameAggregate.unfold`."""
        counters = ((self.keywords, other.keywords), (self.descriptions, other.descriptions))
        # No test on the weight: a record may weigh less than 0, and Fraction subtracts exactly.
        if not other.chunks.keys() <= self.chunks.keys() or not all(_holds(m, t) for m, t in counters):
            return False
        for mine, theirs in counters:
            _subtract(mine, theirs)
        self.weight -= other.weight
        for chunk_id in other.chunks:
            del self.chunks[chunk_id]
        return True

    def to_json(self) -> str:
        return json.dumps(
            {"c": self.chunks, "w": [self.weight.numerator, self.weight.denominator], "k": self.keywords,
             "d": self.descriptions},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> PairAggregate:
        raw = json.loads(text)
        return cls(raw["c"], Fraction(*raw["w"]), Counter(raw["k"]), Counter(raw["d"]))


def _holds(counts: Mapping[str, int], taken: Mapping[str, int]) -> bool:
    return all(k in counts and counts[k] >= n for k, n in taken.items())


def _subtract(counts: Counter[str], taken: Mapping[str, int], *, keep_zero: bool = False) -> None:
    for k, n in taken.items():
        counts[k] -= n
        if counts[k] <= 0 and not keep_zero:
            del counts[k]


def name_aggregates(
    records: Mapping[str, Extraction], names: Iterable[str] | None = None, text_hashes: Mapping[str, str] | None = None
) -> dict[str, NameAggregate]:
    """Aggregates of the name keys in `names` (all when None) over `records` (chunk id ->
    record); `text_hashes` gives each chunk's text hash (stored so a replaced record is seen)."""
    wanted = None if names is None else set(names)
    hashes = text_hashes or {}
    out: dict[str, NameAggregate] = {}

    def row(surface: str, chunk_id: str) -> NameAggregate:
        agg = out.get(surface)
        if agg is None:
            agg = out[surface] = NameAggregate()
        agg.chunks[chunk_id] = hashes.get(chunk_id, "")
        return agg

    for chunk_id, ext in records.items():
        for e in ext.entities:
            surface = normalize_name(e.name)
            if surface and (wanted is None or surface in wanted):
                agg = row(surface, chunk_id)
                agg.spellings[clean_text(e.name)] += 1
                agg.votes[e.name.strip()] += 1
                agg.mentions[e.name.strip()] += 1  # type: ignore[index]  # built fresh: never None
                agg.types[normalize_type(e.type)] += 1
                description = clean_text(e.description, single_line=False).strip()
                if description:
                    agg.descriptions[description] += 1
        # An endpoint the extractor forgot to list is still an entity, with no type or description.
        for r in ext.relations:
            s, t = normalize_name(r.source), normalize_name(r.target)
            if not s or not t or s == t:
                continue  # not indexed as a mention (record_keys): the name's chunks must agree
            for name, surface in ((r.source, s), (r.target, t)):
                if wanted is None or surface in wanted:
                    agg = row(surface, chunk_id)
                    agg.spellings[clean_text(name)] += 1
                    agg.votes[name.strip()] += 0  # a spelling, but no vote
                    agg.mentions[name.strip()] += 1  # type: ignore[index]
    return out


def pair_aggregates(
    records: Mapping[str, Extraction],
    pairs: Iterable[str] | None = None,
    text_hashes: Mapping[str, str] | None = None,
    *,
    touching: Iterable[str] | None = None,
) -> dict[str, PairAggregate]:
    """Aggregates of the name-key pairs (`relation_key` of two name keys) in `pairs`, or of
    every pair with a name in `touching`, or of all pairs, over `records`."""
    wanted = None if pairs is None else set(pairs)
    near = None if touching is None else set(touching)
    hashes = text_hashes or {}
    out: dict[str, PairAggregate] = {}
    for chunk_id, ext in records.items():
        for r in ext.relations:
            s, t = normalize_name(r.source), normalize_name(r.target)
            if not s or not t or s == t:
                continue
            if near is not None and s not in near and t not in near:
                continue  # most of a hub's chunks' relations are not asked for
            key = relation_key(s, t)
            if wanted is not None and key not in wanted:
                continue
            agg = out.get(key)
            if agg is None:
                agg = out[key] = PairAggregate()
            agg.chunks[chunk_id] = hashes.get(chunk_id, "")
            agg.weight += Fraction(float(r.weight))
            agg.keywords.update({k for k in (clean_text(k).lower() for k in r.keywords) if k})
            description = clean_text(r.description, single_line=False).strip()
            if description:
                agg.descriptions[description] += 1
    return out


def ranked(counts: Mapping[str, int]) -> tuple[str, ...]:
    """The values by count desc, then value asc."""
    return tuple(v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
