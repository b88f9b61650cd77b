"""`run_eval`: index a dataset's corpus into a fresh workspace, ask every question in every
mode, and score the ranked passages (and, with a chat model, the answers).

Each passage is one document (`title + "\\n" + text`); a retrieved chunk maps back to its
passage through its document, and a passage counts once, at its first rank. All modes of
a question share one keyword extraction, so they differ only in how they retrieve. BM25
(LanceDB full-text search over the same passages) runs alongside as a reference.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphrag.core import GraphRAG
from graphrag.errors import ConfigError
from graphrag.eval.bm25 import BM25Index
from graphrag.eval.cache import copy_extractions, default_cache_dir, open_cache
from graphrag.eval.dataset import Dataset, Question
from graphrag.eval.judge import CRITERIA, Judge
from graphrag.eval.metrics import (
    answer_contains,
    dedupe,
    exact_match,
    paired_bootstrap,
    retrieval_scores,
    short_answer,
    token_f1,
)
from graphrag.ingest.chunk import chunk_document
from graphrag.llm.base import ChatModel, Embedder
from graphrag.models import Document
from graphrag.query.result import QUERY_MODES
from graphrag.settings import Settings

log = logging.getLogger(__name__)

BM25_MODE = "bm25"
DEFAULT_KS = (2, 5, 10)
CORPUS_FOLDER = "eval-corpus"
Progress = Callable[[str, int, int], None]


@dataclass
class EvalOptions:
    modes: Sequence[str] = QUERY_MODES
    ks: Sequence[int] = DEFAULT_KS
    top_k: int = 20  # passages ranked per question (MRR counts within them)
    bm25: bool = True
    answers: bool | None = None  # None: when a chat model is configured
    judge: bool = False  # LLM-judged faithfulness and relevance (3 calls per answer)
    workspace: Path | None = None  # keep the index here; None: a temporary one
    cache_dir: Path | None = None  # cross-run cache; None: default_cache_dir()
    use_cache: bool = True

    def check(self) -> None:
        unknown = [m for m in self.modes if m not in QUERY_MODES]
        if unknown:
            raise ConfigError(f"unknown mode(s) {', '.join(unknown)}; use {', '.join(QUERY_MODES)}")
        if not self.modes and not self.bm25:
            raise ConfigError("nothing to evaluate: give at least one mode or keep BM25")
        if not self.ks or any(k < 1 for k in self.ks):
            raise ConfigError(f"every k must be at least 1, got {list(self.ks)}")
        if self.top_k < max(self.ks):
            raise ConfigError(f"top_k ({self.top_k}) must be at least the largest k ({max(self.ks)})")

    @property
    def headline_k(self) -> int:
        """The k of all@k, NDCG@k and the comparisons in the summary table."""
        return 5 if 5 in self.ks else sorted(self.ks)[len(self.ks) // 2]


def run_eval(
    dataset: Dataset,
    settings: Settings,
    options: EvalOptions | None = None,
    *,
    chat: ChatModel | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The evaluation as a JSON-ready dict: config, index figures, per-mode summary,
    comparisons with naive, per-type recall and one row per question."""
    options = options or EvalOptions()
    options.check()
    progress = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    with ExitStack() as stack:
        workspace = options.workspace or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="graphrag-eval-")))
        settings = settings.model_copy(update={"workspace": workspace, "vector_uri": None, "graph_namespace": None})
        cache = None
        if options.use_cache:
            cache = open_cache(options.cache_dir or default_cache_dir())
            stack.callback(cache.close)
        rag = _open(settings, dataset, cache, chat, embedder)
        stack.callback(rag.close)
        if options.workspace is None and settings.graph_store == "neo4j":
            stack.callback(lambda: rag.graph.drop_namespace())  # type: ignore[attr-defined]
        answering = rag.chat is not None if options.answers is None else options.answers
        if answering and rag.chat is None:
            raise ConfigError("scoring answers needs a chat model: set GRAPHRAG_CHAT_BASE_URL and GRAPHRAG_CHAT_MODEL")
        if options.judge and not answering:
            raise ConfigError("--judge grades answers: it needs a chat model and answers on")

        index = _index(rag, dataset, workspace, cache, progress)
        passage_of = _passage_map(rag, dataset)
        bm25 = None
        if options.bm25:
            texts = {p.id: p.indexed_text for p in dataset.passages}
            bm25 = BM25Index(workspace / "bm25", [(pid, texts[pid]) for pid in sorted(set(passage_of.values()))])
        queries_started = time.perf_counter()
        rows = _run_questions(rag, dataset.questions, passage_of, bm25, options, answering, progress)
        query_seconds = time.perf_counter() - queries_started
        modes = ([BM25_MODE] if bm25 is not None else []) + list(options.modes)
        return {
            "dataset": {
                "name": dataset.name,
                "path": str(dataset.path),
                "questions": len(dataset.questions),
                "passages": len(dataset.passages),
            },
            "config": {
                "modes": modes,
                "ks": list(options.ks),
                "headline_k": options.headline_k,
                "top_k": options.top_k,
                "extractor": rag.extractor.extractor_id,
                "embedder": rag.embedder.model_id,
                "chat_model": getattr(rag.chat, "model", None),
                "answers": answering,
                "judge": options.judge,
                "chunk_size": settings.chunk_size,
                "graph_store": settings.graph_store,
                "lexical": settings.query_lexical,
                "lexical_weight": settings.query_lexical_weight,
                "graph_weight": settings.query_graph_weight,
                "mix_fusion": settings.query_mix_fusion,
                "mix_ppr_weight": settings.query_mix_ppr_weight,
                "expansion": settings.query_expansion,
                "rerank": settings.query_rerank,
                "auto_classifier": settings.query_auto_classifier,
                "decompose": settings.query_decompose,
                "bridge_mass": settings.ppr_bridge_mass,
                "bridge_rewrite": settings.query_bridge_rewrite,
            },
            "index": index,
            "summary": {mode: summarize(rows, mode, options) for mode in modes},
            "comparisons": compare(rows, modes, options),
            "by_type": by_type(rows, modes, options),
            "routes": routes(rows, options),
            "seconds": {
                "index": index["seconds"],
                "queries": round(query_seconds, 3),
                "total": round(time.perf_counter() - started, 3),
            },
            "llm": rag.usage.snapshot(),
            "questions": rows,
        }


# --------------------------------------------------------------------------- indexing


def _open(
    settings: Settings, dataset: Dataset, cache: Any, chat: ChatModel | None, embedder: Embedder | None
) -> GraphRAG:
    from graphrag.llm.chat import build_chat_model
    from graphrag.llm.embed import build_embedder

    if cache is not None:
        embedder = embedder or build_embedder(settings, cache)
        chat = chat or build_chat_model(settings, cache)
    extractor = None
    kind = settings.resolved_extractor
    if kind.startswith("replay:"):
        from graphrag.extract.replay import ReplayExtractor, passage_id

        # Corpora whose ids are not the hash of the text: map their texts to the records.
        aliases = {p.indexed_text: p.id for p in dataset.passages if passage_id(p.indexed_text) != p.id}
        extractor = ReplayExtractor(kind.removeprefix("replay:"), aliases=aliases)
    rag = GraphRAG(settings, chat=chat, embedder=embedder, extractor=extractor)
    if chat is None and cache is not None:
        rag.__dict__["chat"] = None  # no endpoint configured: offline
    return rag


def _index(rag: GraphRAG, dataset: Dataset, workspace: Path, cache: Any, progress: Progress) -> dict[str, Any]:
    folder = workspace / CORPUS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "passages.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for p in dataset.passages:
            fh.write(json.dumps({"id": p.id, "title": p.title, "text": p.text}, ensure_ascii=False) + "\n")
    settings = rag.settings
    chunks = {
        p.id: chunk_document(Document.from_text(p.indexed_text, source=p.id), settings.chunk_size, settings.chunk_overlap)
        for p in dataset.passages
    }
    hashes = {c.text_hash for cs in chunks.values() for c in cs}
    extractor_id = rag.extractor.extractor_id
    reused = copy_extractions(cache, rag.state, hashes, extractor_id) if cache is not None else 0
    # prune: a kept workspace holds exactly this corpus, also after a different slice.
    report = rag.index([corpus], progress=progress, prune=True)
    if cache is not None:
        copy_extractions(rag.state, cache, hashes, extractor_id)
    stats = rag.stats()
    figures: dict[str, Any] = {
        "seconds": report.seconds,
        "stage_seconds": report.stage_seconds,
        "documents": stats["documents"],
        "documents_failed": report.documents_failed,
        "failures": report.failures[:10],
        "chunks": stats["chunks"],
        "passages_split": sum(1 for cs in chunks.values() if len(cs) > 1),
        "entities": stats["entities"],
        "relations": stats["relations"],
        "chunks_extracted": report.chunks_extracted,
        "extractions_from_cache": reused,
        "llm": report.usage,
    }
    for name in ("embedded_count", "cache_hits"):
        if hasattr(rag.embedder, name):
            figures[f"embedder_{name}"] = getattr(rag.embedder, name)
    match = getattr(rag.extractor, "match", None)
    if callable(match):
        records = [r for r in (match(p.indexed_text) for p in dataset.passages) if r is not None]
        figures["replay"] = {
            "file": rag.extractor.counts.to_dict(),  # type: ignore[attr-defined]
            "passages_with_record": len(records),
            "passages_without_record": len(dataset.passages) - len(records),
            "triples": sum(len(r.triples) for r in records),
            "malformed_triples": sum(r.malformed_triples for r in records),
        }
    return figures


def _passage_map(rag: GraphRAG, dataset: Dataset) -> dict[str, str]:
    """Document id -> passage id, from the `<file>#<id>` source of each jsonl record."""
    known = {p.id for p in dataset.passages}
    mapping = {}
    for record in rag.state.list_documents("processed"):
        pid = record.source.rpartition("#")[2]
        if pid in known:
            mapping[record.id] = pid
    return mapping


# --------------------------------------------------------------------------- questions


def _run_questions(
    rag: GraphRAG,
    questions: Sequence[Question],
    passage_of: dict[str, str],
    bm25: BM25Index | None,
    options: EvalOptions,
    answering: bool,
    progress: Progress,
) -> list[dict[str, Any]]:
    engine = rag.query_engine
    judge = Judge(rag.chat) if options.judge and rag.chat is not None else None
    # Offline, queries are CPU-bound: one at a time. With a chat model, as many as it serves.
    limit = asyncio.Semaphore(rag.settings.llm_concurrency if rag.chat is not None else 1)
    done = 0

    async def ask(q: Question) -> dict[str, Any]:
        nonlocal done
        async with limit:
            row = await _ask(q)
        done += 1
        progress("query", done, len(questions))
        return row

    async def _ask(q: Question) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": q.id, "question": q.question, "type": q.type, "answers": list(q.answers),
            "gold": list(q.gold_passage_ids), "modes": {},
        }
        if bm25 is not None:
            t0 = time.perf_counter()
            ranked = [pid for pid, _ in bm25.search(q.question, options.top_k)]
            row["modes"][BM25_MODE] = _entry(ranked, q, options, time.perf_counter() - t0)
        keywords = None
        if options.modes:
            try:
                keywords = await engine.keyword_extractor.extract(q.question)
                row["keywords"] = keywords.to_dict()
            except Exception as exc:  # the modes then extract (and fail) on their own
                log.warning("keywords for %s failed: %s", q.id, exc)
        for mode in options.modes:
            t0 = time.perf_counter()
            try:
                if answering:
                    # Same keywords: the engine's keyword cache already holds them.
                    result = await engine.aquery(q.question, mode, options.top_k)
                    retrieval = result.retrieval
                else:
                    retrieval = await engine.aretrieve(q.question, mode, options.top_k, keywords=keywords)
            except Exception as exc:  # a failed question scores 0, it is not dropped
                log.warning("%s in mode %s failed: %s", q.id, mode, exc)
                row["modes"][mode] = {**_entry([], q, options, time.perf_counter() - t0), "error": f"{type(exc).__name__}: {exc}"}
                continue
            ranked = dedupe(passage_of[c.document_id] for c in retrieval.chunks if c.document_id in passage_of)
            # The mode's own work: embedding the question and its keywords is the same for
            # every mode, and only the first mode of a question pays for it (then cached).
            t = retrieval.timings
            seconds = t.get("retrieval", time.perf_counter() - t0) - t.get("embed", 0.0) - t.get("keywords", 0.0)
            entry = _entry(ranked, q, options, seconds)
            if retrieval.route is not None:
                entry["route"] = retrieval.route
            if retrieval.expansions:
                entry["expansions"] = retrieval.expansions
            if answering:
                entry["answer"] = result.answer
                entry["short_answer"] = short = short_answer(result.answer)
                entry["em"] = exact_match(short, q.answers)
                entry["f1"] = token_f1(short, q.answers)
                entry["accuracy"] = answer_contains(result.answer, q.answers)
                if judge is not None:
                    entry["judge"] = await judge.score(q.question, result.answer, result.context)
            row["modes"][mode] = entry
        return row

    async def main() -> list[dict[str, Any]]:
        try:
            return list(await asyncio.gather(*(ask(q) for q in questions)))
        finally:
            if rag.chat is not None:
                await rag.chat.aclose()

    progress("query", 0, len(questions))
    return asyncio.run(main())


def _entry(ranked: list[str], q: Question, options: EvalOptions, seconds: float) -> dict[str, Any]:
    ranked = ranked[: options.top_k]
    gold = set(q.gold_passage_ids)
    return {
        "ranked": ranked,
        "gold_ranks": {pid: (ranked.index(pid) + 1 if pid in ranked else None) for pid in q.gold_passage_ids},
        **{k: round(v, 6) for k, v in retrieval_scores(ranked, gold, options.ks).items()},
        "seconds": round(seconds, 5),
    }


# --------------------------------------------------------------------------- aggregation


def metric_names(options: EvalOptions) -> list[str]:
    ks = list(options.ks)
    return [*(f"recall@{k}" for k in ks), *(f"all@{k}" for k in ks), "mrr", *(f"ndcg@{k}" for k in ks)]


def summarize(rows: Sequence[dict[str, Any]], mode: str, options: EvalOptions) -> dict[str, Any]:
    """Means over every question (a failed one counts as 0)."""
    entries = [r["modes"][mode] for r in rows if mode in r["modes"]]
    n = len(rows)
    summary: dict[str, Any] = {
        name: round(sum(e.get(name, 0.0) for e in entries) / n, 4) if n else 0.0 for name in metric_names(options)
    }
    answered = [e for e in entries if "em" in e]
    if answered:
        for name in ("em", "f1", "accuracy"):
            summary[name] = round(sum(e[name] for e in answered) / n, 4)
    judged = [e["judge"] for e in entries if "judge" in e]
    for criterion in CRITERIA:
        values = [j[criterion] for j in judged if j.get(criterion) is not None]
        if values:
            summary[criterion] = round(sum(values) / len(values), 4)
    seconds = [e["seconds"] for e in entries]
    summary["median_ms"] = round(1000 * statistics.median(seconds), 2) if seconds else None
    summary["errors"] = sum(1 for e in entries if "error" in e)
    return summary


def compare(rows: Sequence[dict[str, Any]], modes: Sequence[str], options: EvalOptions) -> dict[str, Any]:
    """Paired bootstrap of recall@headline_k against naive (the dense baseline)."""
    if "naive" not in modes:
        return {}
    metric = f"recall@{options.headline_k}"
    base = [r["modes"].get("naive", {}).get(metric, 0.0) for r in rows]
    out = {}
    for mode in modes:
        if mode == "naive":
            continue
        values = [r["modes"].get(mode, {}).get(metric, 0.0) for r in rows]
        diff, low, high = paired_bootstrap(values, base)
        out[mode] = {"metric": metric, "versus": "naive", "diff": round(diff, 4), "low": round(low, 4), "high": round(high, 4)}
    return out


def by_type(rows: Sequence[dict[str, Any]], modes: Sequence[str], options: EvalOptions) -> dict[str, Any]:
    metric = f"recall@{options.headline_k}"
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r.get("type") or "?", []).append(r)
    return {
        t: {"n": len(g), "metric": metric, **{m: round(sum(r["modes"].get(m, {}).get(metric, 0.0) for r in g) / len(g), 4) for m in modes}}
        for t, g in sorted(groups.items())
    }


def routes(rows: Sequence[dict[str, Any]], options: EvalOptions) -> dict[str, Any]:
    """Mode auto, per question type of the dataset: how often it picked each mode, its
    recall, and the best single mode's recall on the same questions."""
    metric = f"recall@{options.headline_k}"
    single = [m for m in options.modes if m != "auto"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if "auto" in r["modes"]:
            groups.setdefault(r.get("type") or "?", []).append(r)
    out: dict[str, Any] = {}
    for t, g in sorted(groups.items()):
        picked: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for r in g:
            route = r["modes"]["auto"].get("route") or {}
            picked[route.get("mode", "?")] = picked.get(route.get("mode", "?"), 0) + 1
            kinds[route.get("kind", "?")] = kinds.get(route.get("kind", "?"), 0) + 1
        mean = {m: sum(r["modes"].get(m, {}).get(metric, 0.0) for r in g) / len(g) for m in [*single, "auto"]}
        best = max(single, key=lambda m: mean[m]) if single else None
        out[t] = {
            "n": len(g), "metric": metric, "kinds": kinds, "picked": picked, "auto": round(mean["auto"], 4),
            **({"best_mode": best, "best": round(mean[best], 4)} if best else {}),
        }
    return out
