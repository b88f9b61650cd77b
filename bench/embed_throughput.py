"""Local MiniLM throughput on this machine: texts per second at 256 tokens (one full window
each), ONNX Runtime (the default) against torch (the optional extra), plus load time, CPU
time per text and the worst cosine between the two runtimes' vectors.

Texts are cut from the sample corpus (data/sample) to 254 tokens + [CLS] and [SEP].

    .venv/bin/python bench/embed_throughput.py                 # 128 texts, both runtimes
    .venv/bin/python bench/embed_throughput.py --texts 256 --runtime onnx
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphrag.llm.embed import OnnxBertEmbedder, TransformersEmbedder  # noqa: E402
from graphrag.llm.embed.local_model import WindowedEmbedder  # noqa: E402


def corpus_texts(embedder: WindowedEmbedder, count: int, tokens: int) -> list[str]:
    """`count` texts of at most `tokens` tokens each (nearly all exactly that), cut at word
    boundaries from the sample corpus."""
    words = " ".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "data" / "sample").glob("*.txt"))).split()
    texts: list[str] = []
    start = 0
    while len(texts) < count and start < len(words):
        # Grow a guess by whole words until the next word would pass the budget.
        end = start + tokens // 2
        while end < len(words) and len(embedder._token_ids([" ".join(words[start : end + 1])])[0]) <= tokens:
            end += 1
        texts.append(" ".join(words[start:end]))
        start = end
    return texts


def run(embedder: WindowedEmbedder, texts: list[str]) -> tuple[float, float, float, np.ndarray]:
    """Load seconds, texts per wall second, CPU seconds per text (all threads; less
    sensitive than wall time to other jobs on a shared machine), vectors."""
    started = time.perf_counter()
    embedder.embed(["load"])
    load = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    vectors = embedder.embed(texts)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return load, len(texts) / wall, cpu / len(texts), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--runtime", choices=["onnx", "torch", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    onnx = OnnxBertEmbedder(batch_size=args.batch_size)
    onnx._load()
    texts = corpus_texts(onnx, args.texts, onnx.max_seq_length - 2)
    lengths = [len(ids) for ids in onnx._token_ids(texts)]
    print(f"{len(texts)} texts of {min(lengths)}-{max(lengths)} tokens (+2 special), batch {args.batch_size}")
    results: dict[str, np.ndarray] = {}
    runtimes = ["onnx", "torch"] if args.runtime == "both" else [args.runtime]
    for name in runtimes:
        embedder = OnnxBertEmbedder(batch_size=args.batch_size) if name == "onnx" else TransformersEmbedder(batch_size=args.batch_size)
        load, rate, cpu, results[name] = run(embedder, texts)
        print(f"{name:>5}: load {load:5.2f} s   {rate:6.1f} texts/s   {cpu * 1000:6.0f} ms CPU per text")
    if len(results) == 2:
        worst = float((results["onnx"] * results["torch"]).sum(axis=1).min())
        print(f"worst cosine onnx vs torch: {worst:.7f}")


if __name__ == "__main__":
    main()
