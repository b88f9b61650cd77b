"""Resolution keeps the indexing invariants: the same entities and aliases whatever the
order documents arrive in; deleting a document undoes exactly the merges it justified; a
crash in the middle converges. On both graph backends, with the offline extractor."""

from __future__ import annotations

import pytest

from tests.test_invariants import snapshot

DOCS = {
    "A": "Ebenezer Scrooge kept a counting-house in London. Bob Cratchit was the clerk of Ebenezer Scrooge. "
    "Tiny Tim was the son of Bob Cratchit.",
    "B": "Mr. Scrooge shouted at Bob in the office. Martha Cratchit walked to London with Peter Cratchit. "
    "Scrooge laughed at the clerk.",
    "C": "Cratchit came home late that evening. Tim sang a song for Martha. Scrooge never heard it.",
}


def resolved(rag) -> dict:
    """Everything snapshot() sees, plus every entity's aliases (with their chunks)."""
    out = snapshot(rag)
    out["aliases"] = sorted((e.key, e.aliases) for e in rag.graph.iter_entities() if e.aliases)
    return out


def alias_names(rag) -> dict[str, set[str]]:
    return {e.name: {a.name for a in e.aliases} for e in rag.graph.iter_entities() if e.aliases}


def crash_after_resolution(rag, paths, monkeypatch) -> None:
    """Indexes `paths` and crashes right after resolution wrote its decisions."""
    import graphrag.reconcile as reconcile
    from graphrag.resolve.apply import plan_graph_changes as real

    async def boom(**kwargs):
        await real(**kwargs)
        raise KeyboardInterrupt("simulated crash after resolution was written")

    monkeypatch.setattr(reconcile, "plan_graph_changes", boom)
    with pytest.raises(KeyboardInterrupt):
        rag.index(paths)
    monkeypatch.undo()


def test_names_of_one_entity_end_in_one_entity_and_others_stay_apart(graph_backend, make_rag, write_docs):
    rag = make_rag(offline=True)
    rag.index([str(p) for p in write_docs(DOCS)])
    names = alias_names(rag)
    groups = [v | {k} for k, v in names.items()]
    assert any({"Scrooge", "Ebenezer Scrooge"} <= g for g in groups)
    assert any({"Tim", "Tiny Tim"} <= g for g in groups)
    assert any({"Martha", "Martha Cratchit"} <= g for g in groups)
    assert any({"Bob", "Bob Cratchit"} <= g for g in groups)
    # Family members share a word and stay apart, and so does the bare "Cratchit".
    family = {"Bob Cratchit", "Martha Cratchit", "Peter Cratchit", "Cratchit"}
    assert not any(len(family & g) > 1 for g in groups)
    keys = {e.key for e in rag.graph.iter_entities()}
    assert {"cratchit", "scrooge", "peter cratchit"} <= keys and "ebenezer scrooge" not in keys


def test_any_order_gives_the_same_entities_and_aliases(graph_backend, make_rag, write_docs):
    a, b, c = write_docs(DOCS)
    together = make_rag("together", offline=True)
    together.index([str(a), str(b), str(c)])
    one_by_one = make_rag("one_by_one", offline=True)
    for path in (c, a, b):
        one_by_one.index([str(path)])
    assert resolved(one_by_one) == resolved(together)


def test_delete_undoes_the_merges_only_the_document_justified(graph_backend, make_rag, write_docs):
    a, b, c = write_docs(DOCS)
    full = make_rag("full", offline=True)
    full.index([str(a), str(b), str(c)])
    assert any({"Martha", "Martha Cratchit"} <= v | {k} for k, v in alias_names(full).items())
    full.delete([str(b)])

    fresh = make_rag("fresh", offline=True)
    fresh.index([str(a), str(c)])
    assert resolved(full) == resolved(fresh)
    # Only B named Martha Cratchit: C's "Martha" is on her own again, B's "Bob" is gone.
    keys = {e.key for e in full.graph.iter_entities()}
    assert "martha" in keys and "martha cratchit" not in keys
    assert "Bob" not in {a.name for e in full.graph.iter_entities() for a in e.aliases}


def test_a_crash_after_resolution_converges_on_rerun(graph_backend, make_rag, write_docs, monkeypatch):
    paths = [str(p) for p in write_docs(DOCS)]
    crashed = make_rag("crashed", offline=True)
    crashed.index(paths[:2])
    crash_after_resolution(crashed, paths, monkeypatch)
    crashed.index(paths)

    clean = make_rag("clean", offline=True)
    clean.index(paths)
    assert resolved(crashed) == resolved(clean)


# --- with a chat model judging the uncertain pairs

from tests.fakes.chat import ScriptedChatModel, pair_verdict_responder  # noqa: E402
from tests.resolve.test_adjudication import DOCS as JUDGED_DOCS  # noqa: E402


def judging(make_rag, name: str):
    return make_rag(name, chat=ScriptedChatModel(pair_verdict_responder))


def owners(rag) -> dict[str, str]:
    out = {}
    for e in rag.graph.iter_entities():
        out[e.key] = e.key
        out.update({a.name.lower(): e.key for a in e.aliases})
    return out


def test_with_a_model_judging_any_order_gives_the_same_entities(graph_backend, make_rag, write_docs):
    a, b, c = write_docs(JUDGED_DOCS)
    together = judging(make_rag, "together")
    together.index([str(a), str(b), str(c)])
    assert owners(together)["john smith"] == "john adam smith"
    for name, order in (("cab", (c, a, b)), ("bca", (b, c, a))):
        one_by_one = judging(make_rag, name)
        for path in order:
            one_by_one.index([str(path)])
        assert resolved(one_by_one) == resolved(together), name
        assert one_by_one.resolver.store.pairs_of({"john smith"}) == together.resolver.store.pairs_of({"john smith"})


@pytest.mark.parametrize("gone", ["A", "C"])
def test_with_a_model_judging_delete_equals_never_indexed(graph_backend, make_rag, write_docs, gone):
    paths = dict(zip(JUDGED_DOCS, write_docs(JUDGED_DOCS)))
    full = judging(make_rag, "full")
    full.index([str(p) for p in paths.values()])
    full.delete([str(paths[gone])])
    fresh = judging(make_rag, "fresh")
    fresh.index([str(p) for n, p in paths.items() if n != gone])
    assert resolved(full) == resolved(fresh)
    if gone == "A":  # only John Paul Smith extends "John Smith" now: string evidence merges them
        assert owners(full)["john smith"] == owners(full)["john paul smith"]


def test_with_a_model_judging_a_crash_converges(graph_backend, make_rag, write_docs, monkeypatch):
    paths = [str(p) for p in write_docs(JUDGED_DOCS)]
    crashed = judging(make_rag, "crashed")
    crashed.index(paths[:2])
    crash_after_resolution(crashed, paths, monkeypatch)  # after the model's verdicts were written
    crashed.index(paths)
    clean = judging(make_rag, "clean")
    clean.index(paths)
    assert resolved(crashed) == resolved(clean)
    assert owners(crashed)["john smith"] == "john adam smith"
