"""Evidence beyond the strings (README "Entity resolution"): the contexts of a short name
several full names extend, and the name vectors. Where it decides, the indexing invariants
still hold (any order, delete = never indexed, crash converges), on both graph backends."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from graphrag.llm.embed.common import normalize_rows
from graphrag.llm.embed.hashing import HashingEmbedder
from tests.resolve.test_resolution_invariants import crash_after_resolution, owners, resolved

# "Bowie" could be David or James; C's passage is about David's record, but only D, a
# passage that names nothing new, says so: it gives "David Bowie" the neighbours C gives
# "Bowie" ("Ziggy Stardust", "Mick Ronson", "Trident Studios").
BOWIE = {
    "A": "David Bowie was born in Brixton. David Bowie moved to Berlin in 1976.",
    "B": "James Bowie was a frontiersman from Kentucky. James Bowie died at the Alamo in Texas.",
    "C": "Bowie recorded the album Ziggy Stardust with Mick Ronson at Trident Studios.",
    "D": "David Bowie recorded Ziggy Stardust with Mick Ronson at Trident Studios.",
}


def test_a_short_name_takes_the_full_name_its_contexts_single_out(graph_backend, make_rag, write_docs):
    rag = make_rag(offline=True)
    rag.index([str(p) for p in write_docs(BOWIE)])
    assert owners(rag)["bowie"] == "david bowie"
    assert owners(rag)["james bowie"] == "james bowie"
    (chosen,) = [p for p in rag.resolver.store.pairs_of({"bowie"}) if p.b == "david bowie"]
    assert chosen.method == "supported-extends" and chosen.evidence["shared_neighbours"] >= 2


def test_without_the_passage_that_says_which_the_short_name_stays_apart(graph_backend, make_rag, write_docs):
    rag = make_rag(offline=True)
    rag.index([str(p) for n, p in zip(BOWIE, write_docs(BOWIE)) if n != "D"])
    assert owners(rag)["bowie"] == "bowie"
    assert {p.method for p in rag.resolver.store.pairs_of({"bowie"})} == {"ambiguous-extends"}


@pytest.mark.parametrize("order", ["ABCD", "DCBA", "CABD"])
def test_contexts_give_the_same_entities_in_any_order(graph_backend, make_rag, write_docs, order):
    """ABCD: D only adds chunks to names already there ("David Bowie" is not new), and it is
    what decides: without scoring again the pairs that used contexts, "Bowie" stays apart."""
    paths = dict(zip(BOWIE, write_docs(BOWIE)))
    together = make_rag("together", offline=True)
    together.index([str(p) for p in paths.values()])
    one_by_one = make_rag("one_by_one", offline=True)
    for name in order:
        one_by_one.index([str(paths[name])])
    assert resolved(one_by_one) == resolved(together)
    assert one_by_one.resolver.store.pairs_of({"bowie"}) == together.resolver.store.pairs_of({"bowie"})


@pytest.mark.parametrize("gone", ["C", "D"])
def test_deleting_the_evidence_equals_never_indexing_it(graph_backend, make_rag, write_docs, gone):
    paths = dict(zip(BOWIE, write_docs(BOWIE)))
    full = make_rag("full", offline=True)
    full.index([str(p) for p in paths.values()])
    full.delete([str(paths[gone])])
    fresh = make_rag("fresh", offline=True)
    fresh.index([str(p) for n, p in paths.items() if n != gone])
    assert resolved(full) == resolved(fresh)
    assert full.resolver.store.pairs_of({"bowie", "david bowie"}) == fresh.resolver.store.pairs_of(
        {"bowie", "david bowie"})
    if gone == "D":
        assert owners(full).get("bowie") == "bowie"


def test_a_crash_after_contexts_decided_converges(graph_backend, make_rag, write_docs, monkeypatch):
    paths = [str(p) for p in write_docs(BOWIE)]
    crashed = make_rag("crashed", offline=True)
    crashed.index(paths[:3])
    crash_after_resolution(crashed, paths, monkeypatch)
    crashed.index(paths)
    clean = make_rag("clean", offline=True)
    clean.index(paths)
    assert resolved(crashed) == resolved(clean)
    assert owners(crashed)["bowie"] == "david bowie"


# --- name vectors: an embedder that knows a few names are one ("USA", "United States")


class SynonymEmbedder(HashingEmbedder):
    """Hashing, except that each text of a synonym group gets the group's vector (a small
    per-text offset keeps them distinct: cosine ~0.99 within a group, ~0 across)."""

    def __init__(self, groups: Sequence[Sequence[str]]) -> None:
        super().__init__()
        self.model_id = "synonyms"
        rng = np.random.default_rng(7)
        self.vector_of: dict[str, np.ndarray] = {}
        for group in groups:
            centre = rng.normal(size=self.dim)
            for text in group:
                self.vector_of[text] = centre + 0.1 * rng.normal(size=self.dim)

    def embed(self, texts, *, progress=None):
        out = super().embed(texts, progress=progress)
        for i, text in enumerate(texts):
            if text in self.vector_of:
                out[i] = self.vector_of[text]
        return normalize_rows(out.astype(np.float32))


USA = {
    "A": "The USA signed the treaty in Paris. Benjamin Franklin spoke for the USA.",
    "B": "The United States signed the treaty in Paris with Benjamin Franklin.",
    "C": "America celebrated. Thomas Jefferson wrote to John Adams about America.",
}


def vectored(make_rag, name: str, cap: int = 5, vectors: bool | str = True, **overrides):
    """Offline, with name vectors on (for `entities review`) unless `vectors` says otherwise."""
    rag = make_rag(name, offline=True, resolution_vector_cap=cap, resolution_vectors=vectors, **overrides)
    rag.__dict__["embedder"] = SynonymEmbedder([["usa", "united states", "america"]])
    return rag


def vector_pairs(rag) -> list:
    return [p for p in rag.resolver.store.pairs_between(0.0, 1.01, limit=1000) if p.method.startswith("vector")]


def test_a_pair_only_the_vectors_find_is_uncertain_and_never_merged_offline(graph_backend, make_rag, write_docs):
    rag = vectored(make_rag, "ws")
    paths = write_docs(USA)
    rag.index([str(p) for p in paths[:2]])
    (pair,) = vector_pairs(rag)
    assert (pair.a, pair.b) == ("united states", "usa") and pair.method == "vector"
    assert pair.evidence["cosine"] >= 0.85 and pair.evidence["shared_neighbours"] >= 1
    assert rag.resolver.uncertain(pair)
    assert owners(rag)["usa"] == "usa"  # apart: for the chat model or a person
    assert any({r["a"], r["b"]} == {"usa", "united states"} for r in rag.entities.review())
    assert rag.vectors.ids("names") >= {"usa", "united states", "paris"}


def test_a_crowded_name_takes_no_vector_candidates_in_any_order_and_after_deletes(
    graph_backend, make_rag, write_docs
):
    """With a cap of 1, "usa" has two names within the radius once C brings "america": all
    three are crowded; deleting C makes the pair come back, as if C was never indexed."""
    paths = write_docs(USA)
    together = vectored(make_rag, "together", cap=1)
    together.index([str(p) for p in paths])
    assert vector_pairs(together) == []
    one_by_one = vectored(make_rag, "one_by_one", cap=1)
    for p in (paths[0], paths[1], paths[2]):
        one_by_one.index([str(p)])
    assert resolved(one_by_one) == resolved(together) and vector_pairs(one_by_one) == []

    one_by_one.delete([str(paths[2])])
    fresh = vectored(make_rag, "fresh", cap=1)
    fresh.index([str(p) for p in paths[:2]])
    assert [(p.a, p.b) for p in vector_pairs(one_by_one)] == [("united states", "usa")]
    assert vector_pairs(one_by_one) == vector_pairs(fresh)
    assert resolved(one_by_one) == resolved(fresh)
    assert "america" not in one_by_one.vectors.ids("names")
