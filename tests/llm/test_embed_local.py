"""The local MiniLM on its two runtimes: ONNX Runtime (the default, no torch) and torch
(the optional extra). Their vectors must be the same (cosine >= 0.999) so a workspace
embedded by either stays valid under the other: checked live against torch when it is
installed, and against reference vectors made by the torch path (tests/llm/data/) otherwise.

Regenerate the reference (with torch installed): python -m tests.llm.test_embed_local
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphrag.errors import ConfigError
from graphrag.llm.embed import OnnxBertEmbedder, TransformersEmbedder, build_embedder
from graphrag.settings import Settings

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).parent / "data" / "minilm_reference.npy"
HAS_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None

_LONG = (
    "Chop the onions, fry them in butter, then simmer the tomato sauce slowly. " * 30
    + "The bank reported quarterly earnings and raised its dividend for shareholders. " * 30
)
# Varied on purpose: short and long (several windows), names, numbers, punctuation only, the
# empty string, accents, other scripts, code, a Cypher query, repeated words.
PARITY_TEXTS = [
    "",
    "Scrooge",
    "Bob Cratchit is Scrooge's clerk; his son Tiny Tim is ill.",
    "A cat is sitting on the mat.",
    "The central bank raised interest rates by half a point on 3 March 2024 (+0.5%).",
    "!!! ??? ... ---",
    "Ça va? Größe, naïve café, São Paulo, Kraków.",
    "東京は日本の首都です。 Москва — столица России. القاهرة",
    "def embed(texts: list[str]) -> np.ndarray:\n    return model(texts)  # TODO",
    "MATCH (e:Entity {name: $name})-[r:RELATED]->(o) RETURN o.name LIMIT 10",
    "graph graph graph graph graph graph graph graph",
    " ".join(f"word{i}" for i in range(300)),
    _LONG,
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


@pytest.fixture(scope="module")
def onnx_vectors() -> np.ndarray:
    return OnnxBertEmbedder().embed(PARITY_TEXTS)


@pytest.mark.slow
def test_onnx_vectors_equal_the_stored_torch_reference(onnx_vectors: np.ndarray) -> None:
    reference = np.load(REFERENCE)
    assert reference.shape == (len(PARITY_TEXTS), 384)
    assert cosines(onnx_vectors, reference.astype(np.float32)).min() >= 0.999


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="torch path not installed (pip install 'graphrag-kg[torch]'); the stored reference is checked instead")
def test_onnx_vectors_equal_the_torch_path_live(onnx_vectors: np.ndarray) -> None:
    torch_vectors = TransformersEmbedder().embed(PARITY_TEXTS)
    assert cosines(onnx_vectors, torch_vectors).min() >= 0.999
    # The stored reference is what torch makes today (it cannot go stale unnoticed).
    assert cosines(np.load(REFERENCE).astype(np.float32), torch_vectors).min() >= 0.999


def test_both_runtimes_share_one_model_id_and_the_default_is_onnx() -> None:
    default = build_embedder(Settings(embedder="local"), None)
    assert isinstance(default, OnnxBertEmbedder)
    torch_path = build_embedder(Settings(embedder="local-torch"), None)
    assert isinstance(torch_path, TransformersEmbedder)
    # Same vectors, same id: caches and vector tables of existing workspaces stay valid.
    assert default.model_id == torch_path.model_id == "transformers:all-MiniLM-L6-v2"
    assert (default.dim, default.max_seq_length) == (384, 256)


@pytest.mark.slow
def test_the_default_local_embedder_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from graphrag.llm.embed import build_embedder\n"
        "from graphrag.settings import Settings\n"
        "v = build_embedder(Settings(embedder='local'), None).embed(['Marley was dead, to begin with.'])\n"
        "assert v.shape == (1, 384), v.shape\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
    ).stdout
    assert out.strip() == "[]"


def test_local_torch_without_torch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    emb = TransformersEmbedder()
    with pytest.raises(ConfigError, match=r"pip install 'graphrag-kg\[torch\]'.*GRAPHRAG_EMBEDDER=local"):
        emb.embed(["x"])


def test_onnx_runtime_refuses_a_model_it_cannot_build_with_advice(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "t5", "hidden_size": 512}')
    emb = OnnxBertEmbedder(tmp_path)
    with pytest.raises(ConfigError, match="GRAPHRAG_EMBEDDER=local-torch"):
        emb.embed(["x"])


def _write_reference() -> None:
    vectors = TransformersEmbedder().embed(PARITY_TEXTS)
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.save(REFERENCE, vectors.astype(np.float16))  # 10 KB; float16 keeps cosine > 0.99999
    print(f"wrote {REFERENCE} {vectors.shape}")


if __name__ == "__main__":
    _write_reference()


@pytest.mark.slow
def test_the_built_graph_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold process reads the graph it built before instead of importing onnx and building
    it again (most of the embedder's load time)."""
    import graphrag.llm.embed.local_onnx as local_onnx

    monkeypatch.setenv("GRAPHRAG_ONNX_CACHE", str(tmp_path))
    first = OnnxBertEmbedder().embed(["Scrooge and Marley"])
    assert len(list(tmp_path.glob("bert-*.onnx"))) == 1

    def rebuilt(*args: object, **kwargs: object) -> None:
        raise AssertionError("the graph was built again although it is cached")

    monkeypatch.setattr(local_onnx, "build_bert_graph", rebuilt)
    second = OnnxBertEmbedder().embed(["Scrooge and Marley"])
    np.testing.assert_allclose(first, second, atol=1e-6)
