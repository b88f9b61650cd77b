"""The state-store cache in front of any embedder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from graphrag.llm.embed.common import EmbedProgress, embed_with_progress, empty_vectors
from graphrag.models import text_hash

if TYPE_CHECKING:
    from graphrag.llm.base import Embedder
    from graphrag.stores.base import StateStore



class CachingEmbedder:
    """Serves vectors from the state store by (model_id, text hash) and embeds only the
    misses, each distinct text once. `embedded_count` counts texts sent to `inner`."""

    def __init__(self, inner: Embedder, state: StateStore) -> None:
        self.inner = inner
        self.state = state
        self.embedded_count = 0
        self.cache_hits = 0
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str], *, progress: EmbedProgress | None = None) -> np.ndarray:
        if not texts:
            return empty_vectors(self.dim)
        hashes = [text_hash(t) for t in texts]
        unique = dict(zip(hashes, texts))  # first text per hash, in order
        found = {
            h: v
            for h, v in self.state.get_embeddings(self.model_id, unique).items()
            if np.shape(v) == (self.dim,)  # a vector of another size is stale: re-embed
        }
        misses = [h for h in unique if h not in found]
        total = len(texts)
        if progress is not None:
            progress(total - len(misses), total)  # cache hits (and repeats) are done already

        def inner_progress(done: int, _: int) -> None:
            progress(total - len(misses) + done, total)  # type: ignore[misc]

        if misses:
            fresh = embed_with_progress(self.inner, [unique[h] for h in misses], inner_progress if progress else None)
            computed = dict(zip(misses, fresh))
            self.state.put_embeddings(self.model_id, computed)
            found.update(computed)
        with self._lock:
            self.embedded_count += len(misses)
            self.cache_hits += len(texts) - len(misses)
        return np.stack([np.asarray(found[h], dtype=np.float32) for h in hashes])

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


