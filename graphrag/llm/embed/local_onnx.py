"""MiniLM (a BERT encoder) run by ONNX Runtime on the CPU, without torch: the ONNX graph is
built here from the model's safetensors weights (read with `safetensors`, assembled with
`onnx`), the tokenizer comes from `tokenizers`. Nothing is downloaded or exported ahead.

The vectors equal the torch path's (tests/llm/test_embed_local.py checks cosine ≥ 0.999), so
both share one model id and workspaces embedded by either stay valid under the other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from graphrag.errors import ConfigError
from graphrag.llm.embed.local_model import WindowedEmbedder

log = logging.getLogger(__name__)

# Bump when build_bert_graph changes what it builds: cached graphs of older builds are then
# not used.
GRAPH_BUILD_VERSION = 2

_OPSET = 17  # LayerNormalization is standard from 17 on
_IR_VERSION = 8  # readable by every onnxruntime >= 1.14


class OnnxBertEmbedder(WindowedEmbedder):
    """Mean-pooled sentence embeddings of a BERT-family model directory (model.safetensors +
    tokenizer.json) on ONNX Runtime."""

    runtime = "transformers"  # same model, same vectors as the torch path: same id

    def __init__(self, *args: Any, threads: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # threads=0: one batch per core at once, each run on one thread. ONNX Runtime's own
        # parallelism within a batch left about a third of the second core idle (per-thread
        # CPU time 7.3 s + 4.7 s on 1,500 short texts: the operators it does not split, and
        # the waits between operators); whole batches side by side need no waits.
        # threads=N: one batch at a time on N threads.
        self.threads = threads
        if threads == 0:
            self.parallel_batches = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (hidden,) = self._model.run(None, {"input_ids": ids, "attention_mask": mask})
        m = mask[:, :, None].astype(np.float32)
        mean = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), np.float32(1e-9))
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), np.float32(1e-12))

    def _load_model(self) -> tuple[Any, Any]:
        try:
            import onnxruntime as ort
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(
                f"the local embedder needs onnxruntime, onnx, safetensors and tokenizers ({exc}): pip install graphrag-kg"
            ) from None
        config = self.config
        if (
            config.get("model_type") != "bert"
            or config.get("hidden_act", "gelu") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute"
        ):
            raise ConfigError(
                f"{self.model_dir} is a {config.get('model_type')!r} model with {config.get('hidden_act')!r} activation; "
                "the ONNX runtime here builds BERT graphs only: set GRAPHRAG_EMBEDDER=local-torch "
                "(pip install 'graphrag-kg[torch]')"
            )
        try:
            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises its own exception types
            raise ConfigError(f"cannot load the embedding model from {self.model_dir}: {exc}") from None
        # The file's own truncation and padding (128 tokens for MiniLM) would cut texts; the
        # windowing is ours.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        plain = tokenizer.encode("a", add_special_tokens=False).ids
        full = tokenizer.encode("a", add_special_tokens=True).ids
        at = next(i for i in range(len(full)) if full[i : i + len(plain)] == plain)
        self._prefix, self._suffix = full[:at], full[at + len(plain) :]
        self._pad = int(config.get("pad_token_id") or 0)

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads or 1
        options.log_severity_level = 3  # warnings about unused initializers are noise here
        # No spin-waiting between operators: it burns the CPU that extraction, running beside
        # the embedding (aembed), needs; measured 10-20% less CPU per window here, same speed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        graph = self._graph_bytes(load_file)
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        return tokenizer, session

    def _graph_bytes(self, load_file: Any) -> bytes:
        """The serialized ONNX graph: built from the safetensors once, then read from a cache
        file, so later processes skip importing onnx and building (~1.5 s of a cold query)."""
        weights_path = self.model_dir / "model.safetensors"
        cached = graph_cache_path(weights_path, self.config)
        graph = read_cached_graph(cached)
        if graph is not None:
            return graph
        try:
            weights = load_file(weights_path)
        except Exception as exc:  # safetensors raises its own exception types
            raise ConfigError(f"cannot load the embedding model from {self.model_dir}: {exc}") from None
        graph = build_bert_graph(weights, self.config).SerializeToString()
        write_cached_graph(cached, graph)
        return graph


def graph_cache_path(weights_path: Path, config: dict[str, Any], variant: str = "") -> Path | None:
    """Where the graph built from these weights is cached (GRAPHRAG_ONNX_CACHE, else
    $XDG_CACHE_HOME/graphrag/onnx or ~/.cache/graphrag/onnx); keyed by the weights file
    (path, size, modification time), the model config and the builder's version, and by
    `variant` for a graph derived from that one (e.g. quantised: "int8-<its recipe>")."""
    try:
        stat = weights_path.stat()
    except OSError:
        return None
    parts: list[Any] = [str(weights_path.resolve()), stat.st_size, stat.st_mtime_ns, config, GRAPH_BUILD_VERSION]
    if variant:  # the fp32 key stays as it was, so graphs cached before stay valid
        parts.append(variant)
    key = json.dumps(parts, sort_keys=True)
    root = os.environ.get("GRAPHRAG_ONNX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "graphrag", "onnx"
    )
    stem = f"bert-{variant.split('-')[0]}-" if variant else "bert-"
    return Path(root) / f"{stem}{hashlib.sha256(key.encode()).hexdigest()[:24]}.onnx"


def read_cached_graph(cached: Path | None) -> bytes | None:
    if cached is not None and cached.is_file():
        try:
            return cached.read_bytes()
        except OSError as exc:
            log.debug("cannot read the cached ONNX graph %s: %s", cached, exc)
    return None


def write_cached_graph(cached: Path | None, graph: bytes) -> None:
    if cached is None:
        return
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        partial.write_bytes(graph)
        os.replace(partial, cached)  # atomic: a concurrent reader sees all or nothing
    except OSError as exc:  # a read-only home: build again next time
        log.debug("cannot cache the ONNX graph at %s: %s", cached, exc)


def build_bert_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """The ONNX model of a BertModel encoder: (input_ids, attention_mask) -> last hidden
    state, the same computation as transformers' BertModel in eval mode. The encoder layers
    use ONNX Runtime's fused CPU kernels (Attention, SkipLayerNormalization, BiasGelu: exact
    erf GELU), which are faster than the same computation spelled in standard operators."""
    from onnx import TensorProto, helper, numpy_helper

    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=array.dtype), name))
        return name

    def get(name: str) -> np.ndarray:
        try:
            return np.asarray(weights[prefix + name], dtype=np.float32)
        except KeyError:
            raise ConfigError(f"the model's weights have no tensor {prefix + name!r}; is it a BERT model?") from None

    def tensor(name: str) -> str:
        return const(name, get(name))

    def matrix(name: str) -> str:  # a Linear's weight, transposed for x @ W
        return const(name, get(f"{name}.weight").T)

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        domain = "com.microsoft" if op in ("Attention", "SkipLayerNormalization", "BiasGelu") else ""
        nodes.append(helper.make_node(op, inputs, [out], domain=domain, **attrs))
        return out

    # Embeddings: word + position + token type 0, then LayerNorm.
    width = node("Shape", ["input_ids"], "width", start=1, end=2)  # 1-D: [width]
    zero = const("zero", np.array([0], np.int64))
    words = node("Gather", [tensor("embeddings.word_embeddings.weight"), "input_ids"], "words")
    pos = node("Slice", [tensor("embeddings.position_embeddings.weight"), zero, width, zero], "pos")
    token_type = const("token_type", get("embeddings.token_type_embeddings.weight")[0])
    x = node("Add", [node("Add", [words, pos], "emb_wp"), token_type], "emb_sum")
    x = node(
        "LayerNormalization",
        [x, tensor("embeddings.LayerNorm.weight"), tensor("embeddings.LayerNorm.bias")],
        "emb",
        axis=-1,
        epsilon=eps,
    )
    mask = node("Cast", ["attention_mask"], "mask", to=TensorProto.INT32)  # 1 = token, 0 = padding

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        parts = [f"{p}attention.self.{part}" for part in ("query", "key", "value")]
        qkv_w = const(f"{p}qkv.weight", np.concatenate([get(f"{n}.weight").T for n in parts], axis=1))
        qkv_b = const(f"{p}qkv.bias", np.concatenate([get(f"{n}.bias") for n in parts]))
        attended = node("Attention", [x, qkv_w, qkv_b, mask], f"l{i}_attn", num_heads=heads)
        attended = node("MatMul", [attended, matrix(f"{p}attention.output.dense")], f"l{i}_attn_out")
        x = node(
            "SkipLayerNormalization",  # LayerNorm(attended + bias + x)
            [attended, x, tensor(f"{p}attention.output.LayerNorm.weight"), tensor(f"{p}attention.output.LayerNorm.bias"),
             tensor(f"{p}attention.output.dense.bias")],
            f"l{i}_attn_norm",
            epsilon=eps,
        )
        inner = node("MatMul", [x, matrix(f"{p}intermediate.dense")], f"l{i}_inter")
        inner = node("BiasGelu", [inner, tensor(f"{p}intermediate.dense.bias")], f"l{i}_gelu")
        out = node("MatMul", [inner, matrix(f"{p}output.dense")], f"l{i}_ffn_out")
        x = node(
            "SkipLayerNormalization",
            [out, x, tensor(f"{p}output.LayerNorm.weight"), tensor(f"{p}output.LayerNorm.bias"), tensor(f"{p}output.dense.bias")],
            f"l{i}_out",
            epsilon=eps,
        )
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))

    graph = helper.make_graph(
        nodes,
        "bert_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "width"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "width"]),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "width", hidden])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", _OPSET), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=_IR_VERSION)
