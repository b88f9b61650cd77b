"""Retrieval latency per query mode on a warm process.

Indexes the sample corpus (data/sample) with the scripted fake chat model, then runs a fixed
list of questions through every mode and prints the median and p95 of the retrieval time:
everything a query does except chat calls — embedding the question and its keywords, vector
search, graph lookups, PPR, fetching chunks and building the token-budgeted context. The
first query of each mode (loading tables and the graph) is reported apart. Every query
embeds its question and keywords afresh (the engine's cache of them is cleared).

    .venv/bin/python bench/query_latency.py                      # MiniLM embeddings (the default)
    .venv/bin/python bench/query_latency.py --embedder hashing   # no model: the pipeline alone

On an index you already have (e.g. the one `graphrag eval --workspace DIR` keeps), without
indexing anything and without embedding the questions (their vectors are computed once,
before timing): warm retrieval alone, the figure that grows with the index.

    .venv/bin/python bench/query_latency.py --existing DIR --questions questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphrag.core import GraphRAG  # noqa: E402
from graphrag.query.result import QUERY_MODES  # noqa: E402
from graphrag.settings import Settings  # noqa: E402
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder  # noqa: E402

QUESTIONS = [
    "Who is Scrooge's clerk, and what happens to his son Tiny Tim?",
    "What does Marley's ghost warn Scrooge about?",
    "Which spirits visit Scrooge, and in what order?",
    "What does the Ghost of Christmas Past show Scrooge about his youth?",
    "How does Fezziwig celebrate Christmas Eve with his apprentices?",
    "Who is Belle and why did she leave Scrooge?",
    "What does Scrooge's nephew Fred think of Christmas?",
    "What happens at the Cratchit family's Christmas dinner?",
    "What do the businessmen say about the death of the man in the future?",
    "How has Scrooge changed on Christmas morning?",
    "What role do Ignorance and Want play in the story?",
    "Why does Scrooge refuse to give money to the charity collectors?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(corpus: Path, *, embedder: str = "local", repeat: int = 5, workspace: Path | None = None,
        questions: list[str] = QUESTIONS) -> dict:
    """Indexes `corpus` and measures every mode; returns the figures `show` prints."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(workspace=workspace or Path(tmp) / "ws", extractor="llm", embedder=embedder)
        with GraphRAG(settings, chat=ScriptedChatModel(derived_extraction_responder)) as rag:
            started = time.perf_counter()
            report = rag.index([corpus])
            figures: dict = {
                "corpus": corpus.name, "embedder": embedder, "chunk_size": settings.chunk_size,
                "chunks": rag.state.count_chunks(), "entities": report.entities, "relations": report.relations,
                "index_seconds": time.perf_counter() - started, "questions": len(questions), "repeat": repeat,
                "modes": {},
            }
            for mode in QUERY_MODES:
                rag.query_engine.refresh()  # the first query of each mode loads everything again
                first = _retrieval_seconds(rag, questions[0], mode)[0]
                runs: list[float] = []
                stages: dict[str, list[float]] = {}
                for _ in range(repeat):
                    for question in questions:
                        seconds, timings = _retrieval_seconds(rag, question, mode)
                        runs.append(seconds)
                        for stage, value in timings.items():
                            stages.setdefault(stage, []).append(value)
                figures["modes"][mode] = {
                    "first": first,
                    "median": statistics.median(runs),
                    "p95": percentile(runs, 0.95),
                    "stages": {stage: statistics.median(values) for stage, values in stages.items()},
                }
    return figures


def run_existing(workspace: Path, questions: list[str], *, repeat: int = 3, modes: tuple[str, ...] = QUERY_MODES,
                 **settings: object) -> dict:
    """Warm retrieval on an indexed workspace (offline keywords): every question's keywords
    and vectors are computed once first, so the figures leave out embedding."""
    with GraphRAG(Settings(workspace=workspace, **settings)) as rag:  # type: ignore[arg-type]
        rag.__dict__["chat"] = None
        figures: dict = {
            "corpus": str(workspace), "embedder": rag.embedder.model_id, "chunk_size": rag.settings.chunk_size,
            "chunks": rag.state.count_chunks(), "questions": len(questions), "repeat": repeat, "modes": {},
            "entities": rag.graph.stats().entities, "relations": rag.graph.stats().relations, "index_seconds": 0.0,
        }
        for mode in modes:
            first = rag.retrieve(questions[0], mode).timings["retrieval"]
            for question in questions:  # warm: keywords and vectors cached
                rag.retrieve(question, mode)
            runs: list[float] = []
            cpu: list[float] = []  # CPU time of the process (every thread): steadier than wall time on a busy machine
            stages: dict[str, list[float]] = {}
            for _ in range(repeat):
                for question in questions:
                    # Vectors stay cached (embedding is left out), their search hits do not.
                    rag.query_engine.searcher.forget_hits()
                    cpu_started = time.process_time()
                    timings = rag.retrieve(question, mode).timings
                    cpu.append(time.process_time() - cpu_started)
                    runs.append(timings["retrieval"] - timings.get("embed", 0.0) - timings.get("keywords", 0.0))
                    for stage, value in timings.items():
                        stages.setdefault(stage, []).append(value)
            figures["modes"][mode] = {
                "first": first, "median": statistics.median(runs), "p95": percentile(runs, 0.95),
                "cpu_median": statistics.median(cpu),
                "stages": {stage: statistics.median(values) for stage, values in stages.items()},
            }
    return figures


def read_questions(path: Path) -> list[str]:
    """Questions from a jsonl file ({"question": ...} per line) or a text file (one per line)."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        return [json.loads(line)["question"] for line in lines]
    return lines


def show(figures: dict) -> None:
    print(
        f"indexed {figures['corpus']}: {figures['chunks']} chunks, {figures['entities']} entities, "
        f"{figures['relations']} relations in {figures['index_seconds']:.1f} s "
        f"(embedder {figures['embedder']}, chunk size {figures['chunk_size']})"
    )
    print(f"{figures['questions']} questions x {figures['repeat']} runs per mode; milliseconds, without chat calls\n")
    print(f"{'mode':8} {'first':>7} {'median':>7} {'p95':>7} {'cpu':>7}   median by stage")
    for mode, m in figures["modes"].items():
        breakdown = "  ".join(
            f"{stage} {value * 1000:.1f}"
            for stage, value in m["stages"].items()
            if stage in ("embed", "decompose", "search", "lexical", "graph", "ppr", "chunks", "context")
        )
        cpu = f"{m['cpu_median'] * 1000:7.1f}" if "cpu_median" in m else f"{'':7}"
        print(f"{mode:8} {m['first'] * 1000:7.1f} {m['median'] * 1000:7.1f} {m['p95'] * 1000:7.1f} {cpu}   {breakdown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="local", choices=["local", "hashing"])
    parser.add_argument("--repeat", type=int, default=5, help="runs of the question list per mode")
    parser.add_argument("--workspace", type=Path, help="reuse this workspace (default: a temporary one)")
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "sample")
    parser.add_argument("--existing", type=Path, help="measure this indexed workspace as it is (no indexing)")
    parser.add_argument("--questions", type=Path, help="with --existing: questions (.jsonl with a question field, or one per line)")
    parser.add_argument("--modes", default=",".join(QUERY_MODES), help="modes to measure, comma-separated")
    args = parser.parse_args()
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if args.existing:
        questions = read_questions(args.questions) if args.questions else QUESTIONS
        show(run_existing(args.existing, questions, repeat=args.repeat, modes=modes, embedder=args.embedder))
    else:
        show(run(args.corpus, embedder=args.embedder, repeat=args.repeat, workspace=args.workspace))


def _retrieval_seconds(rag: GraphRAG, question: str, mode: str) -> tuple[float, dict[str, float]]:
    """Wall time of retrieval + context for a question seen for the first time (its vectors
    are computed), minus the keyword call (a chat call)."""
    rag.query_engine.clear_query_cache()
    started = time.perf_counter()
    result = rag.query(question, mode=mode, only_context=True)
    elapsed = time.perf_counter() - started
    return elapsed - result.timings.get("keywords", 0.0), result.timings


if __name__ == "__main__":
    main()
