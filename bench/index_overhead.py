"""What indexing costs besides the LLM: the pipeline's own time, and how well it keeps a
bounded number of LLM calls in flight.

Indexes the sample corpus (data/sample) into fresh workspaces with the scripted fake chat
model (extraction answers derived deterministically from the chunk text) and a fake
embedder (feature hashing, no model), twice: with zero latency per call, which leaves only
the pipeline's own work, and with a simulated latency per call at a given concurrency,
like a real endpoint. Prints wall time, LLM calls by purpose, prompt and completion
characters per corpus character, and the ratio of wall time to the ideal
calls x latency / concurrency (1.0 = the endpoint is never left idle).

    .venv/bin/python bench/index_overhead.py                          # 0.1 s per call, 4 at a time
    .venv/bin/python bench/index_overhead.py --latency 0.5 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
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

    def __init__(self, inner: ScriptedChatModel, concurrency: int) -> None:
        self.inner = inner
        self.model = inner.model
        self.usage = inner.usage
        self.concurrency = concurrency
        self.chars: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # purpose -> [prompt, completion]
        self.in_flight = 0
        self.peak = 0
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    async def complete(self, messages: Sequence[Message], *, purpose: str, json_mode: bool = False, **params: Any) -> ChatResult:
        loop = id(asyncio.get_running_loop())
        semaphore = self._semaphores.setdefault(loop, asyncio.Semaphore(self.concurrency))
        async with semaphore:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                result = await self.inner.complete(messages, purpose=purpose, json_mode=json_mode, **params)
            finally:
                self.in_flight -= 1
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


def run(corpus: Path, latency: float, concurrency: int, chunk_size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="graphrag-bench-") as tmp:
        settings = Settings(
            workspace=Path(tmp) / "ws", extractor="llm", embedder="hashing", llm_concurrency=concurrency,
            chunk_size=chunk_size, chat_base_url=None,
        )
        chat = BoundedChat(ScriptedChatModel(derived_extraction_responder, latency=latency), concurrency)
        with GraphRAG(settings, chat=chat, embedder=HashingEmbedder(settings.embedding_dim)) as rag:  # type: ignore[arg-type]
            started = time.perf_counter()
            report = rag.index([corpus])
            wall = time.perf_counter() - started
            return {
                "wall": wall,
                "report": report,
                "calls": chat.usage.snapshot()["by_purpose"],
                "chars": dict(chat.chars),
                "peak": chat.peak,
                "chars_in": corpus_chars(corpus, settings),
                "tokens_in": corpus_tokens(corpus, settings),
            }


def show(title: str, r: dict[str, Any], latency: float, concurrency: int) -> None:
    calls = sum(u["calls"] for u in r["calls"].values())
    prompt = sum(c[0] for c in r["chars"].values())
    completion = sum(c[1] for c in r["chars"].values())
    report = r["report"]
    print(f"\n{title}")
    stages = report.stage_seconds
    print(f"  wall time        {r['wall']:.2f} s   (stages: "
          + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
          + f", other {r['wall'] - sum(stages.values()):.2f})")
    print(f"  chunks           {report.chunks_extracted} extracted; {report.entities} entities, {report.relations} relations")
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
        ideal = calls * latency / concurrency
        print(f"  ideal            {calls} calls x {latency:g} s / {concurrency} = {ideal:.2f} s; peak in flight {r['peak']}")
        print(f"  wall / ideal     {r['wall'] / ideal:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="simulated seconds per LLM call")
    parser.add_argument("--concurrency", type=int, default=4, help="LLM calls in flight at most")
    parser.add_argument("--chunk-size", type=int, default=Settings().chunk_size, help="tokens per chunk")
    parser.add_argument("--corpus", type=Path, default=REPO / "data" / "sample")
    args = parser.parse_args()

    print(f"corpus {args.corpus}, chunk size {args.chunk_size}, scripted chat model, hashing embedder")
    cold = run(args.corpus, 0.0, args.concurrency, args.chunk_size)  # imports, tokenizer, first tables
    print(f"cold run (discarded): {cold['wall']:.2f} s")
    zero = run(args.corpus, 0.0, args.concurrency, args.chunk_size)
    show("zero latency: the pipeline's own time", zero, 0.0, args.concurrency)
    slow = run(args.corpus, args.latency, args.concurrency, args.chunk_size)
    show(f"latency {args.latency:g} s per call, concurrency {args.concurrency}", slow, args.latency, args.concurrency)
    extra = slow["wall"] - zero["wall"]
    ideal = sum(u["calls"] for u in slow["calls"].values()) * args.latency / args.concurrency
    print(f"\n  waiting on the LLM beyond the ideal: {extra - ideal:+.2f} s "
          f"(wall with latency - wall without - ideal)")


if __name__ == "__main__":
    main()
