"""The LanceDB store's ANN index: built by the write that takes a table past the threshold
(not before), kept current as rows are added, and searched with the exact top hits; the query
engine's searcher asks for it on tables too large for memory and remembers their hits."""

from __future__ import annotations

import numpy as np
import pytest

from graphrag.query.vector_search import VectorSearcher
from graphrag.stores.base import VectorRow
from graphrag.stores.lancedb_vectors import LanceDBVectorStore

DIM = 32
THRESHOLD = 1000


def _clustered(rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = centres[rng.integers(0, 40, rows)] + rng.standard_normal((rows, DIM)).astype(np.float32) * 0.15
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _rows(vectors: np.ndarray, start: int = 0) -> list[VectorRow]:
    return [VectorRow(f"r{start + i}", v, f"row {start + i}", {"i": start + i}) for i, v in enumerate(vectors)]


def _fill(store: LanceDBVectorStore, vectors: np.ndarray, batch: int = 500) -> None:
    for lo in range(0, len(vectors), batch):
        store.upsert("relations", _rows(vectors[lo : lo + batch], lo))


def test_no_index_below_the_threshold(tmp_path) -> None:
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=THRESHOLD)
    _fill(store, _clustered(THRESHOLD - 1))
    store.optimize()
    assert not store.has_ann_index("relations")
    assert store.ensure_ann_index("relations") is False
    assert not store.has_ann_index("relations")


def test_the_write_past_the_threshold_builds_the_index_and_search_stays_exact(tmp_path) -> None:
    vectors = _clustered(1500)
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=THRESHOLD)
    store.upsert("relations", _rows(vectors[:900]))
    assert not store.has_ann_index("relations")
    store.upsert("relations", _rows(vectors[900:], 900))  # 1,500 rows: past the threshold
    assert store.has_ann_index("relations")

    rng = np.random.default_rng(1)
    for pick in rng.choice(len(vectors), 10, replace=False):
        query = vectors[pick] + rng.standard_normal(DIM).astype(np.float32) * 0.05
        query /= np.linalg.norm(query)
        exact = np.argsort(-(vectors @ query), kind="stable")[:10]
        hits = store.search("relations", query, 10)
        assert [h.id for h in hits] == [f"r{i}" for i in exact]
        # Scores are exact cosines (the refine step re-ranks on the full vectors).
        np.testing.assert_allclose([h.score for h in hits], (vectors @ query)[exact], atol=1e-4)


def test_rows_added_after_the_build_are_folded_into_the_index(tmp_path) -> None:
    vectors = _clustered(1600)
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=THRESHOLD)
    _fill(store, vectors[:1200], batch=600)
    table = store._table("relations")
    index = next(i.name for i in table.list_indices() if "vector" in i.columns)
    store.upsert("relations", _rows(vectors[1200:1250], 1200))  # under a tenth: scanned, not folded
    assert table.index_stats(index).num_unindexed_rows == 50
    store.upsert("relations", _rows(vectors[1250:], 1250))  # past a tenth: folded in
    assert table.index_stats(index).num_unindexed_rows == 0
    assert table.index_stats(index).num_indexed_rows == 1600
    hits = store.search("relations", vectors[1599], 1)
    assert hits[0].id == "r1599"


def test_the_searcher_builds_a_missing_index_and_remembers_store_hits(tmp_path, monkeypatch) -> None:
    vectors = _clustered(1200)
    # Written by a store that never indexes (an older workspace), read by one that does.
    _fill(LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=None), vectors)
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=THRESHOLD)
    assert not store.has_ann_index("relations")
    searcher = VectorSearcher(store, max_cached_rows=THRESHOLD)

    calls: list[int] = []
    search_many = store.search_many
    monkeypatch.setattr(store, "search_many", lambda t, q, k, *a: calls.append(len(q)) or search_many(t, q, k, *a))
    first = searcher.search("relations", vectors[:3], 5)
    assert store.has_ann_index("relations")
    assert [hits[0].id for hits in first] == ["r0", "r1", "r2"]
    assert calls == [3]  # one query for the three vectors
    again = searcher.search("relations", vectors[:3], 4)  # fewer hits of the same vectors
    assert calls == [3]
    assert [[h.id for h in hits] for hits in again] == [[h.id for h in hits[:4]] for hits in first]


@pytest.mark.parametrize("indexed", [False, True])
def test_one_search_of_many_vectors_equals_a_search_per_vector(tmp_path, indexed) -> None:
    vectors = _clustered(1300)
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=THRESHOLD if indexed else None)
    _fill(store, vectors)
    assert store.has_ann_index("relations") is indexed
    rng = np.random.default_rng(2)
    queries = vectors[rng.choice(len(vectors), 6, replace=False)] + rng.standard_normal((6, DIM)).astype(np.float32) * 0.05
    for where in (None, "id != 'r7'"):
        batched = store.search_many("relations", queries, 8, where)
        single = [store.search("relations", q, 8, where) for q in queries]
        assert [[h.id for h in hits] for hits in batched] == [[h.id for h in hits] for hits in single]
        for b, s_ in zip(batched, single):
            np.testing.assert_allclose([h.score for h in b], [h.score for h in s_], atol=1e-5)
            assert [h.metadata for h in b] == [h.metadata for h in s_]
    assert store.search_many("relations", queries[:0], 8) == []
    assert store.search_many("missing", queries, 8) == [[] for _ in queries]


@pytest.mark.parametrize(("env", "threshold"), [("0", None), ("1000", 1000)])
def test_the_setting_reaches_the_store(tmp_path, monkeypatch, env, threshold) -> None:
    from graphrag.settings import Settings
    from graphrag.stores.factory import build_vector_store

    monkeypatch.setenv("GRAPHRAG_VECTOR_ANN_MIN_ROWS", env)  # 0: never build one
    store = build_vector_store(Settings(workspace=tmp_path), DIM)
    assert store.index_threshold == threshold


def test_a_radius_search_returns_every_row_within_it_and_no_other(tmp_path) -> None:
    """`min_score`: the rows at least that similar, whatever k would have cut (name vectors
    are candidates by radius, README "Entity resolution")."""
    vectors = _clustered(300)
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=None)
    _fill(store, vectors)
    queries = vectors[:4]
    for hits, q in zip(store.search_many("relations", queries, 1000, min_score=0.5), queries):
        cosines = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
        expected = {f"r{i}" for i in np.flatnonzero(cosines >= 0.5 + 1e-5)}
        found = {h.id for h in hits}
        assert expected <= found and all(h.score >= 0.5 - 1e-5 for h in hits)
        assert 1 < len(found) < len(vectors)


def test_scan_reads_every_row_as_get_does_in_one_read(tmp_path) -> None:
    """What the searcher loads into memory: every id (sorted), vector and metadata, the
    rows written since an update and not the deleted ones."""
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=None)
    vectors = _clustered(1200)
    _fill(store, vectors)
    store.delete("relations", ["r3", "r700"])
    store.upsert("relations", _rows(vectors[:1] * -1.0, 5000))
    ids, matrix, metadata = store.scan("relations")
    expected = store.get("relations", sorted(store.ids("relations")))
    assert ids == sorted(expected) and "r3" not in ids and "r5000" in ids
    np.testing.assert_array_equal(matrix, np.stack([expected[i].vector for i in ids]))
    assert metadata == [expected[i].metadata for i in ids]
    assert store.scan("missing")[0] == []


def test_ids_get_a_btree_from_a_size_whatever_the_ann_threshold(tmp_path, monkeypatch) -> None:
    """Tables searched in memory (below the ANN threshold) are still written by id: past
    `_ID_INDEX_MIN_ROWS` merge_insert and get() read a B-tree on id, not every row."""
    from graphrag.stores import lancedb_vectors

    monkeypatch.setattr(lancedb_vectors, "_ID_INDEX_MIN_ROWS", 600)
    store = LanceDBVectorStore(tmp_path / "v", DIM, index_threshold=None)
    _fill(store, _clustered(500))

    def indexed_columns() -> list[list[str]]:
        return [index.columns for index in store._table("relations").list_indices()]

    assert indexed_columns() == []
    store.upsert("relations", _rows(_clustered(200, seed=2), 500))  # 700 rows
    assert indexed_columns() == [["id"]]
    assert not store.has_ann_index("relations")
    assert set(store.get("relations", ["r3", "r650"])) == {"r3", "r650"}
