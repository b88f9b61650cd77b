"""Rank fusion of the text channels (dense, BM25) with the graph evidence of each mode."""

from __future__ import annotations

import numpy as np
import pytest

from graphrag.query.fusion import Channel, fuse_chunks, weighted_rrf
from graphrag.stores.base import VectorRow
from graphrag.stores.lancedb_vectors import LanceDBVectorStore


def test_agreement_of_two_channels_beats_the_first_place_of_one() -> None:
    fused = fuse_chunks(
        [
            Channel("dense", {"only_dense": 0.9, "both": 0.8, "x": 0.1}),
            Channel("lexical", {"both": 7.0, "only_lexical": 9.0}),
        ],
        top_k=3,
    )
    assert list(fused)[0] == "both"
    assert set(fused) == {"both", "only_dense", "only_lexical"}


def test_weights_scale_a_channel_and_zero_weight_drops_it() -> None:
    a = Channel("a", {"x": 1.0, "y": 0.5})
    b = Channel("b", {"y": 1.0, "x": 0.5}, weight=2.0)
    assert list(fuse_chunks([a, b], 2)) == ["y", "x"]
    assert weighted_rrf([a, Channel("off", {"z": 1.0}, weight=0.0)]).keys() == {"x", "y"}


def test_fusion_is_reproducible_on_ties() -> None:
    channels = [Channel("a", {"b": 1.0, "a": 1.0}), Channel("c", {"c": 1.0})]
    assert list(fuse_chunks(channels, 3)) == list(fuse_chunks(list(reversed(channels)), 3))


def test_scale_of_scores_does_not_matter() -> None:
    small = [Channel("a", {"x": 0.2, "y": 0.1}), Channel("b", {"y": 900.0, "x": 1.0})]
    large = [Channel("a", {"x": 2e6, "y": 1e6}), Channel("b", {"y": 0.9, "x": 0.001})]
    assert fuse_chunks(small, 2) == fuse_chunks(large, 2)


# ------------------------------------------------------------------ BM25 over the store


@pytest.fixture
def store(tmp_path) -> LanceDBVectorStore:
    s = LanceDBVectorStore(tmp_path / "vectors", dim=4)
    rows = [
        ("c1", "The Zorblax reactor was commissioned in 1987 near Lyon."),
        ("c2", "A reactor is a device that sustains a chain reaction."),
        ("c3", "Lyon is a city in France, known for its cuisine."),
    ]
    s.upsert("chunks", [VectorRow(i, np.ones(4, dtype=np.float32), t) for i, t in rows])
    return s


def test_full_text_search_ranks_by_bm25_with_stemming(store) -> None:
    hits = store.search_text("chunks", "Which reactors did Zorblax commission?", 3)
    assert hits[0].id == "c1"  # the rare name and the stemmed words
    assert {h.id for h in hits} <= {"c1", "c2", "c3"}
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert store.search_text("chunks", "   ", 3) == []
    assert store.search_text("chunks", "nothing matches xyzzy", 3) == []


def test_full_text_search_sees_later_writes_and_deletes(store) -> None:
    store.search_text("chunks", "reactor", 3)  # builds the index
    store.upsert("chunks", [VectorRow("c4", np.ones(4, dtype=np.float32), "Quuxinator manuals")])
    assert [h.id for h in store.search_text("chunks", "quuxinator", 3)] == ["c4"]
    store.delete("chunks", ["c1"])
    assert "c1" not in {h.id for h in store.search_text("chunks", "Zorblax reactor", 3)}
    assert store.search_text("chunks", "anything", 0) == []


def test_full_text_search_of_a_missing_table_is_empty(tmp_path) -> None:
    assert LanceDBVectorStore(tmp_path / "v", dim=4).search_text("chunks", "x", 5) == []


# ------------------------------------------------------------------ the modes


class BlindEmbedder:
    """The same vector for every text: dense retrieval cannot tell chunks apart."""

    model_id = "blind:8"
    dim = 8

    def embed(self, texts):
        return np.tile(np.eye(1, 8, dtype=np.float32), (len(texts), 1))


CORPUS = {
    "reactor": "The Zorblax reactor was commissioned in 1987 near Lyon by the Vantor company.",
    "city": "Lyon is a large city in France. It is known for its cuisine and its silk.",
    "chain": "A nuclear reactor sustains a chain reaction. Many countries operate reactors.",
    "vantor": "Vantor is an engineering company founded by Ilse Marren in Geneva.",
}


def _blind_rag(settings, **overrides):
    from graphrag.core import GraphRAG

    rag = GraphRAG(settings.model_copy(update=overrides), embedder=BlindEmbedder())
    rag.__dict__["chat"] = None
    return rag


@pytest.mark.parametrize("mode, overrides", [("naive", {}), ("mix", {"query_mix_fusion": True})])
def test_the_lexical_channel_finds_what_dense_cannot(make_settings, write_docs, mode: str, overrides: dict) -> None:
    settings = make_settings("blind", extractor="spacy")
    with _blind_rag(settings) as rag:
        rag.index(write_docs(CORPUS))
    question = "When was the Zorblax reactor commissioned?"
    with _blind_rag(settings, query_lexical=False) as rag:
        blind = rag.retrieve(question, "naive", 4)
        assert len({c.score for c in blind.chunks}) == 1  # dense alone cannot tell them apart
    with _blind_rag(settings, query_lexical=True, **overrides) as rag:
        on = rag.retrieve(question, mode, 2)
    assert "Zorblax" in on.chunks[0].text


def test_local_and_global_rank_chunks_by_a_walk_from_their_own_seeds(open_sample) -> None:
    """local and global keep their character: their chunks come from a walk that starts at
    the entities each found (local: the keyword matches; global: the relations' endpoints),
    so their top chunks mention those entities at least as often as naive's do."""
    rag = open_sample(chat=None)
    question = "Who is Scrooge's clerk?"
    naive = rag.retrieve(question, "naive", 5)
    ppr = rag.retrieve(question, "ppr", 5)
    for mode in ("local", "global"):
        walked = rag.retrieve(question, mode, 5)
        sources = {cid for e in walked.entities for cid in e.source_ids}
        assert walked.chunks[0].id in sources  # the walk starts at the mode's own entities
        assert [c.id for c in walked.chunks] != [c.id for c in ppr.chunks]  # not ppr's seeds
    assert len(naive.chunks) == 5


def test_tied_scores_share_a_rank() -> None:
    fused = weighted_rrf([Channel("blind", {"a": 0.5, "b": 0.5, "c": 0.5}), Channel("sure", {"c": 3.0})])
    assert max(fused, key=fused.get) == "c"
    assert fused["a"] == fused["b"]


def test_mix_ranks_chunks_by_ppr_unless_fusion_is_asked_for(open_sample) -> None:
    question = "What does Marley's ghost warn Scrooge about?"
    rag = open_sample(chat=None)
    ppr = [c.id for c in rag.retrieve(question, "ppr", 8).chunks]
    mix = rag.retrieve(question, "mix", 8)
    assert [c.id for c in mix.chunks] == ppr
    assert mix.entities and mix.relations  # hybrid's graph elements
    fused = open_sample(chat=None, query_mix_fusion=True, query_mix_ppr_weight=0.0).retrieve(question, "mix", 8)
    hybrid = rag.retrieve(question, "hybrid", 8)
    assert fused.chunks and [c.id for c in fused.chunks] != ppr  # PPR weighted 0: the other channels decide
    assert hybrid.chunks


def test_walks_from_diffuse_seeds_keep_more_of_the_dense_prior(open_sample, monkeypatch) -> None:
    """global's and hybrid's seeds (endpoints of loosely matched relations) are diffuse:
    their walks restart more on the question's closest chunks than local's does."""
    rag = open_sample(chat=None)
    walker = rag.query_engine.ppr_retriever
    shares: list[float | None] = []
    bridges: list[float | None] = []
    walk = walker.walk

    def recording(seeds, qv, top_k, timer, prior_share=None, bridge=None, rewrite=None):
        shares.append(prior_share)
        bridges.append(bridge)
        return walk(seeds, qv, top_k, timer, prior_share, bridge, rewrite)

    monkeypatch.setattr(walker, "walk", recording)
    found = {}
    fed = {}
    for mode in ("local", "global", "hybrid"):
        shares.clear()
        rag.retrieve("Who is Scrooge's clerk?", mode, 5)
        found[mode] = shares[-1] if shares[-1] is not None else rag.settings.ppr_passage_prior
        fed[mode] = bridges[-1] if bridges[-1] is not None else rag.settings.ppr_bridge_mass
    assert found["global"] > found["local"] and found["hybrid"] > found["local"]
    # Bridge feedback needs sharp seeds: hybrid's many diffuse ones walk once.
    assert fed["local"] > 0 and fed["global"] > 0 and fed["hybrid"] == 0
