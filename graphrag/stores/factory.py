"""Builds the configured backends; heavy imports happen only for the backend chosen."""

from __future__ import annotations

from graphrag.errors import ConfigError
from graphrag.settings import Settings
from graphrag.stores.base import GraphStore, StateStore, VectorStore


def build_state_store(settings: Settings) -> StateStore:
    from graphrag.stores.sqlite_state import SQLiteStateStore

    settings.workspace.mkdir(parents=True, exist_ok=True)
    return SQLiteStateStore(settings.state_path)


def build_vector_store(settings: Settings, dim: int) -> VectorStore:
    from graphrag.stores.lancedb_vectors import LanceDBVectorStore

    return LanceDBVectorStore(settings.resolved_vector_uri, dim, index_threshold=settings.vector_ann_min_rows or None)


def build_graph_store(settings: Settings) -> GraphStore:
    if settings.graph_store == "networkx":
        from graphrag.stores.sqlite_graph import SQLiteGraphStore

        settings.workspace.mkdir(parents=True, exist_ok=True)
        return SQLiteGraphStore(settings.graph_path)
    if settings.graph_store == "neo4j":
        if not settings.neo4j_uri:
            raise ConfigError("GRAPHRAG_GRAPH_STORE=neo4j needs NEO4J_URI (e.g. bolt://localhost:7687)")
        from graphrag.stores.neo4j_graph import Neo4jGraphStore

        return Neo4jGraphStore.from_settings(settings)
    raise ConfigError(f"unknown graph store {settings.graph_store!r}; use networkx or neo4j")
