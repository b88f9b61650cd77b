"""A loaded vector table catches up with the rows an update changed: the same hits as a table
read afresh, without reading the table again."""

from __future__ import annotations

import numpy as np
import pytest

from graphrag.query import loaded_table, vector_search
from graphrag.query.vector_search import VectorSearcher
from graphrag.stores.base import VectorRow

DIM = 12


class _Store:
    """A vector store holding one table; counts how often the whole table is read."""

    def __init__(self) -> None:
        self.rows: dict[str, VectorRow] = {}
        self.whole_reads = 0

    def count(self, table: str) -> int:
        return len(self.rows)

    def ids(self, table: str) -> set[str]:
        return set(self.rows)

    def scan(self, table: str):
        self.whole_reads += 1
        ids = sorted(self.rows)
        matrix = np.stack([self.rows[i].vector for i in ids]).astype(np.float32)
        return ids, matrix, [self.rows[i].metadata for i in ids]

    def get(self, table: str, ids):
        return {i: self.rows[i] for i in ids if i in self.rows}

    def put(self, id_: str, vector: np.ndarray) -> None:
        self.rows[id_] = VectorRow(id_, vector.astype(np.float32), "", {"id": id_})


def _hits(searcher: VectorSearcher, queries: np.ndarray, k: int) -> list[list[tuple[str, float, str]]]:
    searcher.forget_hits()
    return [
        [(h.id, round(h.score, 5), h.metadata["id"]) for h in hits]
        for hits in searcher.search("t", queries, k)
    ]


def _searcher(store: _Store, path: str, tmp_path) -> VectorSearcher:
    if path == "hnsw":
        return VectorSearcher(store, 10_000, hnsw_min_rows=1, hnsw_folder=tmp_path / "ann")
    return VectorSearcher(store, 10_000)


@pytest.mark.parametrize("path", ["exact", "quantized", "hnsw"])
@pytest.mark.parametrize("seed", range(4))
def test_a_caught_up_table_finds_what_a_fresh_read_finds(path: str, seed: int, tmp_path, monkeypatch) -> None:
    if path == "quantized":
        monkeypatch.setattr(vector_search, "QUANTIZE_FROM_BYTES", 1)
    rng = np.random.default_rng(seed)
    store = _Store()
    for i in range(300):
        store.put(f"r{i:04d}", rng.normal(size=DIM))
    searcher = _searcher(store, path, tmp_path)
    queries = rng.normal(size=(6, DIM)).astype(np.float32)
    searcher.search("t", queries, 5)  # loaded
    next_id = 300
    for step in range(12):
        ids = sorted(store.rows)
        changed: set[str] = set()
        for i in rng.choice(len(ids), size=int(rng.integers(1, 6)), replace=False):
            if rng.random() < 0.5:
                store.rows.pop(ids[i])
            else:
                store.put(ids[i], rng.normal(size=DIM))
            changed.add(ids[i])
        for _ in range(int(rng.integers(0, 6))):  # new rows, some between old ids in sort order
            new_id = f"r{next_id:04d}" if rng.random() < 0.5 else f"r{int(rng.integers(0, 300)):04d}x{step}"
            next_id += 1
            store.put(new_id, rng.normal(size=DIM))
            changed.add(new_id)
        if step == 5:  # a removed id written again
            gone = next(iter(changed - set(store.rows)), None)
            if gone is not None:
                store.put(gone, rng.normal(size=DIM))
        searcher.catch_up({"t": changed, "other": {"x"}})
        fresh = VectorSearcher(store, 10_000)  # exact
        if path != "hnsw":
            for k in (1, 5, 40):
                got, want = _hits(searcher, queries, k), _hits(fresh, queries, k)
                assert [[h[0] for h in hits] for hits in got] == [[h[0] for h in hits] for hits in want], (step, k)
                # the scores to float32 rounding (a product's last bits depend on the rows it runs over)
                assert np.allclose([h[1] for hits in got for h in hits], [h[1] for hits in want for h in hits], atol=2e-5)
            continue
        # An HNSW graph is approximate (a fresh build misses a row now and then, as the caught-up
        # one may): it must hold exactly the live rows, and every hit must be a live row with its
        # current exact score.
        table = searcher._tables["t"]
        assert table.hnsw is not None
        live_keys = np.flatnonzero(table.hnsw.row_of_key >= 0)
        assert len(table.hnsw.index) == len(live_keys) == len(store.rows)
        assert {table.ids[r] for r in table.hnsw.row_of_key[live_keys]} == set(store.rows)
        exact = [{i: score for i, score, _ in hits} for hits in _hits(fresh, queries, 400)]
        found = _hits(searcher, queries, 5)
        assert all(abs(exact[q][i] - score) < 1e-4 for q, hits in enumerate(found) for i, score, _ in hits)
        truth = _hits(fresh, queries, 5)
        recall = sum(len({h[0] for h in a} & {h[0] for h in b}) for a, b in zip(found, truth)) / (5 * len(queries))
        assert recall >= 0.9
    assert store.whole_reads == 1 + 12  # the caught-up searcher read the table once; each fresh one once


def test_identical_vectors_rank_by_id_after_a_catch_up() -> None:
    store = _Store()
    same = np.ones(DIM)
    for i in ("b", "d"):
        store.put(i, same)
    store.put("z", -same)
    searcher = VectorSearcher(store, 1000)
    searcher.search("t", same[None, :], 3)
    store.put("a", same)  # appended after "d" in the caught-up rows
    store.put("c", same)
    searcher.catch_up({"t": {"a", "c"}})
    assert [h.id for h in searcher.search("t", same[None, :], 4)[0]] == ["a", "b", "c", "d"]


def test_removed_rows_are_compacted_once_they_pass_their_share() -> None:
    rng = np.random.default_rng(3)
    store = _Store()
    for i in range(100):
        store.put(f"r{i:03d}", rng.normal(size=DIM))
    searcher = VectorSearcher(store, 1000)
    query = rng.normal(size=(1, DIM)).astype(np.float32)
    searcher.search("t", query, 3)
    store.rows.pop("r000")
    searcher.catch_up({"t": {"r000"}})
    assert searcher._tables["t"].removed == 1  # 1 % of the rows: kept in place
    for i in (1, 2):
        store.rows.pop(f"r{i:03d}")
    searcher.catch_up({"t": {"r001", "r002"}})
    table = searcher._tables["t"]
    assert table.removed == 0 and len(table.ids) == 97 and None not in table.ids
    assert [h.id for h in searcher.search("t", query, 97)[0]] == [h.id for h in VectorSearcher(store, 1000).search("t", query, 97)[0]]


def test_much_changed_or_rows_written_outside_the_log_read_the_table_again(monkeypatch) -> None:
    monkeypatch.setattr(loaded_table, "RELOAD_MIN_ROWS", 0)
    rng = np.random.default_rng(4)
    store = _Store()
    for i in range(40):
        store.put(f"r{i:02d}", rng.normal(size=DIM))
    searcher = VectorSearcher(store, 1000)
    query = rng.normal(size=(1, DIM)).astype(np.float32)
    searcher.search("t", query, 3)
    for i in range(15):  # past RELOAD_SHARE
        store.put(f"r{i:02d}", rng.normal(size=DIM))
    searcher.catch_up({"t": {f"r{i:02d}" for i in range(15)}})
    assert "t" not in searcher._tables
    searcher.search("t", query, 3)
    store.put("unlogged", rng.normal(size=DIM))
    store.put("r20", rng.normal(size=DIM))
    searcher.catch_up({"t": {"r20"}})  # the store holds a row the change did not name
    assert "t" not in searcher._tables
    assert store.whole_reads == 2
    assert [h.id for h in searcher.search("t", query, 5)[0]] == [h.id for h in VectorSearcher(store, 1000).search("t", query, 5)[0]]


def test_a_search_in_flight_keeps_the_table_it_started_with() -> None:
    """A catch-up builds a new table object: the old one (a search holding it) still names the
    ids it had, and a row appended later lies past its end."""
    rng = np.random.default_rng(5)
    store = _Store()
    for i in range(100):
        store.put(f"r{i:02d}", rng.normal(size=DIM))
    searcher = VectorSearcher(store, 1000)
    searcher.search("t", rng.normal(size=(1, DIM)).astype(np.float32), 3)
    old = searcher._tables["t"]
    before = old.matrix.copy()
    store.rows.pop("r03")
    store.put("new", rng.normal(size=DIM))
    store.put("r05", rng.normal(size=DIM))  # changed: appended anew, its old row left as it was
    searcher.catch_up({"t": {"r03", "new", "r05"}})
    assert old.ids[3] == "r03" and len(old.ids) == 100 and len(old.matrix) == 100
    assert np.array_equal(old.matrix, before)
    assert searcher._tables["t"].ids[3] is None and searcher._tables["t"].ids[-2:] == ["new", "r05"]
    searcher.catch_up({"t": {"r05"}})  # a second catch-up writes past the first one's rows too
    assert np.array_equal(old.matrix, before)


@pytest.mark.parametrize("path", ["exact", "quantized", "hnsw"])
def test_rows_tied_at_the_last_place_are_chosen_by_id(path: str, tmp_path, monkeypatch) -> None:
    """Two chunks of the same text: a fresh load holds them by id, a caught-up table appends the
    new one; the one returned at the k-th place is the same."""
    if path == "quantized":
        monkeypatch.setattr(vector_search, "QUANTIZE_FROM_BYTES", 1)
    rng = np.random.default_rng(7)
    store = _Store()
    query = rng.normal(size=DIM).astype(np.float32)
    store.put("m-best", query)
    for i in range(60):
        store.put(f"r{i:02d}", rng.normal(size=DIM) - 3 * query)
    same = query + rng.normal(size=DIM) * 0.5
    store.put("z-twin", same)
    searcher = _searcher(store, path, tmp_path)
    searcher.search("t", query[None, :], 2)
    store.put("a-twin", same)  # sorts before z-twin, appended after it
    searcher.catch_up({"t": {"a-twin"}})
    searcher.forget_hits()
    assert [h.id for h in searcher.search("t", query[None, :], 2)[0]] == ["m-best", "a-twin"]


def test_a_crowd_tied_at_the_last_place_is_cut_by_id() -> None:
    """Hashed vectors that share no feature all score 0.0: which of them fill the last places
    must not depend on the order the table holds them in."""
    store = _Store()
    query = np.zeros(DIM, dtype=np.float32)
    query[0] = 1.0
    store.put("best", query)
    for i in range(40):
        v = np.zeros(DIM)
        v[1 + i % (DIM - 1)] = 1.0
        store.put(f"z{i:02d}", v)
    searcher = VectorSearcher(store, 1000)
    searcher.search("t", query[None, :], 3)
    for i in range(5):
        v = np.zeros(DIM)
        v[2] = 1.0
        store.put(f"a{i}", v)  # tied at 0.0, sorting before every z, appended after them
    searcher.catch_up({"t": {f"a{i}" for i in range(5)}})
    searcher.forget_hits()
    want = [h.id for h in VectorSearcher(store, 1000).search("t", query[None, :], 4)[0]]
    assert want == ["best", "a0", "a1", "a2"]
    assert [h.id for h in searcher.search("t", query[None, :], 4)[0]] == want
