"""The HNSW graph of large in-memory vector tables (graphrag/query/hnsw_rows.py): its hits,
their exact scores, and the saved graph brought up to date with only the rows that changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphrag.query import hnsw_rows
from graphrag.query.hnsw_rows import HnswRows
from graphrag.query.vector_search import VectorSearcher
from graphrag.stores.base import VectorRow
from graphrag.stores.lancedb_vectors import LanceDBVectorStore

DIM = 32


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    return unit(centres[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, DIM)))


def exact(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ query
    return np.lexsort((np.arange(len(matrix)), -scores))[:k]


def recall(rows: HnswRows, matrix: np.ndarray, queries: np.ndarray, k: int) -> float:
    found = rows.search(matrix, queries, k)
    hits = [len(set(r.tolist()) & set(exact(matrix, q, k).tolist())) for (r, _), q in zip(found, queries)]
    return sum(hits) / (k * len(queries))


def test_hits_have_exact_scores_best_first_and_recall_the_exact_top_k(tmp_path: Path) -> None:
    matrix = clustered(3000)
    ids = [f"r{i}" for i in range(len(matrix))]
    rows = HnswRows.open(tmp_path, "relations", ids, matrix, ef=128)
    queries = unit(matrix[:50] + 0.1 * np.random.default_rng(1).standard_normal((50, DIM)))
    for (found, scores), q in zip(rows.search(matrix, queries, 10), queries):
        assert len(found) == 10
        np.testing.assert_allclose(scores, matrix[found] @ q, atol=1e-6)  # scored on the float32 rows
        assert np.all(np.diff(scores) <= 0)
    assert recall(rows, matrix, queries, 10) >= 0.98


def test_saved_graph_takes_only_the_changed_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = clustered(2000)
    ids = [f"r{i}" for i in range(len(matrix))]
    first = HnswRows.open(tmp_path, "t", ids, matrix, ef=128)
    assert first.built and list(tmp_path.glob("t.*.usearch"))

    again = HnswRows.open(tmp_path, "t", ids, matrix, ef=128)
    assert not again.built and again.updated == 0  # nothing changed: nothing added, nothing saved

    rng = np.random.default_rng(7)
    changed = matrix.copy()
    changed[5] = unit(rng.standard_normal(DIM))  # a row whose vector changed
    keep = [i for i in range(len(ids)) if i not in (10, 11)]  # two rows removed
    new = clustered(3, seed=9)  # three rows added
    ids2 = [ids[i] for i in keep] + ["n0", "n1", "n2"]
    ids2.reverse()  # another scan order
    matrix2 = np.vstack([changed[keep], new])[::-1].copy()
    saved = sorted(tmp_path.iterdir())
    updated = HnswRows.open(tmp_path, "t", ids2, matrix2, ef=128)
    assert not updated.built and updated.updated == 1 + 2 + 3
    assert sorted(tmp_path.iterdir()) == saved  # 6 of 2,000 rows: not saved again (SAVE_SHARE)
    monkeypatch.setattr(hnsw_rows, "SAVE_SHARE", 0.0)
    updated = HnswRows.open(tmp_path, "t", ids2, matrix2, ef=128)  # the same six again, then saved
    assert not updated.built and updated.updated == 6 and sorted(tmp_path.iterdir()) != saved
    assert HnswRows.open(tmp_path, "t", ids2, matrix2, ef=128).updated == 0

    # The hits name rows of the new matrix: the changed row and a new one are found by their
    # new vectors, the removed rows never.
    for row_id in ("r5", "n1"):
        j = ids2.index(row_id)
        (found, scores), = updated.search(matrix2, matrix2[j][None, :], 1)
        assert ids2[found[0]] == row_id and scores[0] == pytest.approx(1.0, abs=1e-5)
    found_ids = {ids2[j] for found, _ in updated.search(matrix2, matrix[[10, 11]], 20) for j in found}
    assert not found_ids & {"r10", "r11"}
    assert len(list(tmp_path.glob("t.*.usearch"))) == 1  # the older graph file is gone


def test_many_changes_build_anew(tmp_path: Path) -> None:
    matrix = clustered(800)
    ids = [f"r{i}" for i in range(len(matrix))]
    HnswRows.open(tmp_path, "t", ids, matrix, ef=64)
    rebuilt = HnswRows.open(tmp_path, "t", ids, clustered(800, seed=3), ef=64)
    assert rebuilt.built


def test_unreadable_or_unmatched_saved_graph_is_built_again(tmp_path: Path) -> None:
    matrix = clustered(500)
    ids = [f"r{i}" for i in range(len(matrix))]
    HnswRows.open(tmp_path, "t", ids, matrix, ef=64)
    for graph in tmp_path.glob("t.*.usearch"):  # a crash between the graph and its key table
        graph.unlink()
    assert HnswRows.open(tmp_path, "t", ids, matrix, ef=64).built
    (tmp_path / "t.keys.npz").write_bytes(b"not an npz")
    assert HnswRows.open(tmp_path, "t", ids, matrix, ef=64).built


def test_read_only_folder_keeps_the_graph_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(hnsw_rows.np, "savez", refuse)
    matrix = clustered(500)
    rows = HnswRows.open(tmp_path, "t", [f"r{i}" for i in range(500)], matrix, ef=64)
    assert rows.built and not (tmp_path / "t.keys.npz").exists()
    (found, _), = rows.search(matrix, matrix[:1], 1)
    assert found[0] == 0


def test_searcher_uses_the_graph_past_the_threshold_and_agrees_with_exact(tmp_path: Path) -> None:
    store = LanceDBVectorStore(tmp_path / "vectors", dim=DIM)
    matrix = clustered(2000, seed=4)
    store.upsert("relations", [VectorRow(f"r{i}", matrix[i], f"text {i}", {}) for i in range(len(matrix))])
    queries = unit(matrix[:30] + 0.1 * np.random.default_rng(2).standard_normal((30, DIM)))
    graph = VectorSearcher(store, 10_000, hnsw_min_rows=1000, hnsw_folder=tmp_path / "ann", hnsw_ef=128)
    plain = VectorSearcher(store, 10_000)
    by_graph = graph.search("relations", queries, 10)
    by_scan = plain.search("relations", queries, 10)
    assert graph._cached("relations").hnsw is not None and plain._cached("relations").hnsw is None
    assert list((tmp_path / "ann").glob("relations.*.usearch"))
    same = sum(len({h.id for h in a} & {h.id for h in b}) for a, b in zip(by_graph, by_scan))
    assert same / (10 * len(queries)) >= 0.98
    for a, b in zip(by_graph, by_scan):
        scores = {h.id: h.score for h in b}
        for h in a:
            if h.id in scores:
                assert h.score == pytest.approx(scores[h.id], abs=1e-6)


def test_engine_searches_large_tables_through_graphs_kept_in_the_workspace(sample_workspace: Path) -> None:
    """Every table of the sample workspace past a threshold of 1 row: the engine keeps their
    graphs in <workspace>/ann and retrieves what the exact search does (an approximate
    search may swap near-ties: the hashed vectors of this workspace tie often)."""
    import shutil

    from graphrag.core import GraphRAG
    from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder
    from tests.query.conftest import sample_settings

    workspace = sample_workspace.parent / "hnsw-copy"
    shutil.copytree(sample_workspace, workspace, dirs_exist_ok=True)
    question = "Who is Scrooge's clerk, and what happens to Tiny Tim?"
    results = {}
    for threshold in (0, 1):
        settings = sample_settings(workspace, query_hnsw_min_rows=threshold)
        with GraphRAG(settings, chat=ScriptedChatModel(derived_extraction_responder)) as rag:
            results[threshold] = {m: rag.retrieve(question, mode=m) for m in ("naive", "local", "global", "mix")}
    assert sorted(p.name.split(".")[0] for p in (workspace / "ann").glob("*.usearch")) == [
        "chunks", "entities", "relations",
    ]
    for mode, exact in results[0].items():
        graph = results[1][mode]
        # >= 3: the exact search cuts a crowd of rows scoring exactly 0 (hashed vectors sharing
        # no feature) by id, the graph among the rows it happened to visit; mix's walks then
        # start from slightly different seeds.
        assert len({c.id for c in graph.chunks[:5]} & {c.id for c in exact.chunks[:5]}) >= 3, mode
        entities = {e.key for e in exact.entities}
        assert len({e.key for e in graph.entities} & entities) >= 0.8 * len(entities), mode
