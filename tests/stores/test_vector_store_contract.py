"""The VectorStore contract, run against every vector backend in conftest.VECTOR_BACKENDS."""

from __future__ import annotations

import numpy as np
import pytest

from graphrag.errors import StoreError
from graphrag.stores.base import VectorRow, VectorStore

from .conftest import DIM, Backend


def unit(*components: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(components)] = components
    return v / np.linalg.norm(v)


def axis(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    return v


def entity_rows() -> list[VectorRow]:
    return [
        VectorRow("alice", axis(0), "Alice, a person", {"type": "PERSON", "name": "Alice"}),
        VectorRow("acme", axis(1), "Acme, a company", {"type": "ORG", "name": "Acme"}),
        VectorRow("bob", unit(1, 1), "Bob, a person", {"type": "PERSON", "name": "Bob"}),
        VectorRow("paris", unit(-0.1, 0, 1), "Paris, a city", {"type": "LOCATION", "name": "Paris"}),
    ]


def test_implements_the_protocol(vector_store: VectorStore) -> None:
    assert isinstance(vector_store, VectorStore)


def test_missing_table_reads_as_empty(vector_store: VectorStore) -> None:
    assert vector_store.count("entities") == 0
    assert vector_store.ids("entities") == set()
    assert vector_store.get("entities", ["x"]) == {}
    assert vector_store.search("entities", axis(0), k=3) == []
    vector_store.delete("entities", ["x"])  # no error, nothing to do
    vector_store.upsert("entities", [])


def test_upsert_twice_equals_once(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", entity_rows())
    vector_store.upsert("entities", entity_rows())
    assert vector_store.count("entities") == 4
    assert vector_store.ids("entities") == {"alice", "acme", "bob", "paris"}


def test_duplicate_ids_in_one_batch_keep_the_last(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", [VectorRow("x", axis(0), "first"), VectorRow("x", axis(1), "second")])
    assert vector_store.count("entities") == 1
    assert vector_store.get("entities", ["x"])["x"].text == "second"


def test_get_round_trips_vector_text_and_metadata(vector_store: VectorStore) -> None:
    meta = {"type": "PERSON", "name": "Zoë", "nested": {"list": [1, 2.5, "x"]}, "n": 3}
    vector_store.upsert("entities", [VectorRow("z", unit(1, 2, 3), "text ✓", meta)])
    row = vector_store.get("entities", ["z", "missing"])
    assert set(row) == {"z"}
    assert row["z"].text == "text ✓"
    assert dict(row["z"].metadata) == meta
    assert row["z"].vector.dtype == np.float32
    np.testing.assert_array_equal(row["z"].vector, unit(1, 2, 3))


def test_update_changes_vector_text_and_metadata(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", entity_rows())
    vector_store.upsert("entities", [VectorRow("alice", axis(3), "Alice, now a city", {"type": "LOCATION"})])
    assert vector_store.count("entities") == 4
    alice = vector_store.get("entities", ["alice"])["alice"]
    assert alice.text == "Alice, now a city"
    np.testing.assert_array_equal(alice.vector, axis(3))
    top = vector_store.search("entities", axis(3), k=1)[0]
    assert (top.id, top.metadata["type"]) == ("alice", "LOCATION")
    # The filter column follows the metadata too.
    assert {h.id for h in vector_store.search("entities", axis(0), k=10, where="type = 'LOCATION'")} == {
        "alice", "paris",
    }


def test_delete(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", entity_rows())
    vector_store.delete("entities", ["acme", "bob", "never-there"])
    assert vector_store.ids("entities") == {"alice", "paris"}
    assert {h.id for h in vector_store.search("entities", axis(1), k=10)} == {"alice", "paris"}


def test_search_order_and_cosine_scores(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", entity_rows())
    hits = vector_store.search("entities", axis(0), k=3)
    assert [h.id for h in hits] == ["alice", "bob", "acme"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[1].score == pytest.approx(np.sqrt(0.5), abs=1e-5)
    assert hits[2].score == pytest.approx(0.0, abs=1e-5)
    assert hits[0].text == "Alice, a person" and hits[0].metadata["name"] == "Alice"
    everything = vector_store.search("entities", axis(0), k=100)
    assert [h.id for h in everything] == ["alice", "bob", "acme", "paris"]
    assert vector_store.search("entities", axis(0), k=0) == []


def test_search_opposite_vector_scores_minus_one(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", [VectorRow("a", axis(0), "a")])
    assert vector_store.search("entities", -axis(0), k=1)[0].score == pytest.approx(-1.0, abs=1e-5)


def test_where_filters_before_top_k(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", entity_rows())
    hits = vector_store.search("entities", axis(1), k=2, where="type = 'PERSON'")
    assert [h.id for h in hits] == ["bob", "alice"]
    assert vector_store.search("entities", axis(1), k=5, where="type = 'NOTHING'") == []


def test_where_on_chunk_and_relation_columns(vector_store: VectorStore) -> None:
    vector_store.upsert("chunks", [
        VectorRow("c1", axis(0), "one", {"document_id": "doc-1", "order": 0}),
        VectorRow("c2", axis(0), "two", {"document_id": "doc-2", "order": 0}),
        VectorRow("c3", axis(1), "three", {"document_id": "doc-1", "order": 1}),
    ])
    hits = vector_store.search("chunks", axis(0), k=5, where="document_id = 'doc-1'")
    assert [h.id for h in hits] == ["c1", "c3"]
    vector_store.upsert("relations", [
        VectorRow("a|b", axis(0), "a-b", {"source": "a", "target": "b"}),
        VectorRow("b|c", axis(1), "b-c", {"source": "b", "target": "c"}),
    ])
    hits = vector_store.search("relations", axis(0), k=5, where="source = 'b' OR target = 'b'")
    assert [h.id for h in hits] == ["a|b", "b|c"]
    assert [h.id for h in vector_store.search("relations", axis(0), k=5, where="source = 'b'")] == ["b|c"]


def test_other_tables_get_the_base_columns(vector_store: VectorStore) -> None:
    vector_store.upsert("notes", [VectorRow("n1", axis(0), "note", {"anything": "goes"})])
    assert vector_store.search("notes", axis(0), k=1)[0].metadata == {"anything": "goes"}
    assert [h.id for h in vector_store.search("notes", axis(0), k=1, where="id = 'n1'")] == ["n1"]


def test_ids_with_quotes_are_escaped(vector_store: VectorStore) -> None:
    odd = ["o'brien", "it''s", "a') OR ('1'='1", "back\\slash", 'dq"', "東京"]
    vector_store.upsert("entities", [VectorRow(i, axis(n % DIM), i) for n, i in enumerate(odd)])
    assert vector_store.ids("entities") == set(odd)
    assert set(vector_store.get("entities", odd)) == set(odd)
    vector_store.delete("entities", ["a') OR ('1'='1"])
    assert vector_store.ids("entities") == set(odd) - {"a') OR ('1'='1"}


def test_many_ids_in_one_call(vector_store: VectorStore) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((2500, DIM)).astype(np.float32)
    rows = [VectorRow(f"id-{i}", v, f"t{i}", {"i": i}) for i, v in enumerate(vectors)]
    vector_store.upsert("chunks", rows)
    got = vector_store.get("chunks", [r.id for r in rows])
    assert len(got) == 2500
    np.testing.assert_array_equal(got["id-1234"].vector, vectors[1234])
    vector_store.delete("chunks", [r.id for r in rows[:2400]])
    assert vector_store.count("chunks") == 100


def test_wrong_dimension_is_rejected(vector_store: VectorStore) -> None:
    with pytest.raises(StoreError, match="dim"):
        vector_store.upsert("entities", [VectorRow("x", np.ones(DIM + 1, dtype=np.float32), "x")])
    vector_store.upsert("entities", entity_rows())
    with pytest.raises(StoreError, match="dim"):
        vector_store.search("entities", np.ones(DIM - 1, dtype=np.float32), k=1)


def test_bad_where_is_a_store_error(vector_store: VectorStore) -> None:
    vector_store.upsert("entities", entity_rows())
    with pytest.raises(StoreError):
        vector_store.search("entities", axis(0), k=1, where="no_such_column = 1")


def test_reopen_finds_existing_tables(vector_backend: Backend[VectorStore]) -> None:
    store = vector_backend.open()
    store.upsert("entities", entity_rows())
    store.upsert("chunks", [VectorRow("c1", axis(0), "one", {"document_id": "d"})])
    reopened = vector_backend.reopen()
    assert reopened.count("entities") == 4 and reopened.count("chunks") == 1
    assert reopened.search("entities", axis(2), k=1)[0].id == "paris"
    assert [h.id for h in reopened.search("chunks", axis(0), k=1, where="document_id = 'd'")] == ["c1"]


def test_dimension_mismatch_on_open_says_what_to_do(vector_backend: Backend[VectorStore]) -> None:
    vector_backend.open().upsert("entities", entity_rows())
    vector_backend.close_all()
    with pytest.raises(StoreError, match=rf"dim {DIM} but the embedder produces {DIM * 2}"):
        vector_backend.open(DIM * 2)
