"""What every embedder shares: L2-normalised float32 rows, the progress callback, and
embedding off the event loop."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from graphrag.llm.base import Embedder


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def empty_vectors(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


EmbedProgress = Callable[[int, int], None]
"""Called as texts get embedded: (texts done, texts in this call). It may be called from a
worker thread, and reaches (total, total) when the call finishes."""


def accepts_progress(embedder: Embedder) -> bool:
    try:
        return "progress" in inspect.signature(embedder.embed).parameters
    except (TypeError, ValueError):
        return False


def embed_with_progress(embedder: Embedder, texts: Sequence[str], progress: EmbedProgress | None) -> np.ndarray:
    """`embedder.embed(texts)`, reporting progress per batch when the embedder can (all of
    graphrag's can), else once at the end."""
    if progress is None:
        return embedder.embed(texts)
    if accepts_progress(embedder):
        return embedder.embed(texts, progress=progress)  # type: ignore[call-arg]
    vectors = embedder.embed(texts)
    progress(len(texts), len(texts))
    return vectors


async def aembed(embedder: Embedder, texts: Sequence[str], progress: EmbedProgress | None = None) -> np.ndarray:
    """Embed without blocking the event loop: the work runs in a worker thread, where ONNX
    Runtime and torch compute without holding the GIL and a remote embedder keeps several
    batches in flight (OpenAIEmbedder's `concurrency`), so extraction calls go on meanwhile."""
    return await asyncio.to_thread(embed_with_progress, embedder, texts, progress)
