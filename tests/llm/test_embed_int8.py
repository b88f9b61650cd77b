"""The int8-quantised MiniLM: vectors close to the fp32 graph's, its own model id, its graph
derived once and cached; and the workspace record that keeps a workspace on the embedder
it was indexed with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import graphrag.llm.embed.local_onnx_int8 as local_onnx_int8
from graphrag.core import GraphRAG
from graphrag.errors import ConfigError
from graphrag.llm.embed import NEW_WORKSPACE_EMBEDDER, OnnxBertEmbedder, OnnxInt8BertEmbedder, build_embedder
from graphrag.llm.embed.workspace_record import RECORD_KEY, recorded_embedder
from graphrag.models import Chunk
from graphrag.settings import Settings
from tests.llm.test_embed_local import PARITY_TEXTS, cosines


FP32_ID = "transformers:all-MiniLM-L6-v2"
INT8_ID = "onnx-int8:all-MiniLM-L6-v2"


@pytest.mark.slow
def test_int8_vectors_are_close_to_fp32_and_rank_alike() -> None:
    texts = [t for t in PARITY_TEXTS if t.strip(" !?.-")]  # punctuation-only and empty: no content to compare
    fp32 = OnnxBertEmbedder().embed(texts)
    int8 = OnnxInt8BertEmbedder().embed(texts)
    assert int8.shape == fp32.shape and int8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    close = cosines(fp32, int8)
    # Measured: min 0.990, mean 0.995 on 200 MuSiQue passages; a wrong recipe (e.g. int8
    # activations without per-channel weights) or a broken graph falls well below.
    assert close.min() >= 0.97, close
    assert close.mean() >= 0.985, close
    # Each text's nearest other text is the same in both spaces for nearly all texts.
    sim32, sim8 = fp32 @ fp32.T, int8 @ int8.T
    np.fill_diagonal(sim32, -1)
    np.fill_diagonal(sim8, -1)
    assert (sim32.argmax(axis=1) == sim8.argmax(axis=1)).mean() >= 0.8


def test_int8_has_its_own_model_id() -> None:
    int8 = build_embedder(Settings(embedder="local-int8"), None)
    assert isinstance(int8, OnnxInt8BertEmbedder)
    assert int8.model_id == INT8_ID
    assert build_embedder(Settings(embedder="local"), None).model_id == FP32_ID
    assert (int8.dim, int8.max_seq_length) == (384, 256)


@pytest.mark.slow
def test_the_int8_graph_is_derived_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_ONNX_CACHE", str(tmp_path))
    first = OnnxInt8BertEmbedder().embed(["Scrooge and Marley"])
    assert len(list(tmp_path.glob("bert-int8-*.onnx"))) == 1
    # The fp32 graph it came from is cached too (the fp32 embedder reuses it).
    assert len([p for p in tmp_path.glob("bert-*.onnx") if not p.name.startswith("bert-int8-")]) == 1
    int8_size = next(tmp_path.glob("bert-int8-*.onnx")).stat().st_size
    fp32_size = next(p for p in tmp_path.glob("bert-*.onnx") if not p.name.startswith("bert-int8-")).stat().st_size
    assert int8_size < fp32_size / 3  # int8 weights: a quarter of the bytes

    def quantized_again(graph: bytes) -> bytes:
        raise AssertionError("the int8 graph was quantised again although it is cached")

    monkeypatch.setattr(local_onnx_int8, "quantize_graph", quantized_again)
    second = OnnxInt8BertEmbedder().embed(["Scrooge and Marley"])
    np.testing.assert_allclose(first, second, atol=1e-6)


# --------------------------------------------------------------------------- workspace record


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(workspace=tmp_path / "ws", **values)


def test_a_new_workspace_records_the_default_embedder(tmp_path: Path) -> None:
    rag = GraphRAG(_settings(tmp_path))
    expected = build_embedder(Settings(embedder=NEW_WORKSPACE_EMBEDDER), None).model_id
    assert rag.embedder.model_id == expected
    assert recorded_embedder(rag.state) == expected


def test_auto_keeps_the_workspace_s_own_embedder(tmp_path: Path) -> None:
    for kind, model_id in (("local-int8", INT8_ID), ("local", FP32_ID)):
        settings = Settings(workspace=tmp_path / kind)
        GraphRAG(settings.model_copy(update={"embedder": kind})).state.cache_put(RECORD_KEY, model_id)
        assert GraphRAG(settings).embedder.model_id == model_id


def test_a_workspace_indexed_before_the_record_keeps_fp32(tmp_path: Path) -> None:
    rag = GraphRAG(_settings(tmp_path))
    rag.state.put_chunks([Chunk(id="c1", document_id="d1", text="Scrooge", order=0, n_tokens=1)])
    assert rag.embedder.model_id == FP32_ID  # the only local model before int8, whatever the new default
    assert recorded_embedder(rag.state) == FP32_ID


def test_an_explicit_embedder_of_another_vector_space_is_refused_with_advice(tmp_path: Path) -> None:
    GraphRAG(_settings(tmp_path, embedder="local-int8")).embedder  # noqa: B018 - records int8
    with pytest.raises(ConfigError, match=r"indexed with the embedder 'onnx-int8:all-MiniLM-L6-v2'.*"
                       r"'transformers:all-MiniLM-L6-v2'.*GRAPHRAG_EMBEDDER=local-int8 or auto"):
        GraphRAG(_settings(tmp_path, embedder="local")).embedder  # noqa: B018
    with pytest.raises(ConfigError, match="GRAPHRAG_EMBEDDER=local-int8"):
        GraphRAG(_settings(tmp_path, embedder="hashing")).embedder  # noqa: B018
    # The same space under the other runtime is fine: local-torch makes fp32 MiniLM vectors.
    GraphRAG(_settings(tmp_path / "b", embedder="local")).embedder  # noqa: B018
    assert GraphRAG(_settings(tmp_path / "b", embedder="local-torch")).embedder.model_id == FP32_ID


def test_auto_cannot_rebuild_a_remote_embedder_and_says_so(tmp_path: Path) -> None:
    GraphRAG(_settings(tmp_path, embedder="hashing")).embedder  # noqa: B018
    with pytest.raises(ConfigError, match="set GRAPHRAG_EMBEDDER"):
        GraphRAG(_settings(tmp_path)).embedder  # noqa: B018
    assert json.dumps(recorded_embedder(GraphRAG(_settings(tmp_path)).state)).startswith('"hashing')
