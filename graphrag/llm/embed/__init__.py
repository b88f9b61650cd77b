"""Embedders: local MiniLM (ONNX Runtime by default, torch on request), an OpenAI-compatible endpoint, feature hashing for smoke
tests, and the state-store cache in front of any of them. One module per backend;
`build_embedder` picks the configured one.

Every embedder returns L2-normalised float32 rows and never truncates silently: a text
longer than the local model's window is embedded window by window and averaged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from graphrag.errors import ConfigError
from graphrag.llm.embed.cache import CachingEmbedder
from graphrag.llm.embed.common import EmbedProgress, aembed, embed_with_progress
from graphrag.llm.embed.hashing import HashingEmbedder
from graphrag.llm.embed.local_model import DEFAULT_LOCAL_MODEL, DEFAULT_MODEL_ALIASES, WindowedEmbedder, default_model_dir
from graphrag.llm.embed.local_onnx import OnnxBertEmbedder
from graphrag.llm.embed.local_onnx_int8 import OnnxInt8BertEmbedder
from graphrag.llm.embed.local_torch import TransformersEmbedder
from graphrag.llm.embed.openai_compat import OpenAIEmbedder

if TYPE_CHECKING:
    from graphrag.llm.base import Embedder, Usage

    from graphrag.settings import Settings
    from graphrag.stores.base import StateStore

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "CachingEmbedder",
    "EmbedProgress",
    "HashingEmbedder",
    "NEW_WORKSPACE_EMBEDDER",
    "OnnxBertEmbedder",
    "OnnxInt8BertEmbedder",
    "OpenAIEmbedder",
    "TransformersEmbedder",
    "aembed",
    "build_embedder",
    "default_model_dir",
    "embed_with_progress",
]

# What `embedder = "auto"` means for a workspace indexed for the first time (an existing one
# keeps the embedder it was indexed with: graphrag.llm.embed.workspace_record).
NEW_WORKSPACE_EMBEDDER = "local-int8"

LOCAL_EMBEDDERS: dict[str, type[WindowedEmbedder]] = {
    "local": OnnxBertEmbedder,
    "local-int8": OnnxInt8BertEmbedder,
    "local-torch": TransformersEmbedder,
}


def build_embedder(settings: Settings, state_store: StateStore | None, *, usage: Usage | None = None) -> Embedder:
    """The configured embedder behind the state-store cache (no cache when `state_store`
    is None). Checks that its dimension matches `settings.embedding_dim`."""
    inner: Embedder
    # "auto" outside a workspace (graphrag.llm.embed.workspace_record resolves it inside one).
    kind = NEW_WORKSPACE_EMBEDDER if settings.embedder == "auto" else settings.embedder
    if kind == "hashing":
        inner = HashingEmbedder(settings.embedding_dim)
    elif kind in LOCAL_EMBEDDERS:
        # Explicit, not "torch if importable": which runtime runs should not depend on what else
        # happens to be installed; on the CPU both are close in speed and give the same vectors.
        local = LOCAL_EMBEDDERS[kind]
        model = settings.embedding_model
        if model in DEFAULT_MODEL_ALIASES:
            inner = local(batch_size=settings.embedding_batch_size)
        elif Path(model).expanduser().is_dir():
            inner = local(Path(model).expanduser(), batch_size=settings.embedding_batch_size)
        else:
            raise ConfigError(
                f"GRAPHRAG_EMBEDDING_MODEL={model!r} is neither {DEFAULT_LOCAL_MODEL} nor a local model directory; "
                "the local embedder never downloads models"
            )
    else:
        base_url = settings.embedding_base_url or settings.chat_base_url
        if not base_url:
            raise ConfigError("GRAPHRAG_EMBEDDER=openai needs GRAPHRAG_EMBEDDING_BASE_URL (e.g. http://localhost:11434/v1)")
        key = settings.embedding_api_key or settings.chat_api_key
        inner = OpenAIEmbedder(
            base_url,
            settings.embedding_model,
            key.get_secret_value() if key else None,
            batch_size=settings.embedding_batch_size,
            timeout=settings.chat_timeout,
            max_retries=settings.chat_max_retries,
            dim=settings.embedding_dim,
            usage=usage,
            concurrency=settings.embedding_concurrency,
        )
    if inner.dim != settings.embedding_dim:
        raise ConfigError(
            f"{inner.model_id} makes {inner.dim}-dimensional vectors but embedding_dim is {settings.embedding_dim}; "
            f"set GRAPHRAG_EMBEDDING_DIM={inner.dim}"
        )
    return CachingEmbedder(inner, state_store) if state_store is not None else inner
