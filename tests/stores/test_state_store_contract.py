"""The StateStore contract, run against every state backend in conftest.STATE_BACKENDS."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from graphrag.errors import GraphRAGError
from graphrag.models import (
    Chunk,
    DocumentRecord,
    ExtractedEntity,
    ExtractedRelation,
    Extraction,
    chunk_id,
    text_hash,
)
from graphrag.stores.base import StateStore

from .conftest import Backend


def doc(id_: str, source: str = "notes/a.md", status: str = "pending") -> DocumentRecord:
    return DocumentRecord(id=id_, source=source, title=f"title of {id_}", content_hash=f"hash-{id_}",
                          status=status, n_chunks=2, ingested_at=None, timings={"load": 0.5})


def chunks_for(document_id: str, n: int = 3) -> list[Chunk]:
    texts = [f"{document_id} chunk {i}" for i in range(n)]
    return [Chunk(id=chunk_id(document_id, t), document_id=document_id, text=t, order=i, n_tokens=3 + i)
            for i, t in enumerate(texts)]


def extraction(name: str) -> Extraction:
    return Extraction(
        entities=[ExtractedEntity(name=name, type="PERSON", description=f"{name} is 'quoted'")],
        relations=[ExtractedRelation(source=name, target="Other", keywords=["a", "b"], weight=2.0)],
    )


def test_implements_the_protocol(state_store: StateStore) -> None:
    assert isinstance(state_store, StateStore)


# --- documents

def test_documents_round_trip_and_find_by_source(state_store: StateStore) -> None:
    d1, d2, d3 = doc("d1"), doc("d2"), doc("d3", source="other.txt")
    for d in (d1, d2, d3):
        state_store.upsert_document(d)
    assert state_store.get_document("d1") == d1
    assert state_store.get_document("nope") is None
    assert [d.id for d in state_store.find_documents_by_source("notes/a.md")] == ["d1", "d2"]
    assert state_store.find_documents_by_source("missing") == []
    assert {d.id for d in state_store.list_documents()} == {"d1", "d2", "d3"}


def test_upsert_document_replaces(state_store: StateStore) -> None:
    state_store.upsert_document(doc("d1"))
    updated = doc("d1", status="processed")
    updated.ingested_at, updated.n_chunks, updated.timings = 123.25, 7, {"extract": 1.5, "embed": 0.25}
    state_store.upsert_document(updated)
    assert state_store.get_document("d1") == updated
    assert len(state_store.list_documents()) == 1


def test_status_updates(state_store: StateStore) -> None:
    state_store.upsert_document(doc("d1"))
    state_store.upsert_document(doc("d2"))
    state_store.set_document_status("d1", "failed", "LLM timed out")
    failed = state_store.get_document("d1")
    assert failed is not None and (failed.status, failed.error) == ("failed", "LLM timed out")
    assert [d.id for d in state_store.list_documents("failed")] == ["d1"]
    assert [d.id for d in state_store.list_documents("pending")] == ["d2"]
    state_store.set_document_status("d1", "processed")
    done = state_store.get_document("d1")
    assert done is not None and (done.status, done.error) == ("processed", None)


def test_status_of_unknown_document_or_invalid_status_raises(state_store: StateStore) -> None:
    with pytest.raises(GraphRAGError):
        state_store.set_document_status("nope", "processed")
    state_store.upsert_document(doc("d1"))
    with pytest.raises(GraphRAGError, match="status"):
        state_store.set_document_status("d1", "done-ish")


# --- chunks and deletion

def test_chunks_of_in_order_and_count(state_store: StateStore) -> None:
    chunks = chunks_for("d1", 4)
    state_store.put_chunks(list(reversed(chunks)))
    state_store.put_chunks(chunks)  # idempotent
    assert state_store.chunks_of("d1") == chunks
    assert state_store.count_chunks() == 4
    assert state_store.get_chunks([chunks[1].id, "missing"]) == {chunks[1].id: chunks[1]}


def test_delete_cascades_to_chunks_and_keys_but_not_extractions(state_store: StateStore) -> None:
    state_store.upsert_document(doc("d1"))
    state_store.upsert_document(doc("d2"))
    c1, c2 = chunks_for("d1", 2), chunks_for("d2", 1)
    state_store.put_chunks(c1 + c2)
    state_store.set_chunk_keys(c1[0].id, ["alice", "bob"], ["alice|bob"])
    state_store.set_chunk_keys(c1[1].id, ["bob"], [])
    state_store.set_chunk_keys(c2[0].id, ["bob", "carol"], ["bob|carol"])
    records = {c.text_hash: extraction(c.text) for c in c1}
    state_store.put_extractions(records, "llm:v1")

    state_store.delete_document("d1")

    assert state_store.get_document("d1") is None
    assert state_store.chunks_of("d1") == [] and state_store.get_chunks(c.id for c in c1) == {}
    assert state_store.count_chunks() == 1
    assert state_store.keys_for_chunks([c.id for c in c1]) == (set(), set())
    assert state_store.chunks_for_entities(["alice", "bob"]) == {"alice": set(), "bob": {c2[0].id}}
    assert state_store.chunks_for_relations(["alice|bob"]) == {"alice|bob": set()}
    # Extraction records are content-addressed and outlive their chunks.
    assert state_store.get_extractions(records, "llm:v1") == records
    # The other document is untouched; deleting again is a no-op.
    assert state_store.chunks_of("d2") == c2
    state_store.delete_document("d1")


# --- extraction records

def test_extractions_round_trip_per_extractor(state_store: StateStore) -> None:
    records = {text_hash("one"): extraction("Ann"), text_hash("two"): Extraction()}
    state_store.put_extractions(records, "llm:a")
    state_store.put_extractions({text_hash("one"): extraction("Bea")}, "llm:b")
    assert state_store.get_extractions([*records, "missing"], "llm:a") == records
    assert state_store.get_extractions([text_hash("one")], "llm:b") == {text_hash("one"): extraction("Bea")}
    assert state_store.get_extractions([text_hash("two")], "llm:b") == {}


# --- chunk keys

def test_chunk_keys_both_ways(state_store: StateStore) -> None:
    state_store.set_chunk_keys("c1", ["alice", "bob"], ["alice|bob"])
    state_store.set_chunk_keys("c2", ["bob"], ["bob|carol"])
    assert state_store.chunks_for_entities(["alice", "bob", "zed"]) == {
        "alice": {"c1"}, "bob": {"c1", "c2"}, "zed": set(),
    }
    assert state_store.chunks_for_relations(["bob|carol"]) == {"bob|carol": {"c2"}}
    assert state_store.keys_for_chunks(["c1", "c2"]) == ({"alice", "bob"}, {"alice|bob", "bob|carol"})
    assert state_store.keys_for_chunks([]) == (set(), set())


def test_set_chunk_keys_replaces_the_previous_set(state_store: StateStore) -> None:
    state_store.set_chunk_keys("c1", ["alice", "bob"], ["alice|bob"])
    state_store.set_chunk_keys("c1", ["bob", "bob"], [])
    assert state_store.keys_for_chunks(["c1"]) == ({"bob"}, set())
    assert state_store.chunks_for_entities(["alice"]) == {"alice": set()}


def test_merge_aggregates_by_kind_written_together_and_deleted(state_store: StateStore) -> None:
    state_store.put_aggregates({("n", "ann"): "x\t{}", ("p", "ann|bob"): "x\t[1]", ("n", "bob"): "y"})
    assert state_store.get_aggregates("n", ["ann", "bob", "zed"]) == {"ann": "x\t{}", "bob": "y"}
    assert state_store.get_aggregates("p", ["ann|bob", "ann"]) == {"ann|bob": "x\t[1]"}
    state_store.put_aggregates({("n", "ann"): None, ("n", "bob"): "z", ("e", "gone"): None})
    assert state_store.get_aggregates("n", ["ann", "bob"]) == {"bob": "z"}
    assert state_store.get_aggregates("n", []) == {}


def test_more_ids_than_sqlite_binds_in_one_call(state_store: StateStore) -> None:
    n = 2500
    chunks = chunks_for("big", n)
    state_store.put_chunks(chunks)
    for c in chunks:
        state_store.set_chunk_keys(c.id, [f"e{c.order}", "shared"], [f"r{c.order}"])
    ids = [c.id for c in chunks]
    assert len(state_store.get_chunks(ids)) == n
    entities, relations = state_store.keys_for_chunks(ids)
    assert len(entities) == n + 1 and len(relations) == n
    support = state_store.chunks_for_entities([f"e{i}" for i in range(n)] + ["shared"])
    assert len(support) == n + 1 and support["shared"] == set(ids)
    assert len(state_store.chunks_for_relations([f"r{i}" for i in range(n)])) == n
    state_store.put_extractions({c.text_hash: Extraction() for c in chunks}, "x")
    assert len(state_store.get_extractions([c.text_hash for c in chunks], "x")) == n
    vectors = {c.text_hash: np.full(4, c.order, dtype=np.float32) for c in chunks}
    state_store.put_embeddings("m", vectors)
    assert len(state_store.get_embeddings("m", vectors)) == n
    state_store.add_pending("chunk", ids)
    assert state_store.pending("chunk") == set(ids)
    state_store.clear_pending("chunk", ids)
    assert state_store.pending("chunk") == set()


# --- the rebuild journal

def test_pending_journal(state_store: StateStore) -> None:
    state_store.add_pending("entity", ["a", "b"])
    state_store.add_pending("entity", ["b", "c"])
    state_store.add_pending("relation", ["a|b"])
    assert state_store.pending("entity") == {"a", "b", "c"}
    assert state_store.pending("document") == set()
    state_store.clear_pending("entity", ["a", "b", "never"])
    assert state_store.pending("entity") == {"c"}
    assert state_store.pending("relation") == {"a|b"}


# --- caches

def test_llm_cache(state_store: StateStore) -> None:
    assert state_store.cache_get("k") is None
    state_store.cache_put("k", '{"answer": "x"}')
    state_store.cache_put("k", '{"answer": "y"}')
    assert state_store.cache_get("k") == '{"answer": "y"}'


def test_embeddings_round_trip_as_float32(state_store: StateStore) -> None:
    rng = np.random.default_rng(3)
    v32 = rng.standard_normal(384).astype(np.float32)
    v64 = rng.standard_normal(384)  # stored as float32
    state_store.put_embeddings("minilm", {"h1": v32, "h2": v64})
    state_store.put_embeddings("other-model", {"h1": np.zeros(384, dtype=np.float32)})
    got = state_store.get_embeddings("minilm", ["h1", "h2", "missing"])
    assert set(got) == {"h1", "h2"}
    assert got["h1"].dtype == np.float32
    np.testing.assert_array_equal(got["h1"], v32)
    np.testing.assert_array_equal(got["h2"], v64.astype(np.float32))
    got["h1"][0] = 42.0  # returned arrays are the caller's to modify
    assert not np.all(state_store.get_embeddings("other-model", ["h1"])["h1"])


# --- durability and concurrency

def test_everything_survives_reopen(state_backend: Backend[StateStore]) -> None:
    if not state_backend.persistent:
        pytest.skip(f"{state_backend.name} keeps nothing across reopen")
    store = state_backend.open()
    store.upsert_document(doc("d1", status="processed"))
    store.put_chunks(chunks_for("d1", 2))
    store.set_chunk_keys(chunks_for("d1")[0].id, ["alice"], [])
    store.put_extractions({"h": extraction("Ann")}, "x")
    store.cache_put("k", "v")
    store.put_embeddings("m", {"h": np.arange(3, dtype=np.float32)})
    store.add_pending("document", ["d1"])
    reopened = state_backend.reopen()
    assert reopened.get_document("d1") == doc("d1", status="processed")
    assert reopened.chunks_of("d1") == chunks_for("d1", 2)
    assert reopened.chunks_for_entities(["alice"]) == {"alice": {chunks_for("d1")[0].id}}
    assert reopened.get_extractions(["h"], "x") == {"h": extraction("Ann")}
    assert reopened.cache_get("k") == "v"
    np.testing.assert_array_equal(reopened.get_embeddings("m", ["h"])["h"], np.arange(3, dtype=np.float32))
    assert reopened.pending("document") == {"d1"}


def test_safe_from_several_threads(state_store: StateStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(50):
                document_id = f"w{worker}-d{i}"
                state_store.upsert_document(doc(document_id, source=f"w{worker}"))
                state_store.put_chunks(chunks_for(document_id, 2))
                state_store.cache_put(document_id, str(i))
                assert state_store.get_document(document_id) is not None
        except BaseException as e:  # surfaced in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(state_store.list_documents()) == 200
    assert state_store.count_chunks() == 400


def test_a_replaced_extraction_record_is_read_fresh(state_backend) -> None:
    """Records are served from a per-process cache: replacing one (here or from another
    handle on the same workspace) must never leave the old one visible."""
    from graphrag.models import ExtractedEntity, Extraction

    first = state_backend.open()
    second = state_backend.open()
    old = Extraction(entities=[ExtractedEntity(name="Old", type="PERSON", description="d")])
    new = Extraction(entities=[ExtractedEntity(name="New", type="PERSON", description="d")])
    first.put_extractions({"h1": old, "h2": old}, "x")
    assert first.get_extractions(["h1", "h2"], "x")["h1"] == old
    assert second.get_extractions(["h1"], "x")["h1"] == old
    second.put_extractions({"h1": new}, "x")
    assert first.get_extractions(["h1", "h2"], "x") == {"h1": new, "h2": old}
    first.put_extractions({"h2": new}, "x")
    assert second.get_extractions(["h1", "h2"], "x") == {"h1": new, "h2": new}


def test_replacing_a_record_with_another_journals_its_text_hash(state_store: StateStore) -> None:
    """Merge aggregates count records by text hash: whoever replaces one with a different
    record leaves the hash pending so they are rebuilt, not unfolded by the new record."""
    from graphrag.models import ExtractedEntity, Extraction

    old = Extraction(entities=[ExtractedEntity(name="Old", type="PERSON", description="d")])
    new = Extraction(entities=[ExtractedEntity(name="New", type="PERSON", description="d")])
    state_store.put_extractions({"h1": old, "h2": old}, "x")
    assert state_store.pending("record") == set()
    state_store.put_extractions({"h1": old, "h2": new, "h3": new}, "x")
    state_store.put_extractions({"h1": new}, "y")
    assert state_store.pending("record") == {"h2"}


def test_documents_under_a_prefix(state_store: StateStore) -> None:
    for i, source in enumerate(["/d/a.txt", "/d/sub/b.txt", "/d/x.jsonl#3", "/db.txt", "/e/c.txt", "/d"]):
        state_store.upsert_document(doc(f"doc-{i}", source))
    assert [d.source for d in state_store.documents_under("/d/")] == ["/d/a.txt", "/d/sub/b.txt", "/d/x.jsonl#3"]
    assert [d.source for d in state_store.documents_under("/d")] == [
        "/d", "/d/a.txt", "/d/sub/b.txt", "/d/x.jsonl#3", "/db.txt"]
    assert state_store.documents_under("/zzz") == []
