"""Incremental merge == full rebuild: folding new chunks' records into stored aggregates,
and taking removed chunks' records out, gives exactly what merging the live chunks'
records gives, for any order of adds, deletes and edits."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphrag.merge import combine_entities, combine_relations, merge_entities, merge_relations
from graphrag.merge_aggregates import NameAggregate, PairAggregate, name_aggregates, pair_aggregates
from graphrag.merge_ledger import MergeLedger
from graphrag.models import ExtractedEntity, ExtractedRelation, Extraction
from tests.test_invariants import snapshot

NAMES = ["Scrooge", "scrooge", "SCROOGE!", "Marley", "Bob Cratchit", "bob  cratchit", "Tiny Tim", "Belle"]
TYPES = ["person", "PERSON", "org", "", "UNKNOWN"]
TEXTS = ["", "A miser.", "a miser.", "His partner.", "Kind."]

entities = st.builds(ExtractedEntity, name=st.sampled_from(NAMES), type=st.sampled_from(TYPES),
                     description=st.sampled_from(TEXTS))
relations = st.builds(
    ExtractedRelation, source=st.sampled_from(NAMES), target=st.sampled_from(NAMES),
    keywords=st.lists(st.sampled_from(["Partner", "partner", "debt", " "]), max_size=3),
    description=st.sampled_from(TEXTS), weight=st.sampled_from([1.0, 0.1, 0.2, 0.7, 2.5]),
)
extractions = st.builds(Extraction, entities=st.lists(entities, max_size=4), relations=st.lists(relations, max_size=4))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(extractions, min_size=1, max_size=7), cuts=st.lists(st.integers(0, 7), max_size=4),
       seed=st.integers(0, 2**16))
def test_folding_adds_in_any_order_equals_merging_all(records, cuts, seed):
    chunks = {f"c{i}": ext for i, ext in enumerate(records)}
    order = list(chunks)
    random.Random(seed).shuffle(order)
    bounds = sorted({0, len(order), *(min(c, len(order)) for c in cuts)})
    names: dict[str, NameAggregate] = {}
    pairs: dict[str, PairAggregate] = {}
    for lo, hi in zip(bounds, bounds[1:]):  # one update per slice: fold its chunks in
        batch = {c: chunks[c] for c in order[lo:hi]}
        for key, agg in name_aggregates(batch).items():
            names.setdefault(key, NameAggregate()).fold(agg)
        for key, agg in pair_aggregates(batch).items():
            pairs.setdefault(key, PairAggregate()).fold(agg)
    # Stored and read back between updates: the JSON round trip must not drift either.
    names = {k: NameAggregate.from_json(a.to_json()) for k, a in names.items()}
    pairs = {k: PairAggregate.from_json(a.to_json()) for k, a in pairs.items()}
    assert {k: a.to_json() for k, a in names.items()} == {k: a.to_json() for k, a in name_aggregates(chunks).items()}
    resolved = {"scrooge": "marley", "bob cratchit": "belle"}.get
    for canonical in (None, lambda k: resolved(k) or k):
        assert combine_entities(names, canonical) == merge_entities(chunks, canonical=canonical)
        assert combine_relations(pairs, canonical) == merge_relations(chunks, canonical=canonical)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(extractions, min_size=1, max_size=7), removed=st.sets(st.integers(0, 6)))
def test_unfolding_removed_chunks_equals_rebuilding_from_the_rest(records, removed):
    chunks = {f"c{i}": ext for i, ext in enumerate(records)}
    gone = {c: chunks[c] for c in (f"c{i}" for i in removed) if c in chunks}
    rest = {c: ext for c, ext in chunks.items() if c not in gone}
    for build, parse in ((name_aggregates, NameAggregate.from_json), (pair_aggregates, PairAggregate.from_json)):
        held = {k: parse(a.to_json()) for k, a in build(chunks).items()}  # as stored
        for key, taken in build(gone).items():
            assert held[key].unfold(taken)
        expected = build(rest)
        assert {k: a.to_json() for k, a in held.items() if a.chunks} == {k: a.to_json() for k, a in expected.items()}
        assert all(a.to_json() == type(a)().to_json() for k, a in held.items() if not a.chunks)


def test_an_aggregate_unfolds_only_what_it_holds():
    """Counts it does not hold, or an aggregate stored before names were counted per row,
    cannot be taken out: the ledger then rebuilds, and the aggregate is left as it was."""
    a = Extraction(entities=[ExtractedEntity(name="Marley", type="person", description="His partner.")])
    b = Extraction(entities=[ExtractedEntity(name="Marley", type="person", description="Dead.")])
    held = name_aggregates({"c1": a})["marley"]
    before = held.to_json()
    assert not held.unfold(name_aggregates({"c1": b})["marley"])  # a description it never counted
    assert not held.unfold(name_aggregates({"c2": a})["marley"])  # a chunk it does not hold
    assert held.to_json() == before
    legacy = json.loads(before)
    del legacy["m"]
    old = NameAggregate.from_json(json.dumps(legacy))
    assert old.mentions is None and not old.unfold(name_aggregates({"c1": a})["marley"])
    # A weight is not a count: any is taken out exactly, a negative one too (a record replaced
    # by one differing in weight only is caught by the "record" journal, not here).
    ab = {w: Extraction(relations=[ExtractedRelation(source="A", target="B", weight=w)]) for w in (-1.0, 2.0)}
    pair = pair_aggregates({"c1": ab[-1.0], "c2": ab[2.0]})["a|b"]
    assert pair.unfold(pair_aggregates({"c2": ab[2.0]})["a|b"])  # 2 out of a total of 1
    assert pair.to_json() == pair_aggregates({"c1": ab[-1.0]})["a|b"].to_json()


def test_a_name_named_only_by_removed_chunks_loses_its_zero_vote():
    """An endpoint-only spelling keeps a 0 vote while a chunk names it, and goes with the
    last such chunk, as a rebuild from the rest gives."""
    entity = Extraction(entities=[ExtractedEntity(name="Scrooge", type="person")])
    endpoint = Extraction(relations=[ExtractedRelation(source="SCROOGE!", target="Marley")])
    held = name_aggregates({"c1": entity, "c2": endpoint})["scrooge"]
    assert held.votes == {"Scrooge": 1, "SCROOGE!": 0}
    assert held.unfold(name_aggregates({"c2": endpoint})["scrooge"])
    assert held.to_json() == name_aggregates({"c1": entity})["scrooge"].to_json()


def test_weights_sum_exactly_whatever_the_order():
    # 0.1 + 0.2 + 0.7 in floats depends on the order; the exact sum does not.
    rel = [ExtractedRelation(source="A", target="B", weight=w) for w in (0.1, 0.2, 0.7)]
    forward = merge_relations({f"c{i}": Extraction(relations=[r]) for i, r in enumerate(rel)})
    backward = merge_relations({f"c{i}": Extraction(relations=[r]) for i, r in enumerate(reversed(rel))})
    assert forward == backward and next(iter(forward.values())).weight == 1.0


# ------------------------------------------------------------------ through the pipeline
FIRST = ["Ada", "Bram", "Cleo", "Dov", "Esme", "Finn", "Gale", "Hugo", "Iris", "Jude"]
LAST = ["Marsh", "Quill", "Rook", "Stone", "Thorn", "Vale"]
HUBS = ["Ada Marsh", "Bram Quill"]  # in nearly every document: folded into, never rebuilt


def documents(seed: int, count: int) -> dict[str, str]:
    rng = random.Random(seed)
    people = [f"{f} {last}" for f in FIRST for last in LAST]
    docs = {}
    for d in range(count):
        sentences = []
        for _ in range(4):
            a, b = rng.sample(people, 2)
            hub = rng.choice(HUBS)
            sentences.append(f"{a} met {b} near the mill, and {hub} wrote to {a} about it.")
        docs[f"doc{d}"] = f"Record {d}\n\n" + " ".join(sentences)
    return docs


@pytest.mark.parametrize("seed", [3, 17])
def test_adding_documents_one_by_one_folds_and_equals_one_full_build(
    graph_backend, make_rag, write_docs, seed, monkeypatch
):
    """Random groups of documents added in a random order (the hubs' aggregates are folded
    into on every add after the first) give the graph a single run over all of them gives
    (every aggregate built from the records); deleting one afterwards (its chunks' records
    taken out of the aggregates) gives the graph of never having added it."""
    folded: list[int] = []
    original = MergeLedger.save

    def counting(self):
        folded.append(self.stats.folded)
        original(self)

    monkeypatch.setattr(MergeLedger, "save", counting)
    paths = write_docs(documents(seed, 7))
    rng = random.Random(seed)
    order = paths[:]
    rng.shuffle(order)
    incremental = make_rag("incremental", summary_policy="rebuild")
    i = 0
    while i < len(order):
        step = rng.choice([1, 1, 2])
        incremental.index([str(p) for p in order[i : i + step]])
        i += step
    assert sum(folded) > 0, "no aggregate was folded: the test would not see a drifting fold"

    full = make_rag("full", summary_policy="rebuild")
    full.index([str(p) for p in paths])
    assert snapshot(incremental) == snapshot(full)

    gone = rng.choice(paths)
    incremental.delete([str(gone)])
    fresh = make_rag("fresh", summary_policy="rebuild")
    fresh.index([str(p) for p in paths if p != gone])
    assert snapshot(incremental) == snapshot(fresh)


def test_crash_after_the_aggregates_are_saved_converges_on_rerun(graph_backend, make_rag, write_docs, monkeypatch):
    """The aggregates already hold the new chunks but the journal still names them: the
    rerun must rebuild those aggregates, not fold the same chunks in twice."""
    first, *rest = write_docs(documents(5, 4))
    crashed = make_rag("crashed", summary_policy="rebuild")
    crashed.index([str(first)])
    original = MergeLedger.save

    def save_then_crash(self):
        original(self)
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(MergeLedger, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        crashed.index([str(p) for p in rest])
    monkeypatch.setattr(MergeLedger, "save", original)
    crashed.index([str(p) for p in rest])

    clean = make_rag("clean", summary_policy="rebuild")
    clean.index([str(p) for p in [first, *rest]])
    assert snapshot(crashed) == snapshot(clean)


class Revisable:
    """Derived extractions whose entity descriptions change once `revised` is set (the
    same names: a re-extraction the chunk index alone cannot tell from the old one)."""

    def __init__(self) -> None:
        self.revised = False

    def __call__(self, messages, purpose):
        import json

        from tests.fakes.chat import derived_extraction_responder

        text = derived_extraction_responder(messages, purpose)
        if not self.revised or purpose != "extract":
            return text
        data = json.loads(text)
        for e in data["entities"]:
            e["description"] = (e.get("description") or "") + " Revised."
        return json.dumps(data)


def test_reextract_after_folds_rebuilds_what_the_new_records_say(graph_backend, make_rag, write_docs):
    from tests.fakes.chat import ScriptedChatModel

    a, b = write_docs({k: v for k, v in documents(9, 2).items()})
    model = Revisable()
    rag = make_rag("ws", chat=ScriptedChatModel(model), summary_policy="rebuild")
    rag.index([str(a)])
    rag.index([str(b)])  # the hubs' aggregates: A's chunks, B's folded in
    model.revised = True
    assert rag.reextract([str(a)]).documents_reextracted == 1

    expected_model = Revisable()
    fresh = make_rag("fresh", chat=ScriptedChatModel(expected_model), summary_policy="rebuild")
    expected_model.revised = True
    fresh.index([str(a)])
    expected_model.revised = False
    fresh.index([str(b)])
    assert snapshot(rag) == snapshot(fresh)


def test_an_add_reads_the_records_of_the_new_chunks_only(make_rag, write_docs, monkeypatch):
    """Cost grows with the change: adding a document that names the hubs reads no record of
    the hubs' other chunks (before, each add rebuilt them from all their chunks' records)."""
    stats = []
    original = MergeLedger.save

    def recording(self):
        stats.append(self.stats)
        original(self)

    docs = documents(21, 9)
    *old, new = write_docs(docs)
    rag = make_rag("ws", summary_policy="rebuild")
    rag.index([str(p) for p in old])
    monkeypatch.setattr(MergeLedger, "save", recording)
    rag.index([str(new)])
    hubs = rag.graph.get_entities(["ada marsh", "bram quill"])
    assert min(len(e.source_ids) for e in hubs.values()) > 5
    (added,) = [d for d in rag.status() if d.source == str(new.resolve())]
    chunks = len(rag.state.chunks_of(added.id))
    assert sum(s.folded for s in stats) > 0
    assert 0 < sum(s.records_read for s in stats) <= chunks


def _recording_ledgers(monkeypatch) -> list:
    stats = []
    original = MergeLedger.save

    def recording(self):
        stats.append(self.stats)
        original(self)

    monkeypatch.setattr(MergeLedger, "save", recording)
    return stats


def test_a_delete_and_an_edit_read_the_records_of_their_own_chunks_only(make_rag, write_docs, monkeypatch):
    """A delete takes the deleted chunks' records out of the hubs' aggregates, and an edit
    its old chunks' out and its new chunks' in, reading no record of the hubs' other chunks
    (before, both rebuilt every aggregate they touched from all its chunks: a delete at 100k
    entities took 1-4 s); the graph is the one a fresh index of the same documents gives."""
    docs = documents(23, 9)
    paths = write_docs(docs)
    rag = make_rag("ws", summary_policy="rebuild")
    rag.index([str(p) for p in paths])
    hubs = rag.graph.get_entities(["ada marsh", "bram quill"])
    assert min(len(e.source_ids) for e in hubs.values()) > 5
    chunks_of = {d.source: len(rag.state.chunks_of(d.id)) for d in rag.status()}

    stats = _recording_ledgers(monkeypatch)
    gone, edited = paths[2], paths[5]
    rag.delete([str(gone)])
    assert sum(s.folded for s in stats) > 0 and sum(s.rebuilt for s in stats) == 0
    assert 0 < sum(s.records_read for s in stats) <= chunks_of[str(gone.resolve())]

    stats.clear()
    edited.write_text(edited.read_text(encoding="utf-8") + " Ada Marsh met Iris Vale at the ford.", encoding="utf-8")
    rag.index([str(edited)])
    (new,) = [d for d in rag.status() if d.source == str(edited.resolve())]
    assert sum(s.folded for s in stats) > 0
    assert 0 < sum(s.records_read for s in stats) <= chunks_of[str(edited.resolve())] + len(rag.state.chunks_of(new.id))

    fresh = make_rag("fresh", summary_policy="rebuild")
    fresh.index([str(p) for p in paths if p != gone])
    assert snapshot(rag) == snapshot(fresh)


def test_a_replaced_record_is_never_taken_out_of_an_aggregate(make_rag, write_docs, monkeypatch):
    """A text hash journaled as "record" (re-extraction replaced what it says) makes every
    aggregate that counted it rebuild from the records, whatever else changed."""
    *old, last = write_docs(documents(29, 6))
    rag = make_rag("ws", summary_policy="rebuild")
    rag.index([str(p) for p in old])
    rag.index([str(last)])
    stats = _recording_ledgers(monkeypatch)
    hub_chunks = rag.state.chunks_for_entities(["ada marsh"])["ada marsh"]
    (done,) = [d for d in rag.status() if d.source == str(old[0].resolve())]
    other = next(iter(hub_chunks - {c.id for c in rag.state.chunks_of(done.id)}))
    rag.state.add_pending("record", [rag.state.get_chunks([other])[other].text_hash])
    rag.delete([str(old[0])])
    assert sum(s.rebuilt for s in stats) > 0
    assert rag.state.pending("record") == set()


def test_a_record_replaced_by_any_writer_is_rebuilt_not_unfolded(make_rag, write_docs):
    """A writer other than reextract (a script, a cache fill) replacing a record with a
    different one must not have it subtracted from aggregates that counted the old one
    (that left a relation weighing 1.75 where a fresh index gives 1.0), even when another
    update runs in between and clears the journal."""
    docs = documents(31, 5)
    *paths, later = write_docs(docs)
    rag = make_rag("ws", summary_policy="rebuild")
    rag.index([str(p) for p in paths])
    (gone,) = [d for d in rag.status() if d.source == str(paths[0].resolve())]
    hashes = {c.text_hash for c in rag.state.chunks_of(gone.id)}
    extractor_id = rag.extractor.extractor_id
    other_run = {
        h: r.model_copy(update={"relations": [x.model_copy(update={"weight": x.weight / 4}) for x in r.relations]})
        for h, r in rag.state.get_extractions(hashes, extractor_id).items()
    }
    assert any(r.relations for r in other_run.values())
    rag.state.put_extractions(other_run, extractor_id)
    assert rag.state.pending("record") == hashes
    rag.index([str(later)])
    assert rag.state.pending("record") == set()

    rag.delete([str(paths[0])])
    fresh = make_rag("fresh", summary_policy="rebuild")
    fresh.index([str(p) for p in [*paths[1:], later]])
    assert snapshot(rag) == snapshot(fresh)


def test_a_record_that_names_someone_new_is_followed_by_the_graph(graph_backend, make_rag, write_docs):
    """A bare store write whose record renames one name and adds another with a relation to
    it: the next update re-keys the chunks with that text and gives the graph a fresh index
    of the same records gives (before, the new name never reached the graph, and its
    relation to a re-formed entity made every later command fail: "refers to missing
    entities")."""
    from graphrag.models import ExtractedEntity, ExtractedRelation

    paths = write_docs(documents(35, 3))
    rag = make_rag("ws", summary_policy="rebuild", resolution=True)
    rag.index([str(p) for p in paths])
    extractor_id = rag.extractor.extractor_id
    chunk = next(c for d in rag.status() for c in rag.state.chunks_of(d.id))
    record = rag.state.get_extractions({chunk.text_hash}, extractor_id)[chunk.text_hash]
    first = record.entities[0].name

    def upper(name: str) -> str:
        return name.upper() if name == first else name

    changed = record.model_copy(update={
        "entities": [e.model_copy(update={"name": upper(e.name)}) for e in record.entities]
        + [ExtractedEntity(name="Zed Hart", type="person", description="Written by a script.")],
        "relations": [r.model_copy(update={"source": upper(r.source), "target": upper(r.target)}) for r in record.relations]
        + [ExtractedRelation(source="Zed Hart", target=first.upper(), description="Met.", weight=2.0)],
    })
    rag.state.put_extractions({chunk.text_hash: changed}, extractor_id)
    rag.index([str(p) for p in paths])  # nothing new: settles the journal
    assert rag.graph.get_entities(["zed hart"])["zed hart"].source_ids == (chunk.id,)

    fresh = make_rag("fresh", summary_policy="rebuild", resolution=True)
    hashes = {c.text_hash for d in rag.status() for c in rag.state.chunks_of(d.id)}
    fresh.state.put_extractions(rag.state.get_extractions(hashes, extractor_id), extractor_id)
    fresh.index([str(p) for p in paths])
    assert snapshot(rag) == snapshot(fresh)
    assert rag.state.pending("record") == set()


def test_the_eval_cache_copies_records_and_the_store_journals_the_replaced(make_rag, write_docs, tmp_path):
    from graphrag.eval.cache import copy_extractions, open_cache

    paths = write_docs(documents(33, 2))
    rag = make_rag("ws", summary_policy="rebuild")
    rag.index([str(paths[0])])
    extractor_id = rag.extractor.extractor_id
    held = rag.state.get_extractions({c.text_hash for d in rag.status() for c in rag.state.chunks_of(d.id)}, extractor_id)
    cache = open_cache(tmp_path / "cache")
    cache.put_extractions({**held, next(iter(held)): Extraction(), "new-text": Extraction()}, extractor_id)
    assert copy_extractions(cache, rag.state, [*held, "new-text", "unknown"], extractor_id) == len(held) + 1
    assert rag.state.pending("record") == {next(iter(held))}


def test_a_new_most_frequent_spelling_renames_the_relations_too_without_resolution(graph_backend, make_rag, write_docs):
    """Resolution off: once "IRIS" outnumbers "Iris", the entity is renamed, and so is every
    relation's vector text that names it, as in a fresh index (only the relations of the
    journaled pairs were rebuilt, so older ones kept the old name)."""
    from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder, fenced_text

    answers = {
        "met": {"entities": [{"name": "Iris", "type": "person", "description": "Met Cora."},
                             {"name": "Cora Finch", "type": "person", "description": "Met Iris."}],
                "relations": [{"source": "Iris", "target": "Cora Finch", "keywords": ["met"],
                               "description": "They met.", "weight": 1.0}]},
        "sailed": {"entities": [{"name": "IRIS", "type": "person", "description": "Sailed."}], "relations": []},
        "rowed": {"entities": [{"name": "IRIS", "type": "person", "description": "Rowed."}], "relations": []},
    }

    def responder(messages, purpose):
        if purpose not in ("extract", "extract_reask"):
            return derived_extraction_responder(messages, purpose)
        document = fenced_text(messages, "DOCUMENT") or ""
        return json.dumps(next(a for word, a in answers.items() if word in document))

    docs = {"a": "Iris met Cora Finch at the ford.", "b": "Iris sailed home.", "c": "Iris rowed back."}
    paths = write_docs(docs)
    options = {"summary_policy": "rebuild", "resolution": False}
    rag = make_rag("ws", chat=ScriptedChatModel(responder), **options)
    for path in paths:
        rag.index([str(path)])
    assert rag.graph.get_entities(["iris"])["iris"].name == "IRIS"
    fresh = make_rag("fresh", chat=ScriptedChatModel(responder), **options)
    fresh.index([str(p) for p in paths])
    assert snapshot(rag) == snapshot(fresh)
