"""`QueryEngine`: keywords -> retrieval -> context -> answer, for one workspace.

One engine lives as long as its process: it keeps the keyword cache, the in-memory vector
tables and the PPR graph between queries, so only the first query pays for loading them.
`refresh()` drops them after the index changed.
"""

from __future__ import annotations

import asyncio
import logging
import concurrent.futures
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from graphrag.errors import ConfigError
from graphrag.indexer import CHUNKS_TABLE, ENTITIES_TABLE, RELATIONS_TABLE
from graphrag.llm.base import ChatModel, Embedder
from graphrag.query.answer import NOT_FOUND, Answer, extractive_answer, generate_answer, stream_answer
from graphrag.query.context import Context, ContextBudgets, build_context
from graphrag.query.keywords import KeywordExtractor
from graphrag.query.result import QUERY_MODES, Keywords, QueryResult, Retrieval
from graphrag.query.conversation import Turn, condense, with_carried
from graphrag.query.expansion import hypothetical_passage, rewordings
from graphrag.query.expansion import require_chat as require_expansion_chat
from graphrag.query.fusion import Channel, fuse_chunks
from graphrag.query.lexical import LexicalSearcher
from graphrag.query.modes import ModeRunner
from graphrag.query.retrieve import QueryVectors, Ranked, Retriever, Timer
from graphrag.query.rerank import rerank_llm
from graphrag.query.rerank import require_chat as require_rerank_chat
from graphrag.query.retrieve_ppr import PPRRetriever
from graphrag.query.route import route as route_question
from graphrag.query.route import route_with_model
from graphrag.query.usage import QueryUsage
from graphrag.query.vector_search import VectorSearcher
from graphrag.reconcile import VECTOR_COMPOSITION_KEY
from graphrag.settings import Settings
from graphrag.stores.base import GraphStore, StateStore, VectorStore

T = TypeVar("T")
log = logging.getLogger(__name__)
VECTOR_CACHE_SIZE = 8192


class QueryEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        graph: GraphStore,
        vectors: VectorStore,
        state: StateStore,
        embedder: Embedder,
        chat: ChatModel | None = None,
    ) -> None:
        self.settings = settings
        self.graph = graph
        self.state = state
        # Queries bypass the state store's embedding cache: a write per new question would
        # grow it without bound. Repeated texts hit an in-process LRU instead.
        self.embedder: Embedder = getattr(embedder, "inner", embedder)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()
        self.chat = chat
        self.searcher = VectorSearcher(
            vectors, settings.query_vector_cache_rows, settings.query_blas_threads,
            hnsw_min_rows=settings.query_hnsw_min_rows, hnsw_folder=Path(settings.workspace) / "ann",
            hnsw_ef=settings.query_hnsw_ef,
        )
        self.retriever = Retriever(settings, graph=graph, state=state, searcher=self.searcher)
        self.ppr_retriever = PPRRetriever(self.retriever, self._embed_texts)
        self.modes = ModeRunner(self.retriever, self.ppr_retriever, LexicalSearcher(vectors))
        self.keyword_extractor = KeywordExtractor(chat, language=settings.language)
        # The graph's change log position that what is loaded reflects (at least: a structure
        # loaded later also holds what came after; catching up on it again is harmless).
        self._refresh_lock = threading.Lock()
        self._mark = self._change_mark()
        self._composition = self.state.cache_get(VECTOR_COMPOSITION_KEY)

    def refresh(self) -> None:
        """Brings what was loaded from the stores up to date (call after indexing or deleting,
        and after the stores caught up with another process's writes). With a graph store
        that keeps a change log (the embedded SQLite one), the vector tables and the PPR graph
        read just the rows changed since they were loaded: at 100k entities the first query
        after a one-document add costs a fraction of a second instead of a full load (5–16 s).
        Otherwise everything is loaded again by the next query."""
        with self._refresh_lock:  # two requests that both saw the update catch up once
            try:
                self._catch_up()
            except Exception as e:  # a store read failing: the next query loads everything instead
                log.warning("could not catch up with the workspace's update (%s); loading it again", e)
                self._mark = None  # the next refresh drops again and reads the mark anew
                self.searcher.invalidate()
                self.ppr_retriever.invalidate()

    def _catch_up(self) -> None:
        changes_since = getattr(self.graph, "changes_since", None)
        caught = changes_since(self._mark) if changes_since is not None and self._mark is not None else None
        # A migration re-embeds every row without a change-log row for each.
        composition = self.state.cache_get(VECTOR_COMPOSITION_KEY)
        if caught is None or composition != self._composition:
            self._drop_loaded()
            return
        mark, changed = caught
        if any(changed.values()):
            self.searcher.catch_up({
                CHUNKS_TABLE: changed.get("chunk", set()),
                ENTITIES_TABLE: changed.get("entity", set()),
                RELATIONS_TABLE: changed.get("relation", set()),
            })
            self.ppr_retriever.catch_up(changed)
        self._mark = mark

    def _drop_loaded(self) -> None:
        self.searcher.invalidate()
        self.ppr_retriever.invalidate()
        self._mark = self._change_mark()
        self._composition = self.state.cache_get(VECTOR_COMPOSITION_KEY)

    def _change_mark(self) -> int | None:
        change_mark = getattr(self.graph, "change_mark", None)
        return change_mark() if change_mark is not None else None

    def clear_query_cache(self) -> None:
        """Forgets the keywords and vectors of past questions (the next query of the same
        question pays for them again, as a new question does)."""
        self.keyword_extractor.clear()
        self.searcher.forget_hits()
        with self._vectors_lock:
            self._vectors.clear()

    # ------------------------------------------------------------ retrieval
    async def aretrieve(
        self,
        question: str,
        mode: str | None = None,
        top_k: int | None = None,
        *,
        keywords: Keywords | None = None,
        usage: QueryUsage | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Retrieval:
        """Ranked entities, relations and chunks for `question` (after the earlier turns in
        `history`, if any). Model calls, each only when configured: condensing a follow-up,
        keywords (none when `keywords` are given), routing `auto`, expansion, rerank."""
        mode = self._mode(mode)
        top_k = top_k or self.settings.query_top_k
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {top_k}")
        s = self.settings
        chat_expansion = require_expansion_chat(s.query_expansion, self.chat) if s.query_expansion != "none" else None
        chat_rerank = require_rerank_chat(s.query_rerank, self.chat) if s.query_rerank != "none" else None
        timer = Timer()
        started = time.perf_counter()
        with timer("condense"):
            condensed = await condense(question, history or (), self.chat, self._offline_keywords, usage)
        searched = question if condensed.by == "offline" else condensed.question
        if keywords is None:
            with timer("keywords"):
                keywords = await self.keyword_extractor.extract(searched, usage)
        keywords = with_carried(keywords, condensed.carried)
        route = None
        asked_mode = mode
        if mode == "auto":
            with timer("route"):
                if s.query_auto_classifier == "llm" and self.chat is not None:
                    route = await route_with_model(self.chat, searched, keywords, usage)
                else:
                    route = route_question(searched, keywords)
            mode = route.mode
        depth = max(top_k, s.query_rerank_candidates) if chat_rerank is not None else top_k
        variants: list[str] = []
        with timer("expansion"):
            if chat_expansion is not None and s.query_expansion == "multi":
                variants = await rewordings(chat_expansion, searched, s.query_expansion_count, usage)
            elif chat_expansion is not None and s.query_expansion == "hyde":
                variants = [await hypothetical_passage(chat_expansion, searched, usage)]
        inner = None
        if s.query_decompose and mode != "naive":  # only the walks use it
            with timer("decompose"):
                inner = self.keyword_extractor.inner_question(condensed.question)
        with timer("embed"):
            qv = self._embed(condensed.question, keywords, variants, inner)
        if s.query_expansion == "hyde" and variants:
            # The dense channel searches with the passage the model imagined, and the
            # question, averaged; BM25 keeps the question's own words.
            mean = qv.question + qv.extra[0]
            qv = replace(qv, question=mean / max(float(np.linalg.norm(mean)), 1e-12), extra=qv.extra[:0])
        ranked = self._run_mode(mode, keywords, qv, depth, timer)
        if s.query_expansion == "multi" and len(qv.extra):
            runs = [ranked.chunk_scores]
            for text, vector in zip(variants, qv.extra):
                runs.append(self._run_mode(mode, keywords, replace(qv, question=vector, text=text), depth, timer).chunk_scores)
            ranked.chunk_scores = fuse_chunks([Channel(f"q{i}", r) for i, r in enumerate(runs)], depth)
        entities, relations, chunks = self.retriever.hydrate(ranked, timer)
        if chat_rerank is not None:
            with timer("rerank"):
                chunks = await rerank_llm(chat_rerank, searched, chunks, usage)
        chunks = chunks[:top_k]
        timings = timer.rounded()
        timings["retrieval"] = round(time.perf_counter() - started, 5)
        return Retrieval(
            question, asked_mode, keywords, entities, relations, chunks, timings,
            route=route.to_dict() if route else None,
            standalone_question=condensed.question if condensed.by != "none" else None,
            expansions=variants if s.query_expansion == "multi" else [],
        )

    def retrieve(self, question: str, mode: str | None = None, top_k: int | None = None, **kw: Any) -> Retrieval:
        return run_sync(self.aretrieve(question, mode, top_k, **kw))

    async def _offline_keywords(self, text: str) -> Keywords:
        return self.keyword_extractor.offline(text)

    def _mode(self, mode: str | None) -> str:
        mode = mode or self.settings.query_mode
        if mode not in QUERY_MODES:
            raise ConfigError(f"unknown query mode {mode!r}; use one of {', '.join(QUERY_MODES)}")
        return mode

    def _embed(
        self, question: str, keywords: Keywords, extra: Sequence[str] = (), inner: str | None = None
    ) -> QueryVectors:
        texts = [question, *keywords.low_level, *keywords.high_level, *extra, *([inner] if inner else [])]
        # One batch for the question, every keyword, expansion and the inner question.
        matrix = self._embed_texts(texts)
        n_low, n_high, n_extra = len(keywords.low_level), len(keywords.high_level), len(extra)
        start = 1 + n_low + n_high
        return QueryVectors(
            question=matrix[0],
            low=matrix[1 : 1 + n_low],
            high=matrix[1 + n_low : start],
            text=question,
            extra=matrix[start : start + n_extra],
            inner=matrix[start + n_extra] if inner else None,
            inner_text=inner or "",
        )

    def _embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts` (one row each), embedding in one batch those not in the LRU."""
        with self._vectors_lock:  # API requests query from several threads
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            found.update(zip(missing, np.asarray(self.embedder.embed(missing), dtype=np.float32)))
        with self._vectors_lock:
            for text in texts:
                self._vectors[text] = found[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > VECTOR_CACHE_SIZE:
                self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def _run_mode(self, mode: str, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        return self.modes.mode(mode)(keywords, qv, top_k, timer)

    # ------------------------------------------------------------ answers
    async def aquery(
        self,
        question: str,
        mode: str | None = None,
        top_k: int | None = None,
        *,
        only_context: bool = False,
        history: Sequence[Turn] | None = None,
    ) -> QueryResult:
        usage = QueryUsage()
        started = time.perf_counter()
        retrieval = await self.aretrieve(question, mode, top_k, usage=usage, history=history)
        asked = retrieval.standalone_question or question
        context = self._context(retrieval)
        timings = dict(retrieval.timings)
        answer_started = time.perf_counter()
        if only_context:
            answer = Answer("", [], supported=not context.empty)
        elif context.empty:
            answer = Answer(NOT_FOUND, [], supported=False)
        elif self.chat is None:
            answer = extractive_answer(asked, retrieval.keywords, context)
        else:
            answer = await generate_answer(
                self.chat, asked, context, language=self.settings.language, usage=usage
            )
        timings["answer"] = round(time.perf_counter() - answer_started, 5)
        timings["total"] = round(time.perf_counter() - started, 5)
        return self._result(question, retrieval, context, answer, timings, usage)

    def query(
        self,
        question: str,
        mode: str | None = None,
        top_k: int | None = None,
        *,
        only_context: bool = False,
        history: Sequence[Turn] | None = None,
    ) -> QueryResult:
        return run_sync(self.aquery(question, mode, top_k, only_context=only_context, history=history))

    def stream(
        self,
        question: str,
        mode: str | None = None,
        top_k: int | None = None,
        *,
        only_context: bool = False,
        history: Sequence[Turn] | None = None,
    ) -> "StreamingAnswer":
        return StreamingAnswer(self, question, mode, top_k, only_context=only_context, history=history)

    def _context(self, retrieval: Retrieval) -> Context:
        started = time.perf_counter()
        context = build_context(retrieval, ContextBudgets.from_settings(self.settings), self._locate_chunks)
        retrieval.timings["context"] = round(time.perf_counter() - started, 5)
        return context

    def _locate_chunks(self, chunk_ids: Sequence[str]) -> Mapping[str, tuple[str, str, str]]:
        chunks = self.state.get_chunks(chunk_ids)
        documents = {d: self.state.get_document(d) for d in {c.document_id for c in chunks.values()}}
        located = {}
        for chunk_id, chunk in chunks.items():
            doc = documents.get(chunk.document_id)
            located[chunk_id] = (chunk.document_id, doc.source if doc else "", doc.title if doc else "")
        return located

    def _result(
        self,
        question: str,
        retrieval: Retrieval,
        context: Context,
        answer: Answer,
        timings: dict[str, float],
        usage: QueryUsage,
    ) -> QueryResult:
        timings.setdefault("context", retrieval.timings.get("context", 0.0))
        return QueryResult(
            question=question,
            mode=retrieval.mode,
            answer=answer.text,
            references=answer.references,
            retrieval=retrieval,
            context=context.text,
            context_references=context.references,
            context_tokens=context.tokens,
            supported=answer.supported,
            timings=timings,
            llm=usage.to_dict(),
        )


class StreamingAnswer:
    """`async for piece in engine.stream(q)` yields the answer as it is written; `result`
    holds the whole QueryResult (answer, references, chunks...) once the stream is done.

    `await stream.prepare()` first, to retrieve and build the context before the answer
    starts (`retrieval`, `context` are then set: e.g. to send the references ahead)."""

    def __init__(
        self,
        engine: QueryEngine,
        question: str,
        mode: str | None,
        top_k: int | None,
        *,
        only_context: bool = False,
        history: Sequence[Turn] | None = None,
    ) -> None:
        self.engine = engine
        self.question = question
        self.history = history
        self.mode = mode
        self.top_k = top_k
        self.only_context = only_context
        self.retrieval: Retrieval | None = None
        self.context: Context | None = None
        self.result: QueryResult | None = None
        self._usage = QueryUsage()
        self._started = 0.0

    async def prepare(self) -> Context:
        if self.context is None:
            self._started = time.perf_counter()
            self.retrieval = await self.engine.aretrieve(
                self.question, self.mode, self.top_k, usage=self._usage, history=self.history
            )
            self.context = self.engine._context(self.retrieval)
        return self.context

    @property
    def _asked(self) -> str:
        """The question the answer answers: a follow-up made standalone."""
        return (self.retrieval.standalone_question if self.retrieval else None) or self.question

    def __aiter__(self) -> AsyncIterator[str]:
        return self._run()

    async def _run(self) -> AsyncIterator[str]:
        engine = self.engine
        context = await self.prepare()
        assert self.retrieval is not None
        answer_started = time.perf_counter()
        if self.only_context:
            answer = Answer("", [], supported=not context.empty)
        elif context.empty or engine.chat is None:
            answer = (
                Answer(NOT_FOUND, [], supported=False)
                if context.empty
                else extractive_answer(self._asked, self.retrieval.keywords, context)
            )
            yield answer.text
        else:
            answer = Answer("")
            async for piece in stream_answer(
                engine.chat, self._asked, context, answer, language=engine.settings.language, usage=self._usage
            ):
                yield piece
        timings = dict(self.retrieval.timings)
        timings["answer"] = round(time.perf_counter() - answer_started, 5)
        timings["total"] = round(time.perf_counter() - self._started, 5)
        self.result = engine._result(self.question, self.retrieval, context, answer, timings, self._usage)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine from synchronous code, also when an event loop is already running
    in this thread (a notebook): then on a worker thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
