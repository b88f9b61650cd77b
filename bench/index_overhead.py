"""What indexing costs besides the LLM: the pipeline's own time, and how well it keeps a
bounded number of LLM calls in flight.

Indexes the sample corpus (data/sample) into fresh workspaces with the scripted fake chat
model (extraction answers derived deterministically from the chunk text) and a fake
embedder (feature hashing, no model), twice: with zero latency per call, which leaves only
the pipeline's own work, and with a simulated latency per call at a given concurrency,
like a real endpoint. Prints wall time, LLM calls by purpose, prompt and completion
characters per corpus character, and the ratio of wall time to the ideal
calls x latency / concurrency (1.0 = the endpoint is never left idle).

Three operations (`--mode`): `insert` indexes the whole corpus into an empty workspace;
`add` indexes all documents but the last one (by file name; `--last N`: the last N) at
zero latency, then measures adding it; `delete` indexes all of them at zero latency, then
measures deleting it (whose changed entities and relations are summarized again). Only the measured
step's calls count towards its ideal. `--timeline` prints the calls in flight per second of
the measured step, to see where the endpoint waits. `--jitter J` draws each call's latency
uniformly from latency x (1 - J) to latency x (1 + J), as a real endpoint varies (seeded);
the ideal is then the sum of the drawn latencies / concurrency.

    .venv/bin/python bench/index_overhead.py                          # 0.1 s per call, 4 at a time
    .venv/bin/python bench/index_overhead.py --latency 0.5 --concurrency 8
    .venv/bin/python bench/index_overhead.py --latency 1 --mode all   # insert, add and delete
    .venv/bin/python bench/index_overhead.py --latency 1 --jitter 0.5 --mode insert
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphrag.core import GraphRAG  # noqa: E402
from graphrag.ingest.load import load_paths  # noqa: E402
from graphrag.llm.base import ChatResult, Message  # noqa: E402
from graphrag.llm.embed import HashingEmbedder  # noqa: E402
from graphrag.settings import Settings  # noqa: E402
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder  # noqa: E402


class BoundedChat:
    """The scripted model behind a per-event-loop semaphore, as the HTTP client bounds its
    requests; counts characters by purpose."""

    def __init__(self, inner: ScriptedChatModel, concurrency: int, jitter: float = 0.0, seed: int = 14) -> None:
        self.inner = inner
        self.latency = 0.0  # mean seconds per call; each call draws within +-jitter of it
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.drawn = 0.0  # sum of the latencies drawn since `reset`
        self.model = inner.model
        self.usage = inner.usage
        self.concurrency = concurrency
        self.chars: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # purpose -> [prompt, completion]
        self.in_flight = 0
        self.peak = 0
        self.spans: list[tuple[float, float]] = []  # (start, end) of every call since `reset`
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    def reset(self) -> None:
        """Forget the characters, peak and spans so far (the measured step starts now)."""
        self.chars.clear()
        self.peak = 0
        self.spans.clear()
        self.drawn = 0.0

    async def complete(self, messages: Sequence[Message], *, purpose: str, json_mode: bool = False, **params: Any) -> ChatResult:
        loop = id(asyncio.get_running_loop())
        semaphore = self._semaphores.setdefault(loop, asyncio.Semaphore(self.concurrency))
        async with semaphore:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            started = time.perf_counter()
            try:
                result = await self.inner.complete(messages, purpose=purpose, json_mode=json_mode, **params)
                if self.latency and not result.cached:
                    delay = self.latency * self.rng.uniform(1 - self.jitter, 1 + self.jitter)
                    self.drawn += delay
                    await asyncio.sleep(delay)
            finally:
                self.in_flight -= 1
                self.spans.append((started, time.perf_counter()))
        self.chars[purpose][0] += sum(len(m["content"]) for m in messages)
        self.chars[purpose][1] += len(result.text)
        return result

    async def stream(self, messages: Sequence[Message], *, purpose: str, **params: Any) -> AsyncIterator[str]:
        result = await self.complete(messages, purpose=purpose, **params)
        yield result.text

    async def aclose(self) -> None:
        await self.inner.aclose()


def corpus_chars(corpus: Path, settings: Settings) -> int:
    return sum(len(doc.text) for result in load_paths([corpus], settings) for doc in result.documents)


def corpus_tokens(corpus: Path, settings: Settings) -> int:
    from graphrag.tokens import count_tokens

    return sum(count_tokens(doc.text) for result in load_paths([corpus], settings) for doc in result.documents)


def _by_purpose_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per-purpose usage of the measured step only."""
    delta: dict[str, dict[str, int]] = {}
    for purpose, usage in after.items():
        prior = before.get(purpose, {})
        step = {k: v - prior.get(k, 0) for k, v in usage.items() if isinstance(v, int)}
        if step.get("calls"):
            delta[purpose] = step
    return delta


def _documents(corpus: Path, last: int) -> tuple[list[Path], list[Path]]:
    """(documents indexed before the measured step, documents it adds or deletes)."""
    docs = sorted(p for p in corpus.iterdir() if p.is_file()) if corpus.is_dir() else [corpus]
    if len(docs) <= last:
        raise SystemExit(f"{corpus}: add and delete need a folder of more than {last} documents")
    return docs[:-last], docs[-last:]


def run(
    corpus: Path, latency: float, concurrency: int, chunk_size: int, mode: str = "insert", jitter: float = 0.0,
    last: int = 1,
) -> dict[str, Any]:
    """Runs `mode` and measures its last step (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="graphrag-bench-") as tmp:
        settings = Settings(
            workspace=Path(tmp) / "ws", extractor="llm", embedder="hashing", llm_concurrency=concurrency,
            chunk_size=chunk_size, chat_base_url=None,
        )
        scripted = ScriptedChatModel(derived_extraction_responder)
        chat = BoundedChat(scripted, concurrency, jitter)
        chat.latency = 0.0 if mode != "insert" else latency
        measured_docs = [corpus]
        if mode in ("add", "delete"):
            before_step, step = _documents(corpus, last)
            folder = Path(tmp) / "corpus"
            folder.mkdir()
            for doc in before_step if mode == "add" else before_step + step:
                shutil.copy(doc, folder / doc.name)
            measured_docs = [folder]
        with GraphRAG(settings, chat=chat, embedder=HashingEmbedder(settings.embedding_dim)) as rag:  # type: ignore[arg-type]
            if mode in ("add", "delete"):
                rag.index([folder])  # the workspace the measured step starts from, at zero latency
                if mode == "add":
                    for doc in step:
                        shutil.copy(doc, folder / doc.name)
                chat.latency = latency
            before = chat.usage.snapshot()["by_purpose"]
            chat.reset()
            started = time.perf_counter()
            report = None
            if mode == "delete":
                rag.delete([str((folder / doc.name).resolve()) for doc in step])
            else:
                report = rag.index(measured_docs)
            wall = time.perf_counter() - started
            return {
                "mode": mode,
                "wall": wall,
                "report": report,
                "calls": _by_purpose_delta(chat.usage.snapshot()["by_purpose"], before),
                "chars": dict(chat.chars),
                "peak": chat.peak,
                "drawn": chat.drawn,
                "spans": [(a - started, b - started) for a, b in chat.spans],
                "chars_in": corpus_chars(corpus, settings),
                "tokens_in": corpus_tokens(corpus, settings),
            }


def timeline(spans: list[tuple[float, float]], wall: float, concurrency: int) -> str:
    """Mean calls in flight per second of the step, one digit a second ('.' for none)."""
    seconds = max(1, int(wall + 0.999))
    busy = [0.0] * seconds
    for a, b in spans:
        for s in range(int(a), min(seconds, int(b) + 1)):
            busy[s] += max(0.0, min(b, s + 1) - max(a, s))
    return "".join("." if x < 0.05 else str(min(concurrency, round(x))) for x in busy)


def show(title: str, r: dict[str, Any], latency: float, concurrency: int, show_timeline: bool = False) -> None:
    calls = sum(u["calls"] for u in r["calls"].values())
    if not calls:
        print(f"\n{title}\n  no LLM calls (wall {r['wall']:.2f} s)")
        return
    prompt = sum(c[0] for c in r["chars"].values())
    completion = sum(c[1] for c in r["chars"].values())
    report = r["report"]
    print(f"\n{title}")
    if report is not None:
        stages = report.stage_seconds
        print(f"  wall time        {r['wall']:.2f} s   (stages: "
              + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
              + f", other {r['wall'] - sum(stages.values()):.2f})")
        print(f"  chunks           {report.chunks_extracted} extracted; {report.entities} entities, "
              f"{report.relations} relations")
    else:
        print(f"  wall time        {r['wall']:.2f} s")
    print(f"  LLM calls        {calls}: " + ", ".join(f"{p} {u['calls']}" for p, u in sorted(r["calls"].items())))
    print(f"  characters       prompt {prompt / r['chars_in']:.2f}, completion {completion / r['chars_in']:.2f} "
          f"per corpus character ({r['chars_in']:,} corpus characters)")
    for purpose, (p, c) in sorted(r["chars"].items()):
        print(f"    {purpose:<12} prompt {p / r['chars_in']:.2f}  completion {c / r['chars_in']:.2f}")
    prompt_tokens = sum(u.get("prompt_tokens", 0) for u in r["calls"].values())
    print(f"  tokens           prompt {prompt_tokens / r['tokens_in']:.2f} per corpus token ({r['tokens_in']:,} corpus "
          "tokens; " + ", ".join(f"{p} {u.get('prompt_tokens', 0) / r['tokens_in']:.2f}"
                                 for p, u in sorted(r["calls"].items())) + ")")
    if latency > 0:
        ideal = r["drawn"] / concurrency
        print(f"  ideal            {calls} calls, {r['drawn']:.1f} s of latency / {concurrency} = {ideal:.2f} s; "
              f"peak in flight {r['peak']}")
        print(f"  wall / ideal     {r['wall'] / ideal:.2f}")
        busy = sum(b - a for a, b in r["spans"])
        print(f"  endpoint idle    {r['wall'] * concurrency - busy:.2f} slot-seconds of {r['wall'] * concurrency:.2f}")
        if show_timeline:
            print(f"  in flight / s    {timeline(r['spans'], r['wall'], concurrency)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="simulated seconds per LLM call")
    parser.add_argument("--concurrency", type=int, default=4, help="LLM calls in flight at most")
    parser.add_argument("--chunk-size", type=int, default=Settings().chunk_size, help="tokens per chunk")
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "sample")
    parser.add_argument("--mode", choices=["insert", "add", "delete", "all"], default="insert")
    parser.add_argument("--timeline", action="store_true", help="calls in flight per second of each measured step")
    parser.add_argument("--jitter", type=float, default=0.0, help="each call's latency within latency x (1 +- J)")
    parser.add_argument("--last", type=int, default=1, help="add and delete: how many of the last documents")
    args = parser.parse_args()

    print(f"corpus {args.corpus}, chunk size {args.chunk_size}, scripted chat model, hashing embedder")
    cold = run(args.corpus, 0.0, args.concurrency, args.chunk_size)  # imports, tokenizer, first tables
    print(f"cold run (discarded): {cold['wall']:.2f} s")
    ratios: dict[str, float] = {}
    for mode in ("insert", "add", "delete") if args.mode == "all" else (args.mode,):
        zero = run(args.corpus, 0.0, args.concurrency, args.chunk_size, mode, last=args.last)
        show(f"{mode}, zero latency: the pipeline's own time", zero, 0.0, args.concurrency)
        slow = run(args.corpus, args.latency, args.concurrency, args.chunk_size, mode, args.jitter, args.last)
        jitter = f" +-{args.jitter:.0%}" if args.jitter else ""
        show(f"{mode}, latency {args.latency:g} s{jitter} per call, concurrency {args.concurrency}", slow, args.latency,
             args.concurrency, args.timeline)
        calls = sum(u["calls"] for u in slow["calls"].values())
        if args.latency > 0 and calls:
            ideal = slow["drawn"] / args.concurrency
            ratios[mode] = slow["wall"] / ideal
            print(f"\n  waiting on the LLM beyond the ideal: {slow['wall'] - zero['wall'] - ideal:+.2f} s "
                  f"(wall with latency - wall without - ideal)")
    if len(ratios) > 1:
        print("\nwall / ideal: " + ", ".join(f"{m} {v:.2f}" for m, v in ratios.items()))


if __name__ == "__main__":
    main()
