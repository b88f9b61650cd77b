"""MiniLM (a BERT encoder) run by ONNX Runtime on the CPU, without torch: the ONNX graph is
built here from the model's safetensors weights (read with `safetensors`, assembled with
`onnx`), the tokenizer comes from `tokenizers`. Nothing is downloaded or exported ahead.

The vectors equal the torch path's (tests/llm/test_embed_local.py checks cosine ≥ 0.999), so
both share one model id and workspaces embedded by either stay valid under the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrag.errors import ConfigError
from graphrag.llm.embed.local_model import WindowedEmbedder

_OPSET = 17  # LayerNormalization is standard from 17 on
_IR_VERSION = 8  # readable by every onnxruntime >= 1.14


class OnnxBertEmbedder(WindowedEmbedder):
    """Mean-pooled sentence embeddings of a BERT-family model directory (model.safetensors +
    tokenizer.json) on ONNX Runtime."""

    runtime = "transformers"  # same model, same vectors as the torch path: same id

    def __init__(self, *args: Any, threads: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.threads = threads  # 0: ONNX Runtime's default, one per physical core

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
            weights = load_file(self.model_dir / "model.safetensors")
        except Exception as exc:  # tokenizers and safetensors raise their own exception types
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
        options.intra_op_num_threads = self.threads
        options.log_severity_level = 3  # warnings about unused initializers are noise here
        # No spin-waiting between operators: it burns the CPU that extraction, running beside
        # the embedding (aembed), needs; measured 10-20% less CPU per window here, same speed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        graph = build_bert_graph(weights, config).SerializeToString()
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        return tokenizer, session


def build_bert_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """The ONNX model of a BertModel encoder: (input_ids, attention_mask) -> last hidden
    state, the same computation as transformers' BertModel in eval mode."""
    from onnx import TensorProto, helper, numpy_helper

    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def tensor(name: str, transpose: bool = False) -> str:
        try:
            array = np.asarray(weights[prefix + name], dtype=np.float32)
        except KeyError:
            raise ConfigError(f"the model's weights have no tensor {prefix + name!r}; is it a BERT model?") from None
        return const(name, array.T if transpose else array)

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x: str, name: str, out: str) -> str:
        y = node("MatMul", [x, tensor(f"{name}.weight", transpose=True)], f"{out}_mm")
        return node("Add", [y, tensor(f"{name}.bias")], out)

    def layer_norm(x: str, name: str, out: str) -> str:
        return node("LayerNormalization", [x, tensor(f"{name}.weight"), tensor(f"{name}.bias")], out, axis=-1, epsilon=eps)

    # Embeddings: word + position + token type 0, then LayerNorm.
    width = node("Shape", ["input_ids"], "width", start=1, end=2)  # 1-D: [width]
    zero = const("zero", np.array([0], np.int64))
    words = node("Gather", [tensor("embeddings.word_embeddings.weight"), "input_ids"], "words")
    pos = node("Slice", [tensor("embeddings.position_embeddings.weight"), zero, width, zero], "pos")
    token_type = const("token_type", np.asarray(weights[prefix + "embeddings.token_type_embeddings.weight"][0], np.float32))
    x = node("Add", [node("Add", [words, pos], "emb_wp"), token_type], "emb_sum")
    x = layer_norm(x, "embeddings.LayerNorm", "emb")

    # Padding gets the lowest score, so softmax gives it no weight (as transformers does).
    keep = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    masked = node("Sub", [const("f_one", np.array(1, np.float32)), keep], "masked")
    bias = node("Mul", [masked, const("f_min", np.array(np.finfo(np.float32).min, np.float32))], "bias_2d")
    bias = node("Unsqueeze", [bias, const("axes_12", np.array([1, 2], np.int64))], "bias")

    split_heads = const("split_heads", np.array([0, 0, heads, head_dim], np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = const("scale", np.array(1 / np.sqrt(head_dim), np.float32))
    inv_sqrt2 = const("inv_sqrt2", np.array(1 / np.sqrt(2), np.float32))
    half = const("half", np.array(0.5, np.float32))
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        q, k, v = (
            node("Reshape", [linear(x, f"{p}attention.self.{part}", f"l{i}_{part}"), split_heads], f"l{i}_{part}_h")
            for part in ("query", "key", "value")
        )
        q = node("Transpose", [q], f"l{i}_q_t", perm=[0, 2, 1, 3])
        k = node("Transpose", [k], f"l{i}_k_t", perm=[0, 2, 3, 1])
        v = node("Transpose", [v], f"l{i}_v_t", perm=[0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"l{i}_qk"), scale], f"l{i}_scaled")
        probs = node("Softmax", [node("Add", [scores, bias], f"l{i}_biased")], f"l{i}_probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"l{i}_ctx_h")], f"l{i}_ctx_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_heads], f"l{i}_ctx")
        attended = linear(context, f"{p}attention.output.dense", f"l{i}_attn_out")
        x = layer_norm(node("Add", [attended, x], f"l{i}_attn_res"), f"{p}attention.output.LayerNorm", f"l{i}_attn")
        inner = linear(x, f"{p}intermediate.dense", f"l{i}_inter")
        # Exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)); ONNX Runtime fuses it into one kernel.
        erf = node("Erf", [node("Mul", [inner, inv_sqrt2], f"l{i}_scaled_in")], f"l{i}_erf")
        gate = node("Mul", [node("Add", [erf, "f_one"], f"l{i}_erf1"), half], f"l{i}_gate")
        gelu = node("Mul", [inner, gate], f"l{i}_gelu")
        out = linear(gelu, f"{p}output.dense", f"l{i}_ffn_out")
        x = layer_norm(node("Add", [out, x], f"l{i}_ffn_res"), f"{p}output.LayerNorm", f"l{i}_out")
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
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], ir_version=_IR_VERSION)
