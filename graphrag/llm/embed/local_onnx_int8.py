"""The same MiniLM graph with its weights quantised to int8 (ONNX Runtime's dynamic
quantisation: int8 weights per output channel, activations quantised per batch at run time).

About 1.5-1.75× faster on the CPU than the fp32 graph (200 and 400 MuSiQue passages), and
MiniLM is most of offline indexing's CPU time. The vectors are close to fp32 but not equal (cosine
≥ 0.98 on corpus passages, tests/llm/test_embed_int8.py), so this embedder has its own model
id: a workspace keeps the vectors of the embedder it was indexed with
(graphrag.llm.embed.workspace_record).

The quantised graph is derived from the fp32 graph once and cached beside it
(`graph_cache_path` with an "int8" variant), so a later process only reads it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from graphrag.errors import ConfigError
from graphrag.llm.embed.local_onnx import OnnxBertEmbedder, graph_cache_path, read_cached_graph, write_cached_graph

# The quantisation recipe; part of the cache key, so changing it rebuilds cached graphs.
# DefaultTensorType: ORT's shape inference does not know the contrib ops' (Attention,
# SkipLayerNormalization) output types; float is what they all produce here.
_RECIPE: dict[str, Any] = {"weight_type": "QInt8", "per_channel": True, "extra_options": {"DefaultTensorType": 1}}


class OnnxInt8BertEmbedder(OnnxBertEmbedder):
    """`OnnxBertEmbedder` on the int8-quantised graph."""

    runtime = "onnx-int8"  # its own vector space: model id "onnx-int8:all-MiniLM-L6-v2"

    def _graph_bytes(self, load_file: Any) -> bytes:
        try:
            import onnxruntime
        except ImportError as exc:  # checked by _load_model already; for the type checker
            raise ConfigError(f"the int8 embedder needs onnxruntime ({exc})") from None
        # The quantiser belongs to onnxruntime: another version may quantise differently.
        variant = f"int8-{onnxruntime.__version__}-{sorted(_RECIPE.items())}"
        cached = graph_cache_path(self.model_dir / "model.safetensors", self.config, variant)
        graph = read_cached_graph(cached)
        if graph is None:
            graph = quantize_graph(super()._graph_bytes(load_file))
            write_cached_graph(cached, graph)
        return graph


def quantize_graph(graph: bytes) -> bytes:
    """The int8 dynamic quantisation of a serialized fp32 ONNX graph (a few seconds)."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ConfigError(f"the int8 embedder needs onnx and onnxruntime's quantization tools ({exc})") from None
    with tempfile.TemporaryDirectory(prefix="graphrag-int8-") as tmp:
        out = Path(tmp) / "model.onnx"
        # The quantiser warns on the root logger that a pre-processing pass might help; its
        # shape inference cannot read the contrib ops anyway, and the result is checked by
        # tests/llm/test_embed_int8.py.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                onnx.load_model_from_string(graph),
                out,
                weight_type=QuantType[_RECIPE["weight_type"]],
                per_channel=_RECIPE["per_channel"],
                extra_options=dict(_RECIPE["extra_options"]),
            )
        finally:
            logging.disable(previous)
        return out.read_bytes()
