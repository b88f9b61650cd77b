"""Feature hashing: no model, instant, deterministic; for smoke tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from graphrag.llm.embed.common import EmbedProgress, normalize_rows

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1 << 16)
def _feature(token: str, dim: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process, vectors must be stable.
    h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dim, 1.0 if (h >> 63) & 1 else -1.0


class HashingEmbedder:
    """Signed feature hashing of lower-cased word unigrams and bigrams. No model, instant,
    deterministic across processes; texts sharing words score higher. For smoke tests."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.model_id = f"hashing:{dim}"

    def embed(self, texts: Sequence[str], *, progress: EmbedProgress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in (*words, *(f"{a} {b}" for a, b in zip(words, words[1:]))):
                idx, sign = _feature(token, self.dim)
                out[row, idx] += sign
            if not out[row].any():  # no words (or a full cancellation): still a unit vector
                out[row, _feature("", self.dim)[0]] = 1.0
        if progress is not None:
            progress(len(texts), len(texts))
        return normalize_rows(out)

