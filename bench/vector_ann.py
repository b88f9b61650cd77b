"""The LanceDB store's ANN index against its exact search on one large vector table.

A synthetic table of unit vectors with clustered structure (like entity and relation
vectors: many small topics, points spread around each topic's centre) is written through
`LanceDBVectorStore` in batches, searched exactly (no index), then the store builds its
ANN index (`ensure_ann_index`, what a write past `GRAPHRAG_VECTOR_ANN_MIN_ROWS` does) and
the same queries run again. Prints search p50 with and without the index, the build time,
recall@k of the ANN against the exact top k, and the ratios. Queries are noisy copies of
stored rows (a question's vector near some of the table, not equal to any row).

    .venv/bin/python bench/vector_ann.py                       # 350k x 384-d, k=20
    .venv/bin/python bench/vector_ann.py --rows 50000 --queries 50
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphrag.stores.base import VectorRow  # noqa: E402
from graphrag.stores.lancedb_vectors import LanceDBVectorStore  # noqa: E402

TABLE = "relations"


def clustered(rng: np.random.Generator, rows: int, dim: int, clusters: int, spread: float) -> np.ndarray:
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, clusters, rows)
    noise = rng.standard_normal((rows, dim)).astype(np.float32) * (spread / np.sqrt(dim))
    vectors = centres[labels] + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def p50_ms(store: LanceDBVectorStore, queries: np.ndarray, k: int) -> tuple[float, list[list[str]]]:
    times: list[float] = []
    hits: list[list[str]] = []
    store.search(TABLE, queries[0], k)  # warm: opens the index, fills caches
    for q in queries:
        start = time.perf_counter()
        found = store.search(TABLE, q, k)
        times.append(time.perf_counter() - start)
        hits.append([h.id for h in found])
    return float(np.median(times)) * 1000, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=350_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=2000, help="topics the vectors gather around")
    parser.add_argument("--spread", type=float, default=0.8, help="noise norm around a topic's centre")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    vectors = clustered(rng, args.rows, args.dim, args.clusters, args.spread)
    picks = rng.choice(args.rows, args.queries, replace=False)
    queries = vectors[picks] + rng.standard_normal((args.queries, args.dim)).astype(np.float32) * (
        0.3 / np.sqrt(args.dim)
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    with tempfile.TemporaryDirectory() as tmp:
        store = LanceDBVectorStore(Path(tmp) / "vectors", args.dim, index_threshold=None)
        start = time.perf_counter()
        batch = 20_000
        for lo in range(0, args.rows, batch):
            rows = [VectorRow(f"r{i}", vectors[i], f"row {i}", {}) for i in range(lo, min(lo + batch, args.rows))]
            store.upsert(TABLE, rows)
            print(f"\rwritten {min(lo + batch, args.rows):,}/{args.rows:,} rows", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        store.optimize()
        write_s = time.perf_counter() - start

        exact_ms, exact = p50_ms(store, queries, args.k)
        print(f"exact search p50 {exact_ms:.1f} ms", file=sys.stderr)

        store.index_threshold = args.rows
        start = time.perf_counter()
        assert store.ensure_ann_index(TABLE), "the index was not built"
        build_s = time.perf_counter() - start
        ann_ms, ann = p50_ms(store, queries, args.k)

    recall = np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(ann, exact)])
    print(f"rows {args.rows:,} x {args.dim}-d, {args.clusters} clusters, k={args.k}, {args.queries} queries")
    print(f"write {write_s:.1f} s, index build {build_s:.1f} s")
    print(f"search p50: exact {exact_ms:.1f} ms, ANN {ann_ms:.1f} ms -> ANN / exact {ann_ms / exact_ms:.3f}")
    print(f"recall@{args.k} of the ANN against the exact search: {recall:.3f}")


if __name__ == "__main__":
    main()
