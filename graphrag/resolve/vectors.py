"""Name vectors: one vector per live name key in the workspace's vector store (table
`names`), for candidates that share no word or spelling ("USA" / "United States",
"Holland" / "Netherlands").

The text embedded is the name key alone (the entity vectors are name + description, which
change with every passage): a name's vector never changes, so it is embedded once, when the
name first appears, and removed with the name's last mention.

Candidates are a radius, not a top-k: two names are near when their cosine is at least
`threshold`, a symmetric relation of the two names alone, so indexing A then B gives the
pairs B then A gives. A name with more than `cap` names within the radius ("Company",
"Museum" among a crowd of look-alikes) is crowded and takes no vector candidates; whether it
is crowded changes when a name enters or leaves its radius, which is why the resolver
scores again the names within the radius of every name that appeared or went away.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

from graphrag.llm.base import Embedder
from graphrag.llm.embed.common import aembed
from graphrag.stores.base import VectorRow, VectorStore

log = logging.getLogger(__name__)
NAMES_TABLE = "names"
_RADIUS_LIMIT = 1_000  # rows read per name within the radius; a crowd beyond this is crowded anyway


class NameVectors:
    def __init__(self, vectors: VectorStore, embedder: Embedder, *, threshold: float, cap: int) -> None:
        self.vectors = vectors
        self.embedder = embedder
        self.threshold = threshold
        self.cap = cap

    async def add(self, keys: Iterable[str]) -> int:
        """Embeds the names that have no vector yet, in one call (names are short: batched by
        the embedder, never one call per name). Returns how many were embedded."""
        keys = sorted(set(keys))
        if not keys:
            return 0
        held = self.vectors.get(NAMES_TABLE, keys)
        missing = [k for k in keys if k not in held]
        if missing:
            vectors = await aembed(self.embedder, missing)
            self.vectors.upsert(NAMES_TABLE, [VectorRow(id=k, vector=v, text=k) for k, v in zip(missing, vectors)])
        return len(missing)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self.vectors.delete(NAMES_TABLE, keys)

    def near(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        """Each name's neighbours within the radius (other name -> cosine), in one batched
        search. A name without a vector has none."""
        held = self.vectors.get(NAMES_TABLE, sorted(set(keys)))
        if not held:
            return {}
        order = sorted(held)
        matrix = np.stack([np.asarray(held[k].vector, dtype=np.float32) for k in order])
        hits = self.vectors.search_many(NAMES_TABLE, matrix, _RADIUS_LIMIT, min_score=self.threshold)
        out: dict[str, dict[str, float]] = {}
        for key, found in zip(order, hits):
            if len(found) >= _RADIUS_LIMIT:
                log.warning("%r has %d or more names within the radius of %.2f: some are not seen",
                            key, _RADIUS_LIMIT, self.threshold)
            out[key] = {h.id: round(h.score, 4) for h in found if h.id != key and h.score >= self.threshold}
        return out

    def crowded(self, near: dict[str, float]) -> bool:
        return len(near) > self.cap
