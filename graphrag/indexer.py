"""Incremental indexing: diff sources against the state store, extract only new chunk texts,
and reconcile the graph and vector stores with the state.

The state store is the source of truth; the graph and vectors are derived from it. Every
change first journals the keys it touches ("pending"), then changes the state, then
`reconcile` rebuilds exactly those keys from the stored extraction records and clears them.
A crash anywhere leaves the journal behind, so running again converges to the same state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from graphrag.budget import TokenBudget, process_within_budget
from graphrag.cost import chunks_to_extract
from graphrag.extract.base import Extractor
from graphrag.index_pipeline import process_pipelined
from graphrag.index_prefetch import VectorPrefetch
from graphrag.index_plan import plan_sources, record_plan
from graphrag.index_report import IndexPlan, IndexReport, ProgressCallback, placeholder_id, timed
from graphrag.ingest.chunk import chunk_document
from graphrag.llm.base import ChatModel, Embedder, Usage
from graphrag.llm.embed.cache import CachingEmbedder
from graphrag.merge import record_keys
from graphrag.models import Chunk, Document, DocumentRecord, Extraction
from graphrag.reconcile import (  # noqa: F401 - re-exported: the indexer's public names
    CHUNKS_TABLE,
    ENTITIES_TABLE,
    GENERATION_KEY,
    RELATIONS_TABLE,
    Deferral,
    Reconciler,
)
from graphrag.progress import with_describe_progress, with_embed_progress
from graphrag.settings import Settings
from graphrag.stores.base import GraphStore, StateStore, VectorStore
from graphrag.summarize import DescriptionSummarizer

if TYPE_CHECKING:
    from graphrag.resolve.resolver import EntityResolver

log = logging.getLogger(__name__)

__all__ = [
    "CHUNKS_TABLE", "ENTITIES_TABLE", "GENERATION_KEY", "RELATIONS_TABLE",
    "IndexPlan", "IndexReport", "Indexer", "ProgressCallback", "REMOVING_KEY", "placeholder_id",
]

T = TypeVar("T")
ExtractedCallback = Callable[[dict[str, "Extraction | Exception"]], None]  # results by chunk text hash
REMOVING_KEY = "removing:"  # + source -> id of the document whose removal is journaled


class Indexer:
    def __init__(
        self,
        settings: Settings,
        *,
        state: StateStore,
        graph: GraphStore,
        vectors: VectorStore,
        extractor: Extractor,
        embedder: Embedder,
        summarizer: DescriptionSummarizer,
        usage: Usage,
        chat: ChatModel | None = None,
        progress: ProgressCallback | None = None,
        records_extractor_id: str | None = None,
        resolver: "EntityResolver | None" = None,
    ) -> None:
        """`records_extractor_id`: whose extraction records the graph is built from (the
        workspace's recorded extractor; default the current one). Reconcile reads them
        and never extracts, so deleting works whatever the settings say now."""
        self.settings = settings
        self.state = state
        self.graph = graph
        self.vectors = vectors
        self.extractor = extractor
        self._embedder = embedder
        self.embedder = with_embed_progress(embedder, progress)  # `embed` moves as batches finish
        self.summarizer = with_describe_progress(summarizer, progress)
        self.usage = usage
        self.chat = chat
        self.progress = progress or (lambda stage, done, total: None)
        self.records_extractor_id = records_extractor_id or extractor.extractor_id
        self.resolver = resolver

    # ------------------------------------------------------------------ index
    def index(self, paths: Sequence[str], *, prune: bool = False, budget: TokenBudget | None = None) -> IndexReport:
        return self._run(self.aindex(paths, prune=prune, budget=budget))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """asyncio.run, closing the chat client's connections of this loop before it ends."""

        async def main() -> T:
            try:
                return await coroutine
            finally:
                if self.chat is not None:
                    await self.chat.aclose()

        return asyncio.run(main())

    async def aindex(
        self, paths: Sequence[str], *, prune: bool = False, budget: TokenBudget | None = None
    ) -> IndexReport:
        """plan -> process -> reconcile -> finish, in one go (flows run the steps as tasks)."""
        started = time.perf_counter()
        report = IndexReport()
        calls_before = self.usage.calls
        with timed(report, "load"):
            plan = self.plan(paths)
        self.record_plan(plan, report)
        if prune and plan.removed:
            self.remove_documents(plan.removed)
            report.documents_removed = len(plan.removed)
        if budget is None and self.pipelines_summaries:
            await process_pipelined(self, plan.todo, report)
        elif budget is None:
            await self.process(plan.todo, report)
        else:
            await process_within_budget(
                plan.todo, report, budget, process=self.process, state=self.state,
                todo_chunks=self.chunks_to_extract, settings=self.settings,
                uses_llm=self.extractor.extractor_id.startswith("llm:"),
            )
        with timed(report, "reconcile"):
            await self.areconcile(budget)
        if budget is not None:
            report.budget = budget.to_dict()  # adjudicating name pairs may have spent the rest
        self.finish(plan.todo)
        self.summarize_report(report, calls_before, started)
        return report

    @property
    def pipelines_summaries(self) -> bool:
        """Whether `aindex` reconciles documents while later chunks are still extracted:
        only with a chat model (offline, summaries cost no calls, so there is no endpoint
        to keep busy and one reconcile at the end does the least work)."""
        return self.settings.pipeline_summaries and self.chat is not None

    @property
    def extraction_batch(self) -> int:
        """Chunks per extraction batch: enough to keep the endpoint's slots busy."""
        return max(8, 4 * self.settings.llm_concurrency)

    def plan(self, paths: Sequence[str]) -> IndexPlan:
        """Loads the sources and sorts their documents into new-or-changed and unchanged."""
        return plan_sources(paths, self.settings, self.state, self.progress)

    def chunks_to_extract(self, docs: Sequence[Document]) -> tuple[list[Chunk], list[Chunk]]:
        """(all chunks of `docs`, those whose text has no stored extraction record yet)."""
        return chunks_to_extract(self.settings, self.state, self.extractor.extractor_id, docs)

    def record_plan(self, plan: IndexPlan, report: IndexReport) -> None:
        record_plan(self.state, plan, report)

    async def process(self, docs: Sequence[Document], report: IndexReport) -> None:
        """Chunks and extracts documents and commits each one that succeeded to the state
        (journaling what the graph must rebuild). The graph is untouched until reconcile."""
        chunks_by_doc = self.chunk_documents(docs, report)
        all_chunks = [c for cs in chunks_by_doc.values() for c in cs]
        prefetch = self.prefetch_vectors([c.text for c in all_chunks])
        failed = True
        try:
            with timed(report, "extract"):
                extractions = await self._extract_all(all_chunks, report, prefetch=prefetch)
            failed = False
        finally:
            if prefetch is not None:
                with timed(report, "prefetch_wait"):
                    await prefetch.finish(drop_queued=failed)
        self.commit_documents(docs, chunks_by_doc, extractions, report)

    def chunk_documents(self, docs: Sequence[Document], report: IndexReport) -> dict[str, list[Chunk]]:
        with timed(report, "chunk"):
            return {doc.id: chunk_document(doc, self.settings.chunk_size, self.settings.chunk_overlap) for doc in docs}

    def commit_documents(
        self,
        docs: Sequence[Document],
        chunks_by_doc: dict[str, list[Chunk]],
        extractions: dict[str, Extraction | Exception],
        report: IndexReport,
    ) -> None:
        """Commits each extracted document to the state (journaling what the graph must
        rebuild); one with a failed chunk is recorded `failed` with the first error."""
        for doc in docs:
            chunks = chunks_by_doc[doc.id]
            errors = [extractions[c.id] for c in chunks if isinstance(extractions.get(c.id), Exception)]
            if errors:
                reason = f"{len(errors)} of {len(chunks)} chunks failed extraction; first: {errors[0]}"
                self._upsert_record(doc, "failed", error=reason, n_chunks=len(chunks))
                report.documents_failed += 1
                report.failures.append({"source": doc.source, "reason": reason})
                continue
            if self._commit_document(doc, chunks, {c.id: extractions[c.id] for c in chunks}):  # type: ignore[misc]
                report.documents_updated += 1
            else:
                report.documents_new += 1

    def prefetch_vectors(self, texts: list[str]) -> VectorPrefetch | None:
        """Chunk texts are known before extraction: embed them into the embedding cache in
        a worker thread meanwhile, then the vector segments of each extracted batch
        (graphrag.index_prefetch), so reconcile finds its vectors ready. Only with a
        caching embedder (else the work would be done twice)."""
        if not texts or not isinstance(self._embedder, CachingEmbedder):
            return None
        prefetch = VectorPrefetch(self._embedder)
        prefetch.add(texts)
        return prefetch

    def finish(self, docs: Sequence[Document]) -> None:
        """Marks committed documents processed, once reconcile has written their graph."""
        for doc in docs:
            record = self.state.get_document(doc.id)
            if record is not None and record.status == "processing":
                record.status = "processed"
                record.ingested_at = time.time()
                self.state.upsert_document(record)
                self.graph.upsert_documents([record])
        self.graph.flush()

    def summarize_report(self, report: IndexReport, calls_before: int, started: float) -> None:
        stats = self.graph.stats()
        report.entities, report.relations = stats.entities, stats.relations
        report.llm_calls = self.usage.calls - calls_before
        report.usage = self.usage.snapshot()
        report.seconds = round(time.perf_counter() - started, 3)

    def _upsert_record(self, doc: Document, status: str, *, error: str | None = None, n_chunks: int = 0) -> None:
        self.state.upsert_document(
            DocumentRecord(
                id=doc.id,
                source=doc.source,
                title=doc.title,
                content_hash=doc.id.removeprefix("doc-"),
                status=status,  # type: ignore[arg-type]
                error=error,
                n_chunks=n_chunks,
            )
        )

    async def _extract_all(
        self, chunks: list[Chunk], report: IndexReport, on_batch: ExtractedCallback | None = None,
        prefetch: VectorPrefetch | None = None,
    ) -> dict[str, Extraction | Exception]:
        """Stored records are reused by chunk text; only texts never extracted go to the
        extractor. `on_batch` is called with the results by text hash so far (stored ones
        first), once before the first batch and after every batch; `prefetch` is given the
        records of every batch."""
        extractor_id = self.extractor.extractor_id
        stored = self.state.get_extractions({c.text_hash for c in chunks}, extractor_id)
        results: dict[str, Extraction | Exception] = {}
        missing: dict[str, Chunk] = {}
        for c in chunks:
            if c.text_hash in stored:
                results[c.id] = stored[c.text_hash]
            else:
                missing.setdefault(c.text_hash, c)
        report.chunks_reused += len(chunks) - len([c for c in chunks if c.text_hash in missing])
        todo = list(missing.values())
        batch = self.extraction_batch
        done = 0
        self.progress("extract", 0, len(todo))
        by_hash: dict[str, Extraction | Exception] = dict(stored)
        if on_batch is not None:
            on_batch(by_hash)

        def settle(part: list[Chunk], out: dict[str, Extraction | Exception]) -> None:
            nonlocal done
            fresh = {c.text_hash: out[c.id] for c in part if isinstance(out.get(c.id), Extraction)}
            # Durable as soon as they exist: a crash later never pays for them again.
            self.state.put_extractions(fresh, extractor_id)  # type: ignore[arg-type]
            if prefetch is not None:
                prefetch.add_records(fresh.values())  # type: ignore[arg-type]
            for c in part:
                by_hash[c.text_hash] = out.get(c.id, RuntimeError("extractor returned no result"))
            done += len(part)
            report.chunks_extracted += len(part)
            self.progress("extract", done, len(todo))
            if on_batch is not None:
                on_batch(by_hash)

        async def extract(part: list[Chunk]) -> tuple[list[Chunk], dict[str, Extraction | Exception]]:
            return part, await self.extractor.extract(part)

        # With a model, the next batch is queued while one drains, so the slots its slowest
        # calls leave free are used; offline, one batch at a time (no endpoint, less memory).
        window = 2 if self.extractor.extractor_id.startswith("llm:") else 1
        running: set[asyncio.Task[tuple[list[Chunk], dict[str, Extraction | Exception]]]] = set()

        async def settle_first() -> None:
            nonlocal running
            finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                settle(*task.result())

        try:
            for start in range(0, len(todo), batch):
                running.add(asyncio.create_task(extract(todo[start : start + batch])))
                if len(running) >= window:
                    await settle_first()
            while running:
                await settle_first()
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        for c in chunks:
            if c.id not in results:
                results[c.id] = by_hash[c.text_hash]
        return results

    def _commit_document(self, doc: Document, chunks: list[Chunk], extractions: dict[str, Extraction]) -> bool:
        """Moves one extracted document into the state; returns whether it replaced an older version."""
        previous = [r for r in self.state.find_documents_by_source(doc.source) if r.id != doc.id]
        new_entities: set[str] = set()
        new_relations: set[str] = set()
        chunk_keys = {}
        for c in chunks:
            ek, rk = record_keys(extractions[c.id])
            chunk_keys[c.id] = (ek, rk)
            new_entities |= ek
            new_relations |= rk
        # Journal first: if we crash after this, reconcile still visits every touched key.
        self.state.add_pending("document", [doc.id])
        self.state.add_pending("chunk", [c.id for c in chunks])
        self.state.add_pending("entity", new_entities)
        self.state.add_pending("relation", new_relations)
        self._upsert_record(doc, "processing", n_chunks=len(chunks))
        self.state.put_chunks(chunks)
        for chunk_id, (ek, rk) in chunk_keys.items():
            self.state.set_chunk_keys(chunk_id, ek, rk)
        replaced = False
        for old in previous:
            if old.status in ("processed", "processing"):
                replaced = True
            self._remove_document(old.id)
        self.state.delete_document(placeholder_id(doc.source))
        return replaced

    def _remove_document(self, document_id: str) -> None:
        old_chunks = [c.id for c in self.state.chunks_of(document_id)]
        entity_keys, relation_keys = self.state.keys_for_chunks(old_chunks)
        self.state.add_pending("document", [document_id])
        self.state.add_pending("chunk", old_chunks)
        self.state.add_pending("entity", entity_keys)
        self.state.add_pending("relation", relation_keys)
        record = self.state.get_document(document_id)
        if record is not None:
            # A rerun of a killed `delete SOURCE` finds the document by its source here.
            self.state.cache_put(REMOVING_KEY + record.source, document_id)
        self.state.delete_document(document_id)

    # ------------------------------------------------------------------ delete
    def remove_documents(self, document_ids: Iterable[str]) -> None:
        """Removes documents from the state and journals what they contributed (no reconcile)."""
        for document_id in document_ids:
            self._remove_document(document_id)

    def delete(self, document_ids: Iterable[str]) -> None:
        self.remove_documents(document_ids)
        self._run(self.areconcile())
        self.graph.flush()

    # -------------------------------------------------------------- reconcile
    def reconciler(self) -> Reconciler:
        return Reconciler(
            state=self.state, graph=self.graph, vectors=self.vectors, embedder=self.embedder,
            summarizer=self.summarizer, extractor_id=self.records_extractor_id, progress=self.progress,
            resolver=self.resolver,
        )

    def reconcile(self, budget: TokenBudget | None = None) -> None:
        self._run(self.areconcile(budget))
        self.graph.flush()

    async def areconcile(self, budget: TokenBudget | None = None, defer: Deferral | None = None) -> None:
        """Makes the graph and vectors agree with the state for every journaled key
        (`defer`: see `Reconciler.areconcile`)."""
        await self.reconciler().areconcile(budget, defer)
