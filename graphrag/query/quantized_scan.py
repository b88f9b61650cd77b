"""Exact top-k over a large in-memory vector table, scanning an 8-bit copy first.

A search of a table of 100k rows × 384 floats (140 MB) is bound by memory, not arithmetic:
on the 2-core VM one pass reads at 4–8 GB/s (18–25 ms) while the arithmetic of five query
vectors takes ~3 ms, and a float32 product with several vectors made BLAS read the table
more than once (3 vectors: 37–77 ms against 9–22 ms for one). So the table is also kept as
int8 codes, one scale per row (a quarter of the bytes), and scanned in blocks that stay in
cache while every query vector of the search is applied to them.

The 8-bit scores are approximate, but each row's error is bounded: for a query q and a row
x stored as x̃ = codes × scale, |q·x − q·x̃| ≤ ‖q‖ ‖x − x̃‖ (Cauchy–Schwarz), and
‖x − x̃‖ is computed per row when the copy is made. With the rounding of the float32
arithmetic added, every row gets an interval that holds its exact score. The k-th best
lower bound τ is then a score that k rows reach for sure, so a row whose upper bound is
below τ cannot be in the top k; the rows left (the top k and the few whose interval
overlaps τ, all ties included) are scored on their float32 vectors and ranked. The result
is the exact top k (ties by row), the same as a full float32 scan, never an approximation;
when the intervals leave too many candidates (vectors whose scores crowd around τ), the
search falls back to the full float32 product for that query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Tables from this size (float32 bytes) get the 8-bit copy: smaller ones are read from cache
# and a plain product is as fast.
QUANTIZE_FROM_BYTES = 32 << 20
# Rows per block of the 8-bit scan: the block's float32 copy (rows × dim × 4 bytes, 384 KB at
# dim 384) stays in the core's L2 cache while every query vector is applied to it.
SCAN_BLOCK_ROWS = 256
# Past this share of the table as candidates a full float32 product is cheaper than
# gathering the candidates' rows.
MAX_CANDIDATE_SHARE = 0.125
# Relative rounding of the float32 products (both the 8-bit scan's and the re-rank's), per
# unit of ‖q‖·‖x‖: a dot product of d terms rounds by at most about d × 2^-24 of it (d ≤
# 4096 here; the bound is loose by design), so intervals widened by this always hold the
# exact value.
_ROUNDING = 4096 * 2.0**-24


@dataclass(frozen=True)
class Int8Rows:
    """Rows of a float32 matrix as int8 codes times a per-row scale, with a bound of each
    row's score error per unit of query norm."""

    codes: np.ndarray  # (rows, dim) int8
    scale: np.ndarray  # (rows,) float32
    # Per unit of ‖q‖, how far a row's 8-bit score can be from its exact one: the
    # quantization error ‖x − x̃‖ plus the float32 rounding of the two products.
    slack: np.ndarray  # (rows,) float32

    @classmethod
    def of(cls, matrix: np.ndarray) -> "Int8Rows":
        matrix = np.asarray(matrix, dtype=np.float32)
        peak = np.abs(matrix).max(axis=1) if matrix.size else np.zeros(len(matrix), dtype=np.float32)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        codes = np.empty(matrix.shape, dtype=np.int8)
        bound = np.empty(len(matrix), dtype=np.float64)
        norm = np.empty(len(matrix), dtype=np.float64)
        step = 8192  # bounded temporaries: the float64 residual of a whole table is 2× its size
        for start in range(0, len(matrix), step):
            rows = matrix[start : start + step].astype(np.float64)
            s = scale[start : start + step, None].astype(np.float64)
            coded = np.clip(np.rint(rows / s), -127, 127)
            codes[start : start + step] = coded
            bound[start : start + step] = np.linalg.norm(rows - coded * s, axis=1)
            norm[start : start + step] = np.linalg.norm(rows, axis=1)
        bound += _ROUNDING * (2 * norm + bound)
        # float64 bounds rounded up to float32: still upper bounds
        return cls(codes, scale, np.nextafter(bound.astype(np.float32), np.float32(np.inf)))

    def approximate(self, queries: np.ndarray) -> np.ndarray:
        """(queries, rows) scores against the 8-bit rows, one pass over the codes."""
        n, dim = self.codes.shape
        qt = np.ascontiguousarray(queries.T, dtype=np.float32)
        out = np.empty((n, len(queries)), dtype=np.float32)
        block = np.empty((min(SCAN_BLOCK_ROWS, n), dim), dtype=np.float32)
        for start in range(0, n, SCAN_BLOCK_ROWS):
            codes = self.codes[start : start + SCAN_BLOCK_ROWS]
            m = len(codes)
            np.copyto(block[:m], codes, casting="unsafe")
            np.matmul(block[:m], qt, out=out[start : start + m])
        out *= self.scale[:, None]
        return np.ascontiguousarray(out.T)


def exact_top_k(matrix: np.ndarray, quantized: Int8Rows, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each query row, the indices of the k rows of `matrix` with the highest dot
    product (ties by index) and their float32 scores, best first: what a full float32
    scan ranks (rows closer than float32 rounding, ~1e-7, may swap as they may between two
    BLAS kernels), reading the 8-bit copy and then only the candidates' rows."""
    n = len(matrix)
    k = min(k, n)
    approx = quantized.approximate(queries)
    found = []
    for query, scores in zip(queries, approx):
        q_norm = float(np.linalg.norm(query))
        slack = q_norm * quantized.slack
        lower = scores - slack
        tau = np.partition(lower, n - k)[n - k]  # k rows score at least this, for sure
        candidates = np.flatnonzero(scores + slack >= tau)
        if len(candidates) > MAX_CANDIDATE_SHARE * n:
            exact = matrix @ query
            candidates = np.flatnonzero(exact >= np.partition(exact, n - k)[n - k])  # the top k and its ties
            exact = exact[candidates]
        else:
            exact = matrix[candidates] @ query
        order = np.lexsort((candidates, -exact))[:k]
        found.append((candidates[order], exact[order]))
    return found
