"""What every embedder returns: L2-normalised float32 rows."""

from __future__ import annotations

import numpy as np


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def empty_vectors(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)
