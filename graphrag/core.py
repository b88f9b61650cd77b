"""`GraphRAG`: the Python API. The CLI, the flows and the HTTP API all call this."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrag.budget import TokenBudget
from graphrag.errors import BackendNotSupportedError, ConfigError, DocumentNotFoundError
from graphrag.export import ExportFormat, export_graph
from graphrag.extract.base import Extractor
from graphrag.extract.factory import build_extractor
from graphrag.index_plan import check_sources
from graphrag.indexer import GENERATION_KEY, REMOVING_KEY, Indexer, IndexReport, ProgressCallback
from graphrag.reconcile import journal_is_empty
from graphrag.reextract import ReextractReport, chunks_by_document, estimate_reextract, reextract_chunks
from graphrag.llm.base import ChatModel, Embedder, Usage
from graphrag.models import DocumentRecord
from graphrag.resolve.duplicates import duplicate_report
from graphrag.settings import Settings
from graphrag.tracing import span
from graphrag.stores.base import GraphStore, StateStore, VectorStore
from graphrag.stores.factory import build_graph_store, build_state_store, build_vector_store
from graphrag.summarize import DescriptionSummarizer
from graphrag.workspace_lock import workspace_lock

if TYPE_CHECKING:
    from collections.abc import Sequence

    from graphrag.cost import CostEstimate
    from graphrag.query.conversation import Turn
    from graphrag.cypher import CypherResult
    from graphrag.query.engine import QueryEngine, StreamingAnswer
    from graphrag.query.result import QueryResult, Retrieval
    from graphrag.resolve.operations import EntityOperations
    from graphrag.resolve.resolver import EntityResolver

_EXTRACTOR_KEY = "workspace:extractor_id"


class GraphRAG:
    """A workspace: its stores, models and the operations on them.

    Every component is built on first use from `settings`, or injected (tests inject a
    scripted chat model, a fast embedder, another store).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        chat: ChatModel | None = None,
        embedder: Embedder | None = None,
        extractor: Extractor | None = None,
        graph: GraphStore | None = None,
        vectors: VectorStore | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.usage = chat.usage if chat is not None else Usage()
        for name, value in (
            ("chat", chat), ("embedder", embedder), ("extractor", extractor),
            ("graph", graph), ("vectors", vectors), ("state", state),
        ):
            if value is not None:
                self.__dict__[name] = value  # pre-fills the cached_property

    # ------------------------------------------------------------ components
    @cached_property
    def state(self) -> StateStore:
        return build_state_store(self.settings)

    @cached_property
    def chat(self) -> ChatModel | None:
        from graphrag.llm.chat import build_chat_model

        return build_chat_model(self.settings, self.state, usage=self.usage)

    @cached_property
    def embedder(self) -> Embedder:
        from graphrag.llm.embed.workspace_record import workspace_embedder

        return workspace_embedder(self.settings, self.state)

    @cached_property
    def extractor(self) -> Extractor:
        return build_extractor(self.settings, self.chat)

    @cached_property
    def resolver(self) -> "EntityResolver | None":
        if not self.settings.resolution:
            return None
        from graphrag.resolve.resolver import EntityResolver
        from graphrag.resolve.store import SQLiteResolutionStore

        self.settings.workspace.mkdir(parents=True, exist_ok=True)
        store = SQLiteResolutionStore(self.settings.resolution_path)
        adjudicator = None
        if self.settings.resolution_llm and self.chat is not None:
            from graphrag.resolve.adjudicate import PairAdjudicator

            adjudicator = PairAdjudicator(self.chat, self.state, batch_size=self.settings.resolution_llm_batch)
        name_vectors = None
        wanted = self.settings.resolution_vectors
        # Word hashing knows names alike only by the words they share, which the word index
        # already finds; its one-word vectors collide ("feynman" / "surya": cosine 1.0).
        if (wanted is True or (wanted == "auto" and adjudicator is not None)) and not self.embedder.model_id.startswith("hashing"):
            from graphrag.resolve.vectors import NameVectors

            name_vectors = NameVectors(
                self.vectors, self.embedder, threshold=self.settings.resolution_vector_threshold,
                cap=self.settings.resolution_vector_cap,
            )
        return EntityResolver(
            store, threshold=self.settings.resolution_threshold, adjudicator=adjudicator, name_vectors=name_vectors
        )

    @cached_property
    def entities(self) -> "EntityOperations":
        """Manual entity decisions: merge, split, review (`graphrag entities ...`)."""
        from graphrag.resolve.operations import EntityOperations

        if self.resolver is None:
            raise ConfigError("entity resolution is off (GRAPHRAG_RESOLUTION=false): turn it on to merge or split entities")

        def reconcile() -> None:
            self._sync_with_workspace()
            try:
                self._indexer(None).reconcile()
            finally:
                self._refresh_queries()

        return EntityOperations(
            self.resolver,
            graph=self.graph,
            state=self.state,
            reconcile=reconcile,
            lock=lambda: workspace_lock(self.settings.workspace, self.settings.lock_timeout),
        )

    @cached_property
    def graph(self) -> GraphStore:
        return build_graph_store(self.settings)

    @cached_property
    def vectors(self) -> VectorStore:
        return build_vector_store(self.settings, self.embedder.dim)

    @cached_property
    def query_engine(self) -> "QueryEngine":
        from graphrag.query.engine import QueryEngine

        return QueryEngine(
            self.settings,
            graph=self.graph,
            vectors=self.vectors,
            state=self.state,
            embedder=self.embedder,
            chat=self.chat,
        )

    def _indexer(self, progress: ProgressCallback | None) -> Indexer:
        summarizer = DescriptionSummarizer(
            self.chat,
            min_fragments=self.settings.summary_min_fragments,
            max_tokens=self.settings.summary_max_tokens,
            language=self.settings.language,
            policy=self.settings.summary_policy,
            fold_min_new=self.settings.summary_fold_min_new,
            records=self.state,
        )
        return Indexer(
            self.settings,
            state=self.state,
            graph=self.graph,
            vectors=self.vectors,
            extractor=self.extractor,
            embedder=self.embedder,
            summarizer=summarizer,
            usage=self.usage,
            chat=self.chat,
            progress=progress,
            records_extractor_id=self.state.cache_get(_EXTRACTOR_KEY),
            resolver=self.resolver,
        )

    def _check_extractor(self, *, record: bool = True) -> None:
        """A graph merges records of one extractor; mixing two would make it unreproducible."""
        current = self.extractor.extractor_id
        recorded = self.state.cache_get(_EXTRACTOR_KEY)
        if recorded is None:
            if record:
                self.state.cache_put(_EXTRACTOR_KEY, current)
        elif recorded != current:
            raise ConfigError(
                f"this workspace ({self.settings.workspace}) was indexed with extractor {recorded}, "
                f"but the settings now give {current} (another model or prompt): run `graphrag reextract --all` "
                "to move the workspace to it (estimate first with --dry-run), or use a new --workspace"
            )

    # ------------------------------------------------------------ operations
    def index(
        self,
        paths: list[str | Path],
        progress: ProgressCallback | None = None,
        *,
        prune: bool = False,
        max_tokens: int | None = None,
    ) -> IndexReport:
        """`max_tokens`: stop extracting once the next batch would exceed this many LLM
        tokens; the documents not reached stay `pending` for the next run."""
        check_sources([str(p) for p in paths])
        with span("graphrag.index", sources=len(paths)), workspace_lock(self.settings.workspace, self.settings.lock_timeout):
            self._sync_with_workspace()
            self._check_extractor()
            try:
                budget = TokenBudget(max_tokens, self.usage) if max_tokens is not None else None
                indexer = self._indexer(progress)
                if budget is not None or not indexer.pipelines_summaries:
                    # A pipelined run reconciles the journal in its first round instead, deferring
                    # what the documents to come still mention: a crashed run converges word for word.
                    self._settle_journal(progress, budget)
                return indexer.index([str(p) for p in paths], prune=prune, budget=budget)
            finally:
                self._refresh_queries()

    def estimate(self, paths: list[str | Path]) -> "CostEstimate":
        """Dry run of `index(paths)`: chunks to extract, LLM calls, tokens and cost (with
        configured prices). Nothing is sent to the LLM and nothing is indexed."""
        from graphrag.cost import estimate_index

        check_sources([str(p) for p in paths])
        self._check_extractor(record=False)
        return estimate_index(self._indexer(None), [str(p) for p in paths])

    def indexer(self, progress: ProgressCallback | None = None) -> Indexer:
        """The indexing steps (plan, process, reconcile, finish), for callers that run them
        one by one, like the Prefect flow; hold the workspace lock while using them."""
        self._sync_with_workspace()
        self._check_extractor()
        return self._indexer(progress)

    def resolve_documents(self, refs: list[str]) -> list[DocumentRecord]:
        """Documents named by id or by source path (a path matches every record of that source)."""
        found: dict[str, DocumentRecord] = {}
        for ref in refs:
            record = self.state.get_document(ref)
            matches = [record] if record is not None else []
            if not matches:
                matches = self.state.find_documents_by_source(ref)
            if not matches and Path(ref).exists():
                matches = self.state.find_documents_by_source(str(Path(ref).resolve()))
            if not matches:
                raise DocumentNotFoundError(
                    f"no indexed document has id or source {ref!r}; `graphrag status` lists them"
                )
            found.update({m.id: m for m in matches})
        return list(found.values())

    def delete(self, refs: list[str], progress: ProgressCallback | None = None) -> list[DocumentRecord]:
        """Removes documents and exactly their contributions. A deletion that was killed
        half-way is finished first: naming its document again then succeeds."""
        with workspace_lock(self.settings.workspace, self.settings.lock_timeout):
            self._sync_with_workspace()
            try:
                finished = self._settle_journal(progress)
                done = {ref: finished[d] for ref in refs if (d := self._finished_removal(ref, finished))}
                records = self.resolve_documents([r for r in refs if r not in done])
                if records:
                    self._indexer(progress).delete([r.id for r in records])
            finally:
                self._refresh_queries()
            return [*records, *done.values()]

    def _finished_removal(self, ref: str, finished: dict[str, DocumentRecord]) -> str | None:
        """The id of a document named by `ref` (id or source) whose removal was journaled by
        a killed command and has just been finished, if any."""
        if ref in finished:
            return ref
        for source in (ref, str(Path(ref).resolve())):
            document_id = self.state.cache_get(REMOVING_KEY + source)
            if document_id in finished and self.state.get_document(document_id) is None:
                return document_id
        return None

    def _settle_journal(
        self, progress: ProgressCallback | None = None, budget: TokenBudget | None = None
    ) -> dict[str, DocumentRecord]:
        """Every write command starts here: a journal left by a killed or failed command is
        reconciled first, so the graph converges whatever ran before. Returns the documents
        whose removal this finished (by id), which a rerun of `delete` may name."""
        if journal_is_empty(self.state):
            return {}
        removed = {
            d: DocumentRecord(id=d, source="(a deletion killed before, now finished)", title="", content_hash="", status="processed")
            for d in self.state.pending("document")
            if self.state.get_document(d) is None
        }
        self._indexer(progress).reconcile(budget)
        return removed

    def reextract(
        self, refs: list[str] | None = None, *, dry_run: bool = False, progress: ProgressCallback | None = None
    ) -> ReextractReport:
        """Extracts the chunks of the documents named by `refs` (None: every indexed
        document) again with fresh model answers and rebuilds their graph; `dry_run` only
        estimates. With --all this also moves a workspace to a changed extractor (another
        model or prompt), which `index` refuses to mix with the records it has."""
        with workspace_lock(self.settings.workspace, self.settings.lock_timeout):
            self._sync_with_workspace()
            current = self.extractor.extractor_id
            recorded = self.state.cache_get(_EXTRACTOR_KEY)
            switching = recorded is not None and recorded != current
            if switching and refs is not None:
                raise ConfigError(
                    f"this workspace was indexed with extractor {recorded}, but the settings now give {current}; "
                    "a graph is built from one extractor's records: `graphrag reextract --all` moves the whole "
                    "workspace to the new extractor (estimate it first with --dry-run)"
                )
            try:
                if not dry_run:
                    self._settle_journal(progress)
                named = self.resolve_documents(refs) if refs is not None else self.state.list_documents()
                records = [r for r in named if r.status in ("processed", "processing")]
                report = ReextractReport(documents=len(records), extractor=current)
                for r in named:
                    if refs is not None and r not in records:
                        report.documents_failed += 1
                        report.failures.append({"source": r.source, "reason": f"status {r.status}: nothing stored to "
                                                "re-extract; `graphrag index` its source instead"})
                chunks = chunks_by_document(self.state, records)
                report.chunks = sum(len(c) for c in chunks.values())
                if dry_run:
                    return estimate_reextract(self.settings, current.startswith("llm:"), chunks, report)
                indexer = self._indexer(progress)
                calls_before = self.usage.calls
                committed = indexer._run(
                    reextract_chunks(
                        self.extractor, self.state, records, chunks, report,
                        batch=max(8, 4 * self.settings.llm_concurrency), progress=indexer.progress,
                        all_or_nothing=switching,
                    )
                )
                if switching and committed:
                    self.state.cache_put(_EXTRACTOR_KEY, current)
                self._indexer(progress).reconcile()
                report.llm_calls = self.usage.calls - calls_before
                return report
            finally:
                self._refresh_queries()

    def _refresh_queries(self) -> None:
        engine = self.__dict__.get("query_engine")
        if engine is not None:
            engine.refresh()
        self._generation = self.state.cache_get(GENERATION_KEY)

    def _sync_with_workspace(self) -> None:
        """Another process (a flow, the CLI) may have changed the workspace since this one
        loaded it: reload the in-memory graph and the query caches if so."""
        if "state" not in self.__dict__:
            return
        current = self.state.cache_get(GENERATION_KEY)
        if current == getattr(self, "_generation", None):
            return
        for name in ("graph", "vectors"):
            store = self.__dict__.get(name)
            if store is not None and hasattr(store, "reload"):
                store.reload()
        self._refresh_queries()

    def query(
        self,
        question: str,
        mode: str | None = None,
        top_k: int | None = None,
        *,
        only_context: bool = False,
        history: "Sequence[Turn] | None" = None,
    ) -> "QueryResult":
        """Answers `question` from the index, citing its sources. `mode`: naive | local |
        global | hybrid | mix (default) | ppr | auto; `top_k`: chunks retrieved;
        `only_context`: retrieve and build the context, skip the answer; `history`: the
        earlier turns of a conversation (`Turn(role=..., content=...)`), for a follow-up."""
        self._sync_with_workspace()
        with span("graphrag.query", mode=mode or self.settings.query_mode):
            return self.query_engine.query(question, mode, top_k, only_context=only_context, history=history)

    async def aquery(
        self,
        question: str,
        mode: str | None = None,
        top_k: int | None = None,
        *,
        only_context: bool = False,
        history: "Sequence[Turn] | None" = None,
    ) -> "QueryResult":
        self._sync_with_workspace()
        with span("graphrag.query", mode=mode or self.settings.query_mode):
            return await self.query_engine.aquery(question, mode, top_k, only_context=only_context, history=history)

    def query_stream(
        self, question: str, mode: str | None = None, top_k: int | None = None, *, history: "Sequence[Turn] | None" = None
    ) -> "StreamingAnswer":
        """`async for piece in rag.query_stream(q)` yields the answer as it is written; the
        returned object's `.result` holds the full QueryResult once the stream ends."""
        self._sync_with_workspace()
        return self.query_engine.stream(question, mode, top_k, history=history)

    def retrieve(
        self, question: str, mode: str | None = None, top_k: int | None = None, *, history: "Sequence[Turn] | None" = None
    ) -> "Retrieval":
        """Ranked entities, relations and chunks, without an answer (no chat call but the
        keyword extraction, and those the query options configure)."""
        self._sync_with_workspace()
        with span("graphrag.retrieve", mode=mode or self.settings.query_mode):
            return self.query_engine.retrieve(question, mode, top_k, history=history)

    def status(self, status: str | None = None) -> list[DocumentRecord]:
        return self.state.list_documents(status)

    def stats(self) -> dict[str, Any]:
        graph = self.graph.stats()
        return {
            "documents": len(self.state.list_documents("processed")),
            "chunks": self.state.count_chunks(),
            "entities": graph.entities,
            "relations": graph.relations,
            "entity_types": graph.entity_types,
            "duplicates": duplicate_report((e.key, e.type) for e in self.graph.iter_entities()).to_dict(),
            "workspace": str(self.settings.workspace),
            "graph_store": self.settings.graph_store,
        }

    def cypher(
        self,
        query: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        row_limit: int = 1000,
        all_workspaces: bool = False,
    ) -> "CypherResult":
        """Runs a read-only Cypher query on the Neo4j graph: write and admin statements are
        refused (CypherNotAllowedError) and the query runs in a READ transaction with a
        `timeout` (seconds) and at most `row_limit` rows (`result.truncated` says if more
        were there). Every node pattern is bound to this workspace (`$workspace`, which params
        cannot set) unless `all_workspaces`."""
        graph = self.__dict__.get("graph")
        run = getattr(graph, "run_read_cypher", None) if graph is not None else None
        if run is None and (graph is not None or self.settings.graph_store != "neo4j"):
            raise BackendNotSupportedError(
                f"Cypher needs the Neo4j graph store, and this workspace uses {self.settings.graph_store}: "
                "set GRAPHRAG_GRAPH_STORE=neo4j and NEO4J_URI (e.g. bolt://localhost:7687), then "
                "`graphrag index` into it"
            )
        if run is None:
            run = self.graph.run_read_cypher  # type: ignore[attr-defined]
        return run(query, params, timeout=timeout, row_limit=row_limit, all_workspaces=all_workspaces)

    def export(self, fmt: ExportFormat, out: Path) -> list[Path]:
        return export_graph(self.graph, fmt, out)

    def close(self) -> None:
        self.__dict__.pop("query_engine", None)
        resolver = self.__dict__.pop("resolver", None)
        if resolver is not None:
            resolver.store.close()
        for name in ("graph", "vectors", "state"):
            component = self.__dict__.pop(name, None)
            if component is not None:
                component.close()

    def __enter__(self) -> "GraphRAG":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
