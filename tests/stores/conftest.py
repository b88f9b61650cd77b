"""Backends for the store contract tests.

Every contract test runs once per backend name in the lists below. A new backend is one
factory function plus its name in the list (and in the factory dict), e.g. for Neo4j:

    GRAPH_BACKENDS = ["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)]
    GRAPH_FACTORIES["neo4j"] = _neo4j_graph   # opens a store on a fresh workspace

A factory gets a per-test temporary directory and returns a `Backend`: `open()` may be
called several times (later calls reopen the same data, for persistence tests) and
`teardown()` removes whatever the backend created outside that directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

from graphrag.stores.base import GraphStore, StateStore, VectorStore
from graphrag.stores.lancedb_vectors import LanceDBVectorStore
from graphrag.stores.networkx_graph import NetworkXGraphStore
from graphrag.stores.sqlite_graph import SQLiteGraphStore
from graphrag.stores.sqlite_state import SQLiteStateStore

S = TypeVar("S")

DIM = 8  # small vectors keep the tests fast; nothing in the contract depends on the size


@dataclass
class Backend(Generic[S]):
    name: str
    factory: Callable[..., S]
    persistent: bool = True
    teardown: Callable[[], None] = lambda: None
    _opened: list[Any] = field(default_factory=list)

    def open(self, *args: Any, **kwargs: Any) -> S:
        store = self.factory(*args, **kwargs)
        self._opened.append(store)
        return store

    def reopen(self, *args: Any, **kwargs: Any) -> S:
        """Closes every store opened so far (making their writes durable), opens a new one."""
        self.close_all()
        return self.open(*args, **kwargs)

    def close_all(self) -> None:
        while self._opened:
            self._opened.pop().close()


# --- graph stores

def _networkx_graph(tmp: Path) -> Backend[GraphStore]:
    """The default embedded store: NetworkX in memory, SQLite tables on disk."""
    return Backend("networkx", lambda: SQLiteGraphStore(tmp / "graph.sqlite"))


def _networkx_json_graph(tmp: Path) -> Backend[GraphStore]:
    """The in-memory graph alone, saved whole to a JSON file (what the SQLite store builds on)."""
    return Backend("networkx-json", lambda: NetworkXGraphStore(tmp / "graph.json"))


def _neo4j_graph(tmp: Path) -> Backend[GraphStore]:
    """A fresh namespace on the test server; reopening connects to the same namespace, and
    teardown drops it."""
    from graphrag.stores.neo4j_graph import Neo4jGraphStore
    from tests.neo4j_support import fresh_namespace, neo4j_test_uri

    uri = neo4j_test_uri()  # skips (or fails under GRAPHRAG_REQUIRE_NEO4J=1) without a server
    namespace = fresh_namespace()

    def teardown() -> None:
        store = Neo4jGraphStore(uri, namespace=namespace)
        try:
            store.drop_namespace()
        finally:
            store.close()

    return Backend("neo4j", lambda: Neo4jGraphStore(uri, namespace=namespace, batch_size=2), teardown=teardown)


GRAPH_BACKENDS: list[Any] = ["networkx", "networkx-json", pytest.param("neo4j", marks=pytest.mark.neo4j)]
GRAPH_FACTORIES: dict[str, Callable[[Path], Backend[GraphStore]]] = {
    "networkx": _networkx_graph,
    "networkx-json": _networkx_json_graph,
    "neo4j": _neo4j_graph,
}


# --- vector stores

def _lancedb_vectors(tmp: Path) -> Backend[VectorStore]:
    return Backend("lancedb", lambda dim=DIM: LanceDBVectorStore(tmp / "vectors", dim))


VECTOR_BACKENDS: list[Any] = ["lancedb"]
VECTOR_FACTORIES: dict[str, Callable[[Path], Backend[VectorStore]]] = {"lancedb": _lancedb_vectors}


# --- state stores

def _sqlite_state(tmp: Path) -> Backend[StateStore]:
    return Backend("sqlite", lambda: SQLiteStateStore(tmp / "state.sqlite"))


STATE_BACKENDS: list[Any] = ["sqlite"]
STATE_FACTORIES: dict[str, Callable[[Path], Backend[StateStore]]] = {"sqlite": _sqlite_state}


# --- fixtures

def _backend(
    factories: dict[str, Callable[[Path], Backend[S]]], name: str, tmp_path: Path
) -> Iterator[Backend[S]]:
    backend = factories[name](tmp_path)
    try:
        yield backend
    finally:
        backend.close_all()
        backend.teardown()


@pytest.fixture(params=GRAPH_BACKENDS)
def graph_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend[GraphStore]]:
    yield from _backend(GRAPH_FACTORIES, request.param, tmp_path)


@pytest.fixture
def graph_store(graph_backend: Backend[GraphStore]) -> GraphStore:
    return graph_backend.open()


@pytest.fixture(params=VECTOR_BACKENDS)
def vector_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend[VectorStore]]:
    yield from _backend(VECTOR_FACTORIES, request.param, tmp_path)


@pytest.fixture
def vector_store(vector_backend: Backend[VectorStore]) -> VectorStore:
    return vector_backend.open()


@pytest.fixture(params=STATE_BACKENDS)
def state_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend[StateStore]]:
    yield from _backend(STATE_FACTORIES, request.param, tmp_path)


@pytest.fixture
def state_store(state_backend: Backend[StateStore]) -> StateStore:
    return state_backend.open()


# --- Neo4j stores on fresh workspaces (tests that need the Neo4j store itself)

@pytest.fixture
def uri() -> str:
    from tests.neo4j_support import neo4j_test_uri

    return neo4j_test_uri()


@pytest.fixture
def open_store(uri: str) -> Iterator[Any]:
    """Opens Neo4j stores on fresh namespaces; drops them afterwards."""
    from graphrag.stores.neo4j_graph import Neo4jGraphStore
    from tests.neo4j_support import fresh_namespace

    stores: list[Any] = []

    def make(namespace: str | None = None, **kwargs: Any) -> Any:
        store = Neo4jGraphStore(uri, namespace=namespace or fresh_namespace(), **kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.drop_namespace()
        store.close()
