"""Evidence beyond the strings: what a name is mentioned with and how it is described.

For each name, read from its first chunks by id (a function of its live chunks, not of the
order they arrived in):

- its **neighbours**: the other names its chunks mention (co-mention);
- its **description words**: the content words of the extractors' descriptions of it.

Two names are **supported** as one by the neighbours they share (the two names themselves,
and the names that compete for the short one, left out) and by the cosine of their
description words. Used twice, conservatively (co-mention alone made a wrong merge:
"Columbia" -> "Columbia International University", README "Tried and not kept"):

- a short name several incompatible long names extend ("Bowie": David, James) takes the
  one candidate that shares at least `MIN_SHARED` neighbours with it while no other shares
  any, and whose descriptions are the closest and at least `MIN_DESCRIPTION`; a crowd of
  them (more than the resolver's `MAX_ASKED`) is not read, and the short name stays apart;
- two names only their vectors bring together are at most uncertain: for the chat model or
  a person, never merged on this evidence alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from graphrag.models import Extraction, normalize_name
from graphrag.stores.base import StateStore

EVIDENCE_CHUNKS = 32  # chunks read per name (the first by id)
MIN_SHARED = 2  # neighbours the chosen long name must share with the short one
MIN_DESCRIPTION = 0.2  # ... and the cosine of their description words
_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_STOP = frozenset(
    "the and for with that this from was were are has had have his her its their they them she him who whom "
    "which what when where into also been being not but than then there these those after before about over "
    "under between during while would could should will can may one two first later other such many most more".split()
)


@dataclass(frozen=True)
class NameEvidence:
    neighbours: frozenset[str]
    words: Mapping[str, int]


@dataclass(frozen=True)
class Support:
    shared: int  # neighbours the two names share
    description: float  # cosine of their description words

    def as_evidence(self) -> dict:
        return {"shared_neighbours": self.shared, "description": round(self.description, 3)}


LoadRecords = Callable[[set[str]], dict[str, Extraction]]
EvidenceOf = Callable[[set[str]], Mapping[str, NameEvidence]]


def name_evidence(state: StateStore, load_records: LoadRecords, keys: set[str]) -> dict[str, NameEvidence]:
    if not keys:
        return {}
    chosen = {k: sorted(c)[:EVIDENCE_CHUNKS] for k, c in state.chunks_for_entities(keys).items()}
    records = load_records(set().union(*chosen.values()) if chosen else set())
    out = {}
    for key, chunk_ids in chosen.items():
        neighbours: set[str] = set()
        words: Counter[str] = Counter()
        for chunk_id in chunk_ids:
            ext = records.get(chunk_id)
            for e in ext.entities if ext else ():
                other = normalize_name(e.name)
                if other != key:
                    neighbours.add(other)
                elif e.description:
                    words.update(w for w in _WORD.findall(e.description.lower()) if w not in _STOP)
        out[key] = NameEvidence(frozenset(neighbours), words)
    return out


def support(a: NameEvidence | None, b: NameEvidence | None, leave_out: Iterable[str]) -> Support:
    """How much the two names' contexts agree; `leave_out`: the names compared (and their
    rivals), whose own words and mentions say nothing about which is which."""
    if a is None or b is None:
        return Support(0, 0.0)
    left = set(leave_out)
    shared = len((a.neighbours & b.neighbours) - left)
    drop = {w for name in left for w in name.split()}
    wa = {w: n for w, n in a.words.items() if w not in drop}
    wb = {w: n for w, n in b.words.items() if w not in drop}
    dot = sum(n * wb.get(w, 0) for w, n in wa.items())
    norm = math.sqrt(sum(n * n for n in wa.values()) * sum(n * n for n in wb.values()))
    return Support(shared, dot / norm if norm else 0.0)


def clearly_best(short: NameEvidence | None, supports: Mapping[str, Support]) -> str | None:
    """The one candidate the contexts single out, or None: it shares `MIN_SHARED` neighbours
    with the short name and no rival shares any, and its descriptions are the closest (by a
    clear margin) and close enough. Never one a passage names beside the short name: the
    extractor makes a short name the full name its passage gives it, so a passage that
    keeps both apart ("Columbia", the city, beside "Columbia International University")
    says they differ."""
    if len(supports) < 2 or short is None:
        return None
    ranked = sorted(supports.items(), key=lambda kv: (-kv[1].shared, -kv[1].description, kv[0]))
    (best, s), rivals = ranked[0], [v for _, v in ranked[1:]]
    if s.shared < MIN_SHARED or any(r.shared for r in rivals) or s.description < MIN_DESCRIPTION:
        return None
    if co_mentioned(short, best):
        return None
    if any(r.description >= s.description / 2 for r in rivals):
        return None
    return best


def co_mentioned(a: NameEvidence | None, other: str) -> bool:
    return a is not None and other in a.neighbours


def supported(s: Support) -> bool:
    """Enough for a pair that only vectors brought together to be worth a judge's time."""
    return s.shared >= 1 or s.description >= MIN_DESCRIPTION
