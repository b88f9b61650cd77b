"""Embedding ahead of reconcile, while chunks are still being extracted.

Chunk texts are known before extraction starts; the parts relation vectors are composed of
(keywords, names, description fragments: graphrag.llm.embed.segments), and the whole text
of an entity nothing else merges into, as soon as a chunk's extraction record exists. A `VectorPrefetch` embeds
them into the embedding cache in a worker thread (ONNX Runtime and torch compute without
holding the GIL) while the extractor works on the next batch, so reconcile finds most of
its vectors ready: offline, spaCy keeps one core busy and the model the other.

One embedding call runs at a time, taking up to CALL_TEXTS of the texts queued: the texts of
a batch are embedded together (the local embedder sorts them by length), memory stays
bounded, and the extractor keeps a core. A prediction that reconcile does not use (a merge
that renamed an entity) only costs its embedding; a failure only costs the head start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from graphrag.llm.base import Embedder
from graphrag.llm.embed.common import aembed
from graphrag.llm.embed.segments import description_segments
from graphrag.models import Extraction

log = logging.getLogger(__name__)

# Texts per embedding call: a call holds its texts' token ids and vectors until it ends, and
# the texts queued while a long call ran (every batch's parts during the chunk texts' call)
# would otherwise make one very large call.
CALL_TEXTS = 1024


def record_segments(record: Extraction, names_seen: set[str] | None = None) -> list[str]:
    """What the vectors of a record's entities and relations will likely be composed of
    (see `graphrag.reconcile.entity_vector_segments` and `relation_vector_segments`): an
    entity's text as if no other fragment merges into it (most entities), a relation's
    keywords, names and description fragments as extracted. An entity whose name is in
    `names_seen` (case-insensitively; the set is updated) is left out: a name met again will
    have several fragments, so that guess would be wasted (on MuSiQue, guessing every
    mention wasted 5,839 entity texts, about 220k tokens)."""
    out: list[str] = []
    for entity in record.entities:  # an entity's whole text, as it is when nothing merges into it
        if names_seen is not None:
            key = entity.name.casefold()
            if key in names_seen:
                continue
            names_seen.add(key)
        out.append(f"{entity.name}\n{entity.description}".strip())
    for relation in record.relations:
        out += relation.keywords
        out += (relation.source, relation.target)
        out += description_segments(relation.description)
    return out


class VectorPrefetch:
    """Embeds queued texts into a caching embedder's cache, one call at a time, in the
    order queued; each distinct text at most once."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._queued: list[str] = []
        self._seen: set[str] = set()
        self._names: set[str] = set()  # entity names met in records so far, casefolded
        self._task: asyncio.Task[None] | None = None
        self.embedded = 0  # texts sent to the embedder (cache hits included)
        self.failed: BaseException | None = None

    def add(self, texts: Iterable[str]) -> None:
        """Queues the texts not queued before; starts the worker if it is idle."""
        for text in texts:
            if text and text not in self._seen:
                self._seen.add(text)
                self._queued.append(text)
        if self._queued and self.failed is None and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain())

    def add_records(self, records: Iterable[Extraction]) -> None:
        self.add(s for record in records for s in record_segments(record, self._names))

    async def _drain(self) -> None:
        while self._queued and self.failed is None:
            texts, self._queued = self._queued[:CALL_TEXTS], self._queued[CALL_TEXTS:]
            try:
                await aembed(self.embedder, texts)
            except Exception as error:  # noqa: BLE001 - reconcile embeds again and reports it there
                self.failed = error
                log.info("embedding ahead of reconcile failed (%s); reconcile will embed the texts", error)
            else:
                self.embedded += len(texts)

    async def finish(self, *, drop_queued: bool = False) -> None:
        """Waits until every queued text is embedded (or the worker failed); with
        `drop_queued` (a failed run), only for the call already running (a worker thread
        cannot be interrupted)."""
        if drop_queued:
            self._queued.clear()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
