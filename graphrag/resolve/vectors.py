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

Name vectors are kept only while they are used (by default, while a chat model judges the
uncertain pairs): offline, a pair only the vectors find is never merged, and embedding every
name cost more than the issue allows resolution (README Entity resolution). An update that
runs without them marks the table incomplete; the next update with them back-fills it (the
names that came meanwhile, or every name of a workspace from before name vectors) and has
the names whose radius that changes scored again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import numpy as np

from graphrag.llm.base import Embedder
from graphrag.llm.embed.common import aembed
from graphrag.resolve.store import SQLiteResolutionStore
from graphrag.stores.base import VectorRow, VectorStore

log = logging.getLogger(__name__)
NAMES_TABLE = "names"
_RADIUS_LIMIT = 1_000  # rows read per name within the radius; a crowd beyond this is crowded anyway
_COMPLETE = "name_vectors"  # meta key: the embedder whose vectors every live name has
_BACKFILL = "name_vectors_backfill"  # meta key: the names a back-fill embeds (kept until it is done)


def mark_incomplete(store: SQLiteResolutionStore) -> None:
    """Names changed while name vectors were off: the table no longer covers every name."""
    if store.get_meta(_COMPLETE) is not None:
        store.set_meta(_COMPLETE, None)


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

    def due(self, store: SQLiteResolutionStore) -> bool:
        """Whether some live name may lack its vector (see the module's note)."""
        return store.get_meta(_COMPLETE) != self.embedder.model_id

    async def backfill(self, store: SQLiteResolutionStore) -> set[str]:
        """Embeds every live name that has no vector and drops the vectors of names gone
        meanwhile. Returns the names whose radius the new vectors entered (and those names):
        their pairs and crowds must be scored again. The names to embed are written down
        first, so a crash half-way back-fills the same names again, not only the rest."""
        live = store.all_keys()
        held = self.vectors.ids(NAMES_TABLE)
        self.delete(held - live)
        written = store.get_meta(_BACKFILL)
        missing = (set(json.loads(written)) if written is not None else live - held) & live
        if written is None:
            store.set_meta(_BACKFILL, json.dumps(sorted(missing)))
        if missing:
            log.info("embedding the names of %d entities for name-vector candidates", len(missing))
            await self.add(missing)
        found = self.near(missing)
        return {k for k, near in found.items() if near}.union(*found.values())

    def complete(self, store: SQLiteResolutionStore) -> None:
        """Every live name has its vector and the pairs they give are scored."""
        store.set_meta(_BACKFILL, None)
        store.set_meta(_COMPLETE, self.embedder.model_id)
