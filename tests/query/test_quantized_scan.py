"""The 8-bit scan of a large table returns the exact top k: the same rows as a brute-force
float64 scan, on random, clustered and hashed (many exact ties) vectors."""

from __future__ import annotations

import numpy as np
import pytest

from graphrag.query import quantized_scan, vector_search
from graphrag.query.quantized_scan import Int8Rows, exact_top_k
from graphrag.query.vector_search import VectorSearcher
from tests.query.test_vector_search import _Store


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _random(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    return _unit(rng.normal(size=(n, dim)))


def _clustered(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Tight clusters: many rows score within the quantization error of one another."""
    centres = rng.normal(size=(max(n // 200, 2), dim))
    return _unit(centres[rng.integers(len(centres), size=n)] + 0.02 * rng.normal(size=(n, dim)))


def _hashed(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Signed word counts in a few slots, like the hashing embedder: scores take few
    distinct values, so the k-th score is shared by many rows."""
    x = np.zeros((n, dim))
    for row in x:
        np.add.at(row, rng.integers(dim, size=rng.integers(3, 40)), rng.choice([-1.0, 1.0], size=1))
    x[~x.any(axis=1), 0] = 1.0
    return _unit(x)


def _assert_exact(matrix: np.ndarray, queries: np.ndarray, k: int, found) -> None:
    exact = queries.astype(np.float64) @ matrix.astype(np.float64).T
    k = min(k, len(matrix))
    for q, (rows, scores) in enumerate(found):
        assert len(rows) == k == len(set(rows.tolist()))
        best = np.sort(exact[q])[::-1][:k]
        # the returned rows' true scores are the k best scores (ties: any of the tied rows)
        np.testing.assert_allclose(np.sort(exact[q, rows])[::-1], best, atol=1e-6)
        np.testing.assert_allclose(scores, exact[q, rows], atol=1e-6)
        assert np.all(np.diff(scores) <= 0)  # best first
        # where no other row is within rounding of a row's score, it is the same row
        clear = [i for i in range(k) if np.sum(np.abs(exact[q] - best[i]) < 1e-6) == 1]
        expected = np.argsort(-exact[q], kind="stable")[:k]
        assert [rows[i] for i in clear] == [expected[i] for i in clear]


@pytest.mark.parametrize("kind", [_random, _clustered, _hashed])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_8bit_scan_returns_the_exact_top_k(kind, seed) -> None:
    rng = np.random.default_rng(seed)
    dim = 48
    matrix = kind(rng, 3000, dim)
    # queries: unrelated, and noisy copies of stored rows (their neighbours crowd together)
    queries = np.vstack([_random(rng, 3, dim), _unit(matrix[:3] + 0.05 * rng.normal(size=(3, dim)))])
    queries[0] *= 3.0  # a query that is not a unit vector
    quantized = Int8Rows.of(matrix)
    for k in (1, 5, 20, 200):
        _assert_exact(matrix, queries, k, exact_top_k(matrix, quantized, queries, k))


def test_the_full_product_fallback_gives_the_same_rows(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    matrix = _hashed(rng, 2000, 32)
    queries = _unit(matrix[:4] + 0.1 * rng.normal(size=(4, 32)))
    quantized = Int8Rows.of(matrix)
    filtered = exact_top_k(matrix, quantized, queries, 10)
    monkeypatch.setattr(quantized_scan, "MAX_CANDIDATE_SHARE", 0.0)
    full = exact_top_k(matrix, quantized, queries, 10)
    for (rows_a, scores_a), (rows_b, scores_b) in zip(filtered, full):
        assert rows_a.tolist() == rows_b.tolist()
        np.testing.assert_allclose(scores_a, scores_b, atol=1e-6)
    _assert_exact(matrix, queries, 10, full)


def test_the_candidates_are_few_on_random_vectors(monkeypatch) -> None:
    """The point of the bound: only a few rows beyond the top k are read at full precision."""
    rng = np.random.default_rng(7)
    matrix = _random(rng, 20000, 64)
    gathered: list[int] = []
    original = np.flatnonzero

    def counting(a):
        out = original(a)
        gathered.append(len(out))
        return out

    monkeypatch.setattr(quantized_scan.np, "flatnonzero", counting)
    exact_top_k(matrix, Int8Rows.of(matrix), _random(rng, 1, 64), 20)
    assert gathered and gathered[0] < 200


def test_a_large_table_is_searched_through_its_8bit_copy_with_the_same_hits(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    matrix = _clustered(rng, 4000, 32)
    queries = _unit(matrix[10:14] + 0.05 * rng.normal(size=(4, 32)))
    plain = VectorSearcher(_Store(matrix), max_cached_rows=10_000).search("t", queries, 25)
    monkeypatch.setattr(vector_search, "QUANTIZE_FROM_BYTES", 0)
    searcher = VectorSearcher(_Store(matrix), max_cached_rows=10_000)
    quantized = searcher.search("t", queries, 25)
    assert searcher._tables["t"].quantized is not None
    for a, b in zip(plain, quantized):
        assert [h.id for h in a] == [h.id for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-6)
