"""A crowd of full names ("Bowie": more than `MAX_ASKED` of them) is left apart unread: its
passages are not read for contexts, and an add that gives one member a chunk scores none of
the crowd again (at 10^5 names a crowd of ~1,000 made every such add read and score it).
Counted as work (the names whose contexts are read, the names scored), never timed."""

from __future__ import annotations

import pytest

from graphrag.resolve import apply
from graphrag.resolve.resolver import MAX_ASKED, EntityResolver
from tests.resolve.test_context_evidence import BOWIE
from tests.resolve.test_resolution_invariants import owners, resolved

FIRST_NAMES = ("Angela", "Mary", "Peter", "Thomas", "Robert", "Walter")
CITIES = ("Leeds", "Dublin", "Chicago", "Madrid", "Oslo", "Lisbon")
# David, James and six more: a crowd, although C and D single out David (as two would).
CROWD = {**BOWIE, **{
    f"E{i}": f"{first} Bowie lived in {city}. {first} Bowie wrote a letter from {city}."
    for i, (first, city) in enumerate(zip(FIRST_NAMES, CITIES))
}}
# A passage that gives "David Bowie" one more chunk and names nothing else of the crowd.
MORE_DAVID = {"F": "David Bowie played a concert in Berlin in 1978."}


@pytest.fixture
def work(monkeypatch):
    """Records the names whose contexts are read and the names scored."""
    seen: dict[str, set[str]] = {"read": set(), "scored": set()}
    read, score = apply.name_evidence, EntityResolver._score

    def counted_read(state, load_records, keys):
        seen["read"] |= keys
        return read(state, load_records, keys)

    def counted_score(self, keys, *args, **kwargs):
        seen["scored"] |= keys
        return score(self, keys, *args, **kwargs)

    monkeypatch.setattr(apply, "name_evidence", counted_read)
    monkeypatch.setattr(EntityResolver, "_score", counted_score)
    return seen


def bowies(rag) -> set[str]:
    return {k for k in owners(rag) if k.endswith("bowie")}


def test_a_crowd_is_left_apart_unread(graph_backend, make_rag, write_docs, work):
    rag = make_rag(offline=True)
    rag.index([str(p) for p in write_docs(CROWD)])
    assert len(bowies(rag) - {"bowie"}) > MAX_ASKED
    assert owners(rag)["bowie"] == "bowie"
    pairs = rag.resolver.store.pairs_of({"bowie"})
    assert {p.method for p in pairs} == {"ambiguous-extends"}
    assert not any("shared_neighbours" in p.evidence for p in pairs)
    assert not work["read"] & bowies(rag)


def test_a_chunk_for_one_of_the_crowd_scores_none_of_it_again(graph_backend, make_rag, write_docs, work):
    paths = write_docs(CROWD) + write_docs(MORE_DAVID, "more")
    rag = make_rag("one_by_one", offline=True)
    rag.index([str(p) for p in paths[:-1]])
    work["scored"].clear()
    rag.index([str(paths[-1])])
    assert "david bowie" in owners(rag)
    assert not work["scored"] & bowies(rag)
    together = make_rag("together", offline=True)
    together.index([str(p) for p in paths])
    assert resolved(rag) == resolved(together)
