"""Name vectors only while they are used (README "Entity resolution"): by default only when a
chat model judges the uncertain pairs, and a workspace indexed without them is back-filled
when they are turned on — giving what indexing with them from the start gives, also after
a crash half-way through the back-fill."""

from __future__ import annotations

import pytest

from graphrag.resolve.resolver import EntityResolver
from tests.resolve.test_context_evidence import USA, SynonymEmbedder, vector_pairs, vectored
from tests.resolve.test_resolution_invariants import resolved


def names_embedded(rag) -> set[str]:
    return rag.vectors.ids("names")


def reopened_with_vectors(make_rag, paths: list[str]):
    """A workspace indexed with name vectors off, opened again with them on."""
    before = vectored(make_rag, "ws", vectors=False)
    before.index(paths)
    assert names_embedded(before) == set()
    namespace = before.settings.graph_namespace
    before.close()
    return vectored(make_rag, "ws", graph_namespace=namespace)


def test_offline_by_default_no_name_is_embedded(make_rag, write_docs):
    rag = vectored(make_rag, "ws", vectors="auto")
    rag.index([str(p) for p in write_docs(USA)[:2]])
    assert rag.resolver.name_vectors is None
    assert names_embedded(rag) == set() and vector_pairs(rag) == []


def test_with_a_chat_model_judging_auto_uses_name_vectors(make_rag):
    rag = make_rag("ws")  # the scripted chat model
    assert rag.settings.resolution_vectors == "auto"
    rag.__dict__["embedder"] = SynonymEmbedder([["usa", "united states"]])
    assert rag.resolver.adjudicator is not None and rag.resolver.name_vectors is not None


def test_turning_vectors_on_back_fills_the_names_indexed_without_them(graph_backend, make_rag, write_docs):
    paths = [str(p) for p in write_docs(USA)]
    fresh = vectored(make_rag, "fresh")
    fresh.index(paths)

    after = reopened_with_vectors(make_rag, paths)
    after.index(paths)  # nothing new to extract: the back-fill alone
    assert names_embedded(after) == names_embedded(fresh) >= {"usa", "united states", "america"}
    assert vector_pairs(after) == vector_pairs(fresh) != []
    assert resolved(after) == resolved(fresh)


def test_names_added_while_vectors_were_off_are_back_filled(graph_backend, make_rag, write_docs):
    paths = [str(p) for p in write_docs(USA)]
    fresh = vectored(make_rag, "fresh")
    fresh.index(paths)

    ws = vectored(make_rag, "ws")
    ws.index(paths[:1])
    namespace = ws.settings.graph_namespace
    ws.close()
    off = vectored(make_rag, "ws", vectors=False, graph_namespace=namespace)
    off.index(paths[1:2])  # "united states" comes without a vector
    off.close()
    on = vectored(make_rag, "ws", graph_namespace=namespace)
    on.index(paths)
    assert vector_pairs(on) == vector_pairs(fresh)
    assert resolved(on) == resolved(fresh)


def test_a_crash_half_way_through_the_back_fill_converges(graph_backend, make_rag, write_docs, monkeypatch):
    paths = [str(p) for p in write_docs(USA)]
    fresh = vectored(make_rag, "fresh")
    fresh.index(paths)

    after = reopened_with_vectors(make_rag, paths)
    real = EntityResolver._score

    def crash(self, *args, **kwargs):  # after the names were embedded, before their pairs are stored
        raise KeyboardInterrupt("simulated crash in the back-fill")

    monkeypatch.setattr(EntityResolver, "_score", crash)
    with pytest.raises(KeyboardInterrupt):
        after.index(paths)
    monkeypatch.setattr(EntityResolver, "_score", real)
    after.index(paths)
    assert vector_pairs(after) == vector_pairs(fresh) != []
    assert resolved(after) == resolved(fresh)


def test_review_back_fills_before_it_lists(make_rag, write_docs):
    after = reopened_with_vectors(make_rag, [str(p) for p in write_docs(USA)[:2]])
    assert any({r["a"], r["b"]} == {"usa", "united states"} for r in after.entities.review())
    assert not after.resolver.vectors_due()
