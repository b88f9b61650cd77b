"""Vectors composed of segments: a text given as its parts (a relation's keywords, end
names and description fragments) is embedded part by part and the parts' vectors are
averaged, weighted by their length, then L2-normalised: the rule the local embedder already
applies to a text longer than its window, with the cuts at the parts' boundaries instead of
every N tokens.

Why: the graph's texts repeat their parts. Offline, one sentence is the description
fragment of every relation between the names it mentions, and one name ends many
relations; on the MuSiQue dev corpus the relations' whole texts held 920k tokens, their
distinct parts 143k. Embedded as parts, each distinct part is embedded once per call (and
once ever behind the embedding cache, which keys parts like any text). Parts are also known
as soon as a chunk is extracted, before any merge, so they can be embedded while later
chunks are still being extracted (`graphrag.index_prefetch`). An item of one segment is
embedded as it is: its vector is the plain embedding of that text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from graphrag.llm.embed.common import aembed, empty_vectors, normalize_rows

if TYPE_CHECKING:
    from graphrag.llm.base import Embedder

Segments = Sequence[str]


def description_segments(description: str) -> list[str]:
    """A description's fragments: merged descriptions are distinct fragments joined by
    newlines (see graphrag.summarize), so each line is one fragment's text."""
    return [line for line in (part.strip() for part in description.split("\n")) if line]


def distinct_segments(items: Iterable[Segments]) -> list[str]:
    """Every non-empty segment of `items`, once, in first-seen order."""
    return list(dict.fromkeys(s for segments in items for s in segments if s))


def compose(items: Sequence[Segments], vectors: dict[str, np.ndarray], dim: int) -> np.ndarray:
    """One row per item: its segments' vectors weighted by their length (characters: a
    measure every embedder shares) and normalised. An item without segments gets zeros."""
    rows = np.zeros((len(items), dim), dtype=np.float32)
    for row, segments in enumerate(items):
        for segment in segments:
            if segment:
                rows[row] += np.float32(len(segment)) * vectors[segment]
    return normalize_rows(rows)


async def aembed_segments(embedder: "Embedder", items: Sequence[Segments]) -> np.ndarray:
    """Composed vectors of `items` (see the module docstring), embedding each distinct
    segment once, in one call off the event loop (`aembed`)."""
    if not items:
        return empty_vectors(embedder.dim)
    distinct = distinct_segments(items)
    embedded = await aembed(embedder, distinct) if distinct else empty_vectors(embedder.dim)
    return compose(items, dict(zip(distinct, embedded)), embedder.dim)
