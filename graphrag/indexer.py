"""Incremental indexing: diff sources against the state store, extract only new chunk texts,
and reconcile the graph and vector stores with the state.

The state store is the source of truth; the graph and vectors are derived from it. Every
change first journals the keys it touches ("pending"), then changes the state, then
`reconcile` rebuilds exactly those keys from the stored extraction records and clears them.
A crash anywhere leaves the journal behind, so running again converges to the same state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from pathlib import Path

from graphrag.extract.base import Extractor
from graphrag.ingest.chunk import chunk_document
from graphrag.ingest.load import LoadResult, iter_sources, load_source
from graphrag.llm.base import ChatModel, Embedder, Usage
from graphrag.merge import record_keys
from graphrag.models import Chunk, Document, DocumentRecord, Entity, Extraction, Relation, sha256_hex
from graphrag.resolve.apply import plan_graph_changes
from graphrag.resolve.resolver import EntityResolver
from graphrag.settings import Settings
from graphrag.stores.base import GraphStore, StateStore, VectorRow, VectorStore
from graphrag.summarize import DescriptionSummarizer

if TYPE_CHECKING:
    from graphrag.budget import TokenBudget

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)
T = TypeVar("T")

GENERATION_KEY = "workspace:generation"
CHUNKS_TABLE = "chunks"
ENTITIES_TABLE = "entities"
RELATIONS_TABLE = "relations"


@dataclass
class IndexPlan:
    todo: list[Document] = field(default_factory=list)  # new or changed
    unchanged: list[str] = field(default_factory=list)  # document ids
    unloadable: list[LoadResult] = field(default_factory=list)  # skipped or failed sources
    sources: set[str] = field(default_factory=set)
    removed: list[str] = field(default_factory=list)  # ids of indexed documents whose source is gone
    record_errors: list[dict[str, str]] = field(default_factory=list)  # bad records of loaded files


@dataclass
class IndexReport:
    documents_new: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_failed: int = 0
    documents_skipped: int = 0
    documents_removed: int = 0
    documents_pending: int = 0  # left for the next run: the token budget was reached
    chunks_extracted: int = 0
    chunks_reused: int = 0
    llm_calls: int = 0
    entities: int = 0
    relations: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    usage: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)  # max_tokens, used, stopped (with --max-tokens)

    def to_dict(self) -> dict:
        return dict(vars(self))


def placeholder_id(source: str) -> str:
    """Id of the state record for a source that produced no document (failed or skipped)."""
    return "src-" + sha256_hex(source)[:32]


def entity_vector_text(entity: Entity) -> str:
    also = f" ({', '.join(a.name for a in entity.aliases)})" if entity.aliases else ""
    return f"{entity.name}{also}\n{entity.description}".strip()


def relation_vector_text(relation: Relation, names: dict[str, str]) -> str:
    source = names.get(relation.source, relation.source)
    target = names.get(relation.target, relation.target)
    return f"{', '.join(relation.keywords)}\t{source} - {target}\n{relation.description}".strip()


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
        resolver: EntityResolver | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.graph = graph
        self.vectors = vectors
        self.extractor = extractor
        self.embedder = embedder
        self.summarizer = summarizer
        self.usage = usage
        self.chat = chat
        self.progress = progress or (lambda stage, done, total: None)
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
        with _timed(report, "load"):
            plan = self.plan(paths)
        self.record_plan(plan, report)
        if prune and plan.removed:
            self.remove_documents(plan.removed)
            report.documents_removed = len(plan.removed)
        if budget is None:
            await self.process(plan.todo, report)
        else:
            from graphrag.budget import process_within_budget

            await process_within_budget(self, plan.todo, report, budget)
        with _timed(report, "reconcile"):
            await self.areconcile()
        self.finish(plan.todo)
        self.summarize_report(report, calls_before, started)
        return report

    def plan(self, paths: Sequence[str]) -> "IndexPlan":
        """Loads the sources and sorts their documents into new-or-changed and unchanged."""
        sources = iter_sources(paths)
        plan = IndexPlan()
        seen: set[str] = set()
        for i, source in enumerate(sources):
            result = load_source(source, self.settings)
            self.progress("load", i + 1, len(sources))
            if result.status != "loaded":
                plan.unloadable.append(result)
                continue
            plan.record_errors.extend({"source": result.source, "reason": e} for e in result.errors)
            for doc in result.documents:
                plan.sources.add(doc.source)
                if doc.id in seen:
                    continue
                seen.add(doc.id)
                existing = self.state.get_document(doc.id)
                if existing is not None and existing.status == "processed":
                    plan.unchanged.append(doc.id)
                else:
                    plan.todo.append(doc)
        plan.removed = self._removed_under(paths, plan.sources | {r.source for r in plan.unloadable})
        return plan

    def _removed_under(self, paths: Sequence[str], present: set[str]) -> list[str]:
        """Indexed documents whose source lies under `paths` but was not found there now."""
        roots = [str(Path(p).resolve()) for p in paths if not any(ch in str(p) for ch in "*?[")]
        removed = []
        for record in self.state.list_documents():
            if record.status not in ("processed", "processing") or record.source in present:
                continue
            file_path = record.source.split("#", 1)[0]
            if any(file_path == root or file_path.startswith(root.rstrip("/") + "/") for root in roots):
                removed.append(record.id)
        return removed

    def record_plan(self, plan: "IndexPlan", report: IndexReport) -> None:
        report.documents_unchanged += len(plan.unchanged)
        report.documents_failed += len(plan.record_errors)
        report.failures.extend(plan.record_errors)
        for result in plan.unloadable:
            self._record_unloadable(result, report)

    async def process(self, docs: Sequence[Document], report: IndexReport) -> None:
        """Chunks and extracts documents and commits each one that succeeded to the state
        (journaling what the graph must rebuild). The graph is untouched until reconcile."""
        with _timed(report, "chunk"):
            chunks_by_doc = {
                doc.id: chunk_document(doc, self.settings.chunk_size, self.settings.chunk_overlap) for doc in docs
            }
        with _timed(report, "extract"):
            extractions = await self._extract_all([c for cs in chunks_by_doc.values() for c in cs], report)
        for doc in docs:
            chunks = chunks_by_doc[doc.id]
            errors = [extractions[c.id] for c in chunks if isinstance(extractions.get(c.id), Exception)]
            if errors:
                reason = f"{len(errors)} of {len(chunks)} chunks failed extraction; first: {errors[0]}"
                self._upsert_record(doc, "failed", error=reason, n_chunks=len(chunks))
                report.documents_failed += 1
                report.failures.append({"source": doc.source, "reason": reason})
                continue
            if self._commit_document(doc, chunks, {c.id: extractions[c.id] for c in chunks}):
                report.documents_updated += 1
            else:
                report.documents_new += 1

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

    def _record_unloadable(self, result: LoadResult, report: IndexReport) -> None:
        status = "skipped" if result.status == "skipped" else "failed"
        record = DocumentRecord(
            id=placeholder_id(result.source),
            source=result.source,
            title=result.source,
            content_hash="",
            status=status,
            error=result.reason,
        )
        self.state.upsert_document(record)
        if status == "skipped":
            report.documents_skipped += 1
        else:
            report.documents_failed += 1
        report.failures.append({"source": result.source, "reason": result.reason or status})

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

    async def _extract_all(self, chunks: list[Chunk], report: IndexReport) -> dict[str, Extraction | Exception]:
        """Stored records are reused by chunk text; only texts never extracted go to the extractor."""
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
        batch = max(8, 4 * self.settings.llm_concurrency)
        done = 0
        self.progress("extract", 0, len(todo))
        by_hash: dict[str, Extraction | Exception] = {}
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            out = await self.extractor.extract(part)
            fresh = {c.text_hash: out[c.id] for c in part if isinstance(out.get(c.id), Extraction)}
            # Durable as soon as they exist: a crash later never pays for them again.
            self.state.put_extractions(fresh, extractor_id)  # type: ignore[arg-type]
            for c in part:
                by_hash[c.text_hash] = out.get(c.id, RuntimeError("extractor returned no result"))
            done += len(part)
            report.chunks_extracted += len(part)
            self.progress("extract", done, len(todo))
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
    def reconcile(self) -> None:
        self._run(self.areconcile())
        self.graph.flush()

    async def areconcile(self) -> None:
        """Makes the graph and vectors agree with the state for every journaled key."""
        doc_ids = self.state.pending("document")
        chunk_ids = self.state.pending("chunk")
        entity_keys = self.state.pending("entity")
        relation_keys = self.state.pending("relation")
        if not (doc_ids or chunk_ids or entity_keys or relation_keys):
            return

        changes = plan_graph_changes(
            state=self.state,
            graph=self.graph,
            resolver=self.resolver,
            load_records=self._records_for,
            entity_keys=entity_keys,
            relation_keys=relation_keys,
        )
        merged_entities, merged_relations = changes.entities, changes.relations

        total = len(merged_entities) + len(merged_relations)
        self.progress("describe", 0, total)
        entity_descriptions = await asyncio.gather(
            *(self.summarizer.describe(m.name, m.fragments) for m in merged_entities.values())
        )
        names = {k: m.name for k, m in merged_entities.items()}
        missing_names = {m.source for m in merged_relations.values()} | {m.target for m in merged_relations.values()}
        missing_names -= names.keys()
        if missing_names:
            names.update({k: e.name for k, e in self.graph.get_entities(missing_names).items()})
        relation_descriptions = await asyncio.gather(
            *(
                self.summarizer.describe(f"{names.get(m.source, m.source)} - {names.get(m.target, m.target)}", m.fragments)
                for m in merged_relations.values()
            )
        )
        self.progress("describe", total, total)
        entities = [
            Entity(key=m.key, name=m.name, type=m.type, description=d, source_ids=m.source_ids, aliases=m.aliases)
            for m, d in zip(merged_entities.values(), entity_descriptions)
        ]
        relations = [
            Relation(
                key=m.key,
                source=m.source,
                target=m.target,
                description=d,
                keywords=m.keywords,
                weight=m.weight,
                source_ids=m.source_ids,
            )
            for m, d in zip(merged_relations.values(), relation_descriptions)
        ]
        gone_entities, gone_relations = changes.gone_entities, changes.gone_relations

        live_docs = {d: self.state.get_document(d) for d in doc_ids}
        live_chunks = self.state.get_chunks(chunk_ids)

        # Graph: parents before children on the way in, children before parents on the way out.
        self.graph.delete_relations(gone_relations)
        self.graph.delete_entities(gone_entities)
        self.graph.delete_documents([d for d, r in live_docs.items() if r is None])
        self.graph.upsert_documents([r for r in live_docs.values() if r is not None])
        self.graph.upsert_chunks(list(live_chunks.values()))
        self.graph.upsert_entities(entities)
        self.graph.upsert_relations(relations)

        self.progress("embed", 0, len(live_chunks) + len(entities) + len(relations))
        self.vectors.delete(CHUNKS_TABLE, chunk_ids - live_chunks.keys())
        self.vectors.delete(ENTITIES_TABLE, gone_entities)
        self.vectors.delete(RELATIONS_TABLE, gone_relations)
        self._upsert_vectors(
            CHUNKS_TABLE,
            [(c.id, c.text, {"document_id": c.document_id, "order": c.order}) for c in live_chunks.values()],
        )
        self._upsert_vectors(
            ENTITIES_TABLE,
            [
                (e.key, entity_vector_text(e), {"type": e.type, "name": e.name, "aliases": [a.name for a in e.aliases]})
                for e in entities
            ],
        )
        self._upsert_vectors(
            RELATIONS_TABLE,
            [(r.key, relation_vector_text(r, names), {"source": r.source, "target": r.target}) for r in relations],
        )
        self.progress("embed", 1, 1)
        self.graph.flush()

        self.state.clear_pending("relation", relation_keys)
        self.state.clear_pending("entity", entity_keys | changes.journaled)
        self.state.clear_pending("chunk", chunk_ids)
        self.state.clear_pending("document", doc_ids)
        # Long-lived readers in other processes (the API) compare this to reload.
        self.state.cache_put(GENERATION_KEY, str(time.time_ns()))

    def _records_for(self, chunk_ids: set[str]) -> dict[str, Extraction]:
        chunks = self.state.get_chunks(chunk_ids)
        stored = self.state.get_extractions({c.text_hash for c in chunks.values()}, self.extractor.extractor_id)
        records: dict[str, Extraction] = {}
        for chunk_id, chunk in chunks.items():
            record = stored.get(chunk.text_hash)
            if record is None:
                # Only possible if the extractor changed since the chunk was indexed.
                raise RuntimeError(
                    f"no stored extraction for chunk {chunk_id} with extractor {self.extractor.extractor_id}; "
                    "the extractor settings changed since this workspace was indexed: re-index into a new workspace"
                )
            records[chunk_id] = record
        return records

    def _upsert_vectors(self, table: str, items: list[tuple[str, str, dict]]) -> None:
        if not items:
            return
        vectors = self.embedder.embed([text for _, text, _ in items])
        self.vectors.upsert(
            table, [VectorRow(id=i, vector=v, text=t, metadata=m) for (i, t, m), v in zip(items, vectors)]
        )


@contextmanager
def _timed(report: IndexReport, name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        report.stage_seconds[name] = round(report.stage_seconds.get(name, 0.0) + elapsed, 3)
