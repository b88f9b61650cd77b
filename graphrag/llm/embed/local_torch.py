"""MiniLM (or another local transformers model) run by torch through transformers: the
optional path (`pip install 'graphrag-kg[torch]'`, GRAPHRAG_EMBEDDER=local-torch), on the
GPU when torch sees one."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from graphrag.errors import ConfigError
from graphrag.llm.embed.local_model import WindowedEmbedder


class TransformersEmbedder(WindowedEmbedder):
    """Mean-pooled sentence embeddings from a local transformers model directory, on torch."""

    runtime = "transformers"
    _device = "cpu"

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        # verbose=False: over-long inputs are expected, they are windowed.
        return self._tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            input_ids, attention = torch.from_numpy(ids).to(self._device), torch.from_numpy(mask).to(self._device)
            inputs = {"input_ids": input_ids, "attention_mask": attention}
            if "token_type_ids" in self._tokenizer.model_input_names:
                inputs["token_type_ids"] = torch.zeros_like(input_ids)
            hidden = self._model(**inputs).last_hidden_state
            m = attention.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1).float().cpu().numpy()

    def _load_model(self) -> tuple[Any, Any]:
        os.environ["HF_HUB_OFFLINE"] = "1"  # before the first transformers import reads it
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ConfigError(
                f"GRAPHRAG_EMBEDDER=local-torch needs torch and transformers ({exc}): pip install "
                "'graphrag-kg[torch]', or set GRAPHRAG_EMBEDDER=local (ONNX Runtime, the same vectors)"
            ) from None
        # transformers 5 draws a "Loading weights" bar on stderr; keep the CLI's output clean.
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            model = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
        except OSError as exc:
            raise ConfigError(f"cannot load the embedding model from {self.model_dir}: {exc}") from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        model.eval()
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        model.to(self._device)
        # transformers 5 dropped build_inputs_with_special_tokens from tokenizers-backed
        # classes: find the [CLS] ... [SEP] template by encoding one token both ways.
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        full = tokenizer("a", add_special_tokens=True)["input_ids"]
        at = next(i for i in range(len(full)) if full[i : i + len(plain)] == plain)
        self._prefix, self._suffix = full[:at], full[at + len(plain) :]
        self._pad = tokenizer.pad_token_id or 0
        return tokenizer, model
