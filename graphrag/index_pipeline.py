"""Summaries pipelined with extraction: documents whose chunks are all extracted are
committed and reconciled (merged, resolved, summarized, written, embedded) while later
chunks are still being extracted, so summary calls share the chat model's concurrency with
extraction calls instead of waiting for a phase of their own after the last chunk.

One settling task does the commits and reconciles, one round at a time: a round takes every
document that became ready since the last one (once they hold an extraction batch's worth
of chunks, or a tenth of the run's, whichever is more), commits them (which journals the keys they
touch) and reconciles the journal. Commits never interleave with a reconcile, so a
reconcile clears exactly the journal entries it rebuilt; a crash anywhere leaves the rest
journaled (or unextracted, with every extracted text stored), and the next run converges
as it does without pipelining. That run reconciles the journal it finds in its own rounds
(`GraphRAG.index` does not settle it first), so the deferral below applies to it too and
it converges to what an uninterrupted run gives, word for word.

An entity or relation that needs a summary while a chunk not yet extracted still mentions
one of its names keeps its offline description in that round and stays journaled; the
round where no waiting chunk mentions it any more summarizes it from all of this run's
fragments. So a summary is made once per run, from the fragments a phase-by-phase run
would use, and the graph is the same word for word (`tests/test_index_pipeline.py`); only
an entity the extractor names without the text spelling it out can be summarized early and
then folded or rebuilt again. The price: each round is a reconcile (merge, writes, vectors)
of its own, and the uncertain name pairs of each round are judged in calls of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from graphrag.index_report import IndexReport, timed
from graphrag.models import Chunk, Document, Extraction
from graphrag.reconcile import Deferral

if TYPE_CHECKING:
    from graphrag.indexer import Indexer

OnExtracted = Callable[[dict[str, "Extraction | Exception"]], None]


# At most about this many rounds before the last one: each costs a reconcile's own work
# and may cost a call judging name pairs that one round at the end would have batched.
MAX_EARLY_ROUNDS = 10


class _Rounds:
    """Documents waiting for the settling task, and whether extraction is over."""

    def __init__(self, docs: Sequence[Document], chunks_by_doc: dict[str, list[Chunk]], min_chunks: int) -> None:
        self.chunks_by_doc = chunks_by_doc
        self.min_chunks = min_chunks  # an early round waits until its documents hold this many chunks
        self.waiting = {doc.id: doc for doc in docs}
        self.ready: list[Document] = []
        self.results: dict[str, Extraction | Exception] = {}  # by chunk id, of ready documents
        self.extraction_over = False
        self.wake = asyncio.Event()

    def on_extracted(self, by_hash: dict[str, Extraction | Exception]) -> None:
        """Moves every waiting document whose chunk texts all have a result to `ready`."""
        for doc_id, doc in list(self.waiting.items()):
            chunks = self.chunks_by_doc[doc_id]
            if all(c.text_hash in by_hash for c in chunks):
                self.results.update({c.id: by_hash[c.text_hash] for c in chunks})
                self.ready.append(doc)
                del self.waiting[doc_id]
                self.wake.set()

    def still_mentioned(self) -> Deferral:
        """Whether a name occurs in a chunk not extracted yet (case-insensitively, as a
        substring): only then can a later round bring it fragments. An extractor may still
        name an entity a chunk does not spell out; that costs a later fold or rebuild of
        its summary, never a wrong graph."""
        remaining = "\n".join(c.text for doc_id in self.waiting for c in self.chunks_by_doc[doc_id]).casefold()

        def mentioned(names: Sequence[str]) -> bool:
            return any(name.casefold() in remaining for name in names if name)

        return mentioned

    def finish(self) -> None:
        self.extraction_over = True
        self.wake.set()

    def take(self) -> list[Document]:
        """The ready documents, once they make a round: all of them at the end, else at
        least `min_chunks` chunks' worth (nothing yet otherwise)."""
        if not self.extraction_over and sum(len(self.chunks_by_doc[d.id]) for d in self.ready) < self.min_chunks:
            return []
        taken, self.ready = self.ready, []
        return taken


async def process_pipelined(indexer: "Indexer", docs: Sequence[Document], report: IndexReport) -> None:
    """`Indexer.process` followed by reconcile, with the documents' reconcile rounds running
    while later chunks are still extracted (see the module docstring). On return every
    document is committed (or recorded failed) and the journal is reconciled."""
    chunks_by_doc = indexer.chunk_documents(docs, report)
    all_chunks = [c for cs in chunks_by_doc.values() for c in cs]
    rounds = _Rounds(docs, chunks_by_doc, max(indexer.extraction_batch, -(-len(all_chunks) // MAX_EARLY_ROUNDS)))

    async def settle() -> None:
        while True:
            await rounds.wake.wait()
            rounds.wake.clear()
            over = rounds.extraction_over  # read before taking: nothing is added after it is set
            ready = rounds.take()
            if ready:
                indexer.commit_documents(ready, chunks_by_doc, rounds.results, report)
                with timed(report, "reconcile"):
                    if over or not rounds.waiting:  # the last round: every fragment of this run is in
                        await indexer.areconcile()
                    else:
                        await indexer.areconcile(None, rounds.still_mentioned())
            if over:
                return

    settling = asyncio.create_task(settle())
    prefetch = indexer.prefetch_vectors([c.text for c in all_chunks])
    failed = True
    try:
        with timed(report, "extract"):
            await indexer._extract_all(
                all_chunks, report, on_batch=_stop_if_failed(settling, rounds.on_extracted), prefetch=prefetch
            )
        rounds.finish()
        await settling
        failed = False
    finally:
        if not settling.done():
            settling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await settling
        elif not settling.cancelled():
            settling.exception()  # raised already (or here, from `await settling`): not an unretrieved error
        if prefetch is not None:
            await prefetch.finish(drop_queued=failed)


def _stop_if_failed(settling: "asyncio.Task[None]", on_extracted: OnExtracted) -> OnExtracted:
    """`on_extracted`, raising the settling task's error first once it failed (extraction
    stops at the next batch instead of running on for a run that cannot finish)."""

    def call(by_hash: dict[str, Extraction | Exception]) -> None:
        if settling.done() and not settling.cancelled() and (error := settling.exception()) is not None:
            raise error
        on_extracted(by_hash)

    return call
