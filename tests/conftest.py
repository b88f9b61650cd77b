"""Shared fixtures: sample documents, and GraphRAG workspaces wired to fast, deterministic fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
SHARED_DIR = REPO.parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shared_missing = not SHARED_DIR.is_dir()
    for item in items:
        if shared_missing and item.get_closest_marker("shared"):
            item.add_marker(pytest.mark.skip(reason=f"needs {SHARED_DIR} (evaluation data; present in CI)"))


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_texts() -> dict[str, str]:
    """Three short documents cut from the sample corpus: small enough for fast tests,
    long enough to give several chunks each at the tests' chunk size."""
    texts = {}
    for name, path in zip("ABC", sorted(SAMPLE_DIR.glob("*.txt"))):
        body = path.read_text(encoding="utf-8")
        start = body.index("\n\n", 2000)
        texts[name] = body[start : start + 3500].strip()
    return texts


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., "Settings"]:
    from graphrag.settings import Settings

    def make(workspace: str | Path = "ws", **overrides: object) -> Settings:
        values: dict[str, object] = {
            "workspace": tmp_path / workspace,
            "chunk_size": 200,
            "chunk_overlap": 20,
            "embedder": "hashing",
            "summary_min_fragments": 4,
        }
        values.update(overrides)
        return Settings(**values)

    return make


GRAPH_BACKENDS = ["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)]


@pytest.fixture(params=GRAPH_BACKENDS)
def graph_backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once per graph backend; the Neo4j run needs the test server."""
    if request.param == "neo4j":
        from tests.neo4j_support import neo4j_test_uri

        neo4j_test_uri()  # fails (CI) or skips (no server) with a reason
    return request.param


@pytest.fixture
def make_rag(make_settings: Callable[..., "Settings"], request: pytest.FixtureRequest) -> Iterator[Callable[..., "GraphRAG"]]:
    """GraphRAG with a scripted chat model (extraction derived from the chunk text) unless
    `offline=True`, which uses the spaCy extractor and no chat model. Tests that also take
    the `graph_backend` fixture run on that graph backend (each workspace in its own
    namespace); others on NetworkX."""
    import uuid

    from graphrag.core import GraphRAG
    from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder

    backend = request.getfixturevalue("graph_backend") if "graph_backend" in request.fixturenames else "networkx"
    opened: list[GraphRAG] = []

    def make(workspace: str = "ws", *, offline: bool = False, chat=None, **overrides: object) -> GraphRAG:
        if backend == "neo4j":
            from tests.neo4j_support import neo4j_test_uri

            overrides.setdefault("graph_store", "neo4j")
            overrides.setdefault("neo4j_uri", neo4j_test_uri())
            overrides.setdefault("graph_namespace", f"test-{uuid.uuid4().hex[:12]}")
        if offline:
            settings = make_settings(workspace, extractor="spacy", **overrides)
            rag = GraphRAG(settings)
            rag.__dict__["chat"] = None
        else:
            settings = make_settings(workspace, extractor="llm", **overrides)
            rag = GraphRAG(settings, chat=chat or ScriptedChatModel(derived_extraction_responder))
        opened.append(rag)
        return rag

    yield make
    for rag in opened:
        if backend == "neo4j":
            rag.graph.drop_namespace()
        rag.close()


@pytest.fixture
def write_docs(tmp_path: Path) -> Callable[[dict[str, str], str], list[Path]]:
    def write(docs: dict[str, str], folder: str = "docs") -> list[Path]:
        base = tmp_path / folder
        base.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in docs.items():
            path = base / f"{name}.txt"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths

    return write


@pytest.fixture(autouse=True)
def _offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing in the tests may reach a model hub.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv("GRAPHRAG_CHAT_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("GRAPHRAG_WORKSPACE", raising=False)
