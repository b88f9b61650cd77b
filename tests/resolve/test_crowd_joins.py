"""A new name that joins a crowd ("Zoe Bowie" beside eight other Bowies) rewrites only its own
pair with the crowd's short name: the crowd's pairs record at most `CROWDED` candidates, so
none of the others changes (at 10^5 names every new name joined a crowd of ~1,000, and each
add read and rewrote the whole crowd). The stored pairs stay what indexing everything at
once gives, and a crowd that shrinks is scored again whole. Counted, never timed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrag.resolve.crowds import CROWDED
from graphrag.resolve.store import SQLiteResolutionStore
from tests.resolve.test_context_evidence import BOWIE
from tests.resolve.test_crowd_contexts import CROWD
from tests.resolve.test_resolution_invariants import owners, resolved

JOINER = {"Z": "Zoe Bowie lived in Paris. Zoe Bowie wrote a letter from Paris."}


@pytest.fixture
def rewritten(monkeypatch):
    """The names whose stored pairs an update dropped, and the pairs it wrote."""
    seen: dict[str, set] = {"dropped": set(), "written": set()}
    replace = SQLiteResolutionStore.replace_pairs

    def recorded(self, keys, pairs):
        keys, pairs = list(keys), list(pairs)
        seen["dropped"] |= set(keys)
        seen["written"] |= {(p.a, p.b) for p in pairs}
        return replace(self, keys, pairs)

    monkeypatch.setattr(SQLiteResolutionStore, "replace_pairs", recorded)
    return seen


def bowie_pairs(rag) -> list:
    return rag.resolver.store.pairs_of({"bowie"})


def test_a_crowds_pairs_record_a_crowd_not_its_size(make_rag, write_docs):
    rag = make_rag(offline=True)
    rag.index([str(p) for p in write_docs(CROWD)])
    pairs = bowie_pairs(rag)
    assert len(pairs) > CROWDED
    assert {p.evidence["candidates"] for p in pairs} == {CROWDED}


def test_a_name_joining_a_crowd_rewrites_only_its_own_pair(graph_backend, make_rag, write_docs, rewritten):
    paths = write_docs(CROWD) + write_docs(JOINER, "more")
    rag = make_rag("one_by_one", offline=True)
    rag.index([str(p) for p in paths[:-1]])
    before = bowie_pairs(rag)
    rewritten["dropped"].clear()
    rewritten["written"].clear()
    rag.index([str(paths[-1])])
    assert "bowie" not in rewritten["dropped"]
    assert {p for p in rewritten["written"] if "bowie" in p} == {("bowie", "zoe bowie")}
    after = bowie_pairs(rag)
    assert [p for p in after if p.b != "zoe bowie"] == before
    together = make_rag("together", offline=True)
    together.index([str(p) for p in paths])
    assert after == bowie_pairs(together)
    assert resolved(rag) == resolved(together)


def test_a_crowd_that_shrinks_is_scored_again_whole(graph_backend, make_rag, write_docs):
    """Down to David and James, the passages that single out David decide again."""
    paths = dict(zip([*CROWD, *JOINER], write_docs(CROWD) + write_docs(JOINER, "more")))
    rag = make_rag("shrunk", offline=True)
    rag.index([str(p) for p in paths.values()])
    assert owners(rag)["bowie"] == "bowie"
    rag.delete([str(p) for name, p in paths.items() if name not in BOWIE])
    fresh = make_rag("fresh", offline=True)
    fresh.index([str(paths[name]) for name in BOWIE])
    assert owners(rag)["bowie"] == "david bowie"
    assert bowie_pairs(rag) == bowie_pairs(fresh)
    assert resolved(rag) == resolved(fresh)


def test_a_long_form_whose_pairs_the_update_drops_keeps_its_pair_with_the_crowd(graph_backend, make_rag, write_docs):
    """"Bowie David" is new and has the words of "David Bowie", whose pairs are therefore
    scored again: its pair with "Bowie" must be scored again too, not dropped."""
    swapped = {"S": "Bowie David sang in Rome. Bowie David wrote a letter from Rome."}
    paths = write_docs(CROWD) + write_docs(swapped, "more")
    rag = make_rag("one_by_one", offline=True)
    rag.index([str(p) for p in paths[:-1]])
    rag.index([str(paths[-1])])
    assert {"bowie david", "david bowie"} <= {p.b for p in bowie_pairs(rag)}
    together = make_rag("together", offline=True)
    together.index([str(p) for p in paths])
    assert bowie_pairs(rag) == bowie_pairs(together)
    assert resolved(rag) == resolved(together)


def test_a_member_scored_again_as_it_was_leaves_its_crowd_as_stored(graph_backend, make_rag, write_docs, rewritten):
    """"David" is a short name of two, so its pairs carry the names' contexts and "David
    Bowie" is scored again when it gains a chunk; its words and type are what they were, so
    the crowd of "Bowie" is as it was and keeps its pairs."""
    davids = {"J": "David Jones sang in London. David Jones wrote a letter from London.",
              "K": "David recorded an album with Mick Ronson at Trident Studios."}
    more = {"F": "David Bowie played a concert in Berlin in 1978."}
    paths = write_docs({**CROWD, **davids}) + write_docs(more, "more")
    rag = make_rag("one_by_one", offline=True)
    rag.index([str(p) for p in paths[:-1]])
    assert any("shared_neighbours" in p.evidence for p in rag.resolver.store.pairs_of({"david bowie"}))
    rewritten["dropped"].clear()
    rag.index([str(paths[-1])])
    assert "david bowie" in rewritten["dropped"]
    assert "bowie" not in rewritten["dropped"]
    together = make_rag("together", offline=True)
    together.index([str(p) for p in paths])
    assert bowie_pairs(rag) == bowie_pairs(together)
    assert resolved(rag) == resolved(together)


# The 100k bench's shape: "Dame" is a title, so "Dame Kebe" is a short form of every "<x> Kebe";
# "Kebe Kebe" has its words but extends to none of them.
KEBES = ["dame kebe", "kebe kebe", "mr kebe", "kebe lola", "kebe rubi", *(f"{x} kebe" for x in (
    "lola", "mebo", "rubi", "dora", "bale", "kimo", "lemu", "radu", "dube", "kora", "mika"))]


def _update(resolver, live=(), gone=()):
    import asyncio

    from graphrag.resolve.store import NameRecord

    records = {k: NameRecord(k, k.title(), ("person",), 2) for k in live}
    return asyncio.run(resolver.aupdate(records, gone))


def _state(resolver) -> tuple:
    keys = resolver.store.all_keys()
    return resolver.store.pairs_of(keys), resolver.store.canonical_of(keys)


def test_a_new_long_form_drops_no_pair_of_a_crowd(tmp_path, rewritten):
    from graphrag.resolve.resolver import EntityResolver

    resolver = EntityResolver(SQLiteResolutionStore(tmp_path / "r.sqlite"))
    _update(resolver, KEBES[:-1])
    rewritten["dropped"].clear()
    _update(resolver, [KEBES[-1]])
    assert not {"dame kebe", "mr kebe"} & rewritten["dropped"]
    # It has the words of "Mika Kebe", which is no candidate of it: it keeps its pairs.
    assert "kebe kebe" not in rewritten["dropped"]
    fresh = EntityResolver(SQLiteResolutionStore(tmp_path / "fresh.sqlite"))
    _update(fresh, KEBES)
    assert _state(resolver) == _state(fresh)


@given(st.permutations(KEBES), st.lists(st.integers(1, 4), min_size=1, max_size=6), st.sets(st.sampled_from(KEBES)),
       st.sets(st.sampled_from(["kebe kebe", "mr kebe"])))
@settings(max_examples=40, deadline=None)
def test_any_order_of_adds_and_removals_gives_the_pairs_of_one_update(tmp_path_factory, order, sizes, removed, absent):
    """Batches of names in any order, then some removed: the same pairs (evidence and all)
    and entities as resolving the names there in one update, after the adds and after the
    removals."""
    from graphrag.resolve.resolver import EntityResolver

    order = [k for k in order if k not in absent]
    folder = tmp_path_factory.mktemp("orders")
    resolver = EntityResolver(SQLiteResolutionStore(folder / "steps.sqlite"))
    at = 0
    for size in sizes * len(KEBES):
        if at >= len(order):
            break
        _update(resolver, order[at : at + size])
        at += size
    whole = EntityResolver(SQLiteResolutionStore(folder / "whole.sqlite"))
    _update(whole, order)
    assert _state(resolver) == _state(whole)
    _update(resolver, gone=removed)
    fresh = EntityResolver(SQLiteResolutionStore(folder / "fresh.sqlite"))
    _update(fresh, [k for k in order if k not in removed])
    assert _state(resolver) == _state(fresh)


def test_a_batch_of_new_names_checks_each_short_name_against_the_names_holding_its_words(tmp_path, monkeypatch):
    """A warm batch of names against many short ones: each short name is compared with the
    scored names that hold all its words, not with every scored name (it was shorts x names,
    over and over: 6 s of a 6k-name add)."""
    import asyncio
    import random

    import graphrag.resolve.resolver as resolver_module
    from graphrag.resolve.names import NameForm
    from graphrag.resolve.resolver import EntityResolver
    from graphrag.resolve.store import NameRecord

    rnd = random.Random(7)
    words = sorted({"".join(rnd.choice("bdgklmnprstvz") + rnd.choice("aeiou") for _ in range(3)) for _ in range(300)})
    old = set(words) | {f"{rnd.choice(words)} {rnd.choice(words)}" for _ in range(600)}
    new = {f"{rnd.choice(words)} {rnd.choice(words)}" for _ in range(600)} - old

    def records(keys):
        return {k: NameRecord(k, k.title(), ("person",), 1) for k in keys}

    resolver = EntityResolver(SQLiteResolutionStore(tmp_path / "names.sqlite"))
    asyncio.run(resolver.aupdate(records(old), ()))
    compared = []
    settled = resolver_module.settled

    def counted(store, shorts, scored, words_of, extends, clashing):
        def extends_counted(short, key):
            compared.append((short, key))
            return extends(short, key)

        return settled(store, shorts, scored, words_of, extends_counted, clashing)

    monkeypatch.setattr(resolver_module, "settled", counted)
    # And scoring a crowd's short name against the names scored (`joined` in `_score`) looks
    # them up by word too, not each with each: a name's words are read a few times, not once
    # per crowd (116 times a name before, 28 now).
    read = [0]
    words_of = NameForm.words.fget
    monkeypatch.setattr(NameForm, "words", property(lambda f: (read.__setitem__(0, read[0] + 1), words_of(f))[1]))
    asyncio.run(resolver.aupdate(records(new), ()))
    assert compared  # the short names were checked ...
    assert len(compared) < 4 * len(new)  # ... each against the few names holding its words
    assert read[0] < 50 * len(new)
