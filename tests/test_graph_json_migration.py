"""A workspace indexed by an older graphrag keeps its graph in graph.json: opening it with
this one imports the graph once into graph.sqlite and goes on as if nothing happened."""

from __future__ import annotations

from graphrag.stores.networkx_graph import NetworkXGraphStore


def test_a_graph_json_workspace_is_imported_and_keeps_working(make_rag, write_docs, sample_texts) -> None:
    a, b, c = write_docs(sample_texts)
    old = make_rag("old")
    old.index([a, b])
    workspace = old.settings.workspace
    entities = sorted(old.graph.iter_entities(), key=lambda e: e.key)
    # Rewrite the workspace as an older graphrag left it: graph.json, no graph.sqlite.
    legacy = NetworkXGraphStore(workspace / "graph.json")
    legacy.upsert_documents(list(old.graph.iter_documents()))
    legacy.upsert_chunks(list(old.graph.iter_chunks()))
    legacy.upsert_entities(entities)
    legacy.upsert_relations(list(old.graph.iter_relations()))
    legacy.close()
    old.close()
    for name in ("graph.sqlite", "graph.sqlite-wal", "graph.sqlite-shm"):
        (workspace / name).unlink(missing_ok=True)

    reopened = make_rag("old")
    assert sorted(reopened.graph.iter_entities(), key=lambda e: e.key) == entities
    assert (workspace / "graph.json.imported").is_file() and not (workspace / "graph.json").exists()
    reopened.index([c])
    fresh = make_rag("fresh")  # the same history, never migrated
    fresh.index([a, b])
    fresh.index([c])
    assert sorted(reopened.graph.iter_entities(), key=lambda e: e.key) == sorted(
        fresh.graph.iter_entities(), key=lambda e: e.key
    )
    assert sorted(reopened.graph.iter_relations(), key=lambda r: r.key) == sorted(
        fresh.graph.iter_relations(), key=lambda r: r.key
    )
