"""The invariants that make incremental indexing trustworthy:
delete == never indexed; edit == fresh index; any order == same graph; unchanged == free."""

from __future__ import annotations

import numpy as np
import pytest

from graphrag.indexer import CHUNKS_TABLE, ENTITIES_TABLE, RELATIONS_TABLE


def snapshot(rag) -> dict:
    """Everything a query can see: entities, relations (with sources), vectors and their texts."""
    graph = {
        "entities": sorted(
            (e.key, e.name, e.type, e.description, e.source_ids, e.aliases) for e in rag.graph.iter_entities()
        ),
        "relations": sorted(
            (r.key, r.source, r.target, r.description, r.keywords, r.weight, r.source_ids)
            for r in rag.graph.iter_relations()
        ),
    }
    degrees = rag.graph.degrees([e[0] for e in graph["entities"]])
    graph["degrees"] = sorted(degrees.items())
    for table in (CHUNKS_TABLE, ENTITIES_TABLE, RELATIONS_TABLE):
        rows = rag.vectors.get(table, rag.vectors.ids(table))
        # Its own key: the vector tables share their names with the graph's rows.
        graph[f"vectors:{table}"] = sorted((i, r.text, np.round(np.asarray(r.vector), 5).tobytes()) for i, r in rows.items())
    return graph


def structure(snap: dict) -> dict:
    """A snapshot without the descriptions (and the entity/relation vectors made from them):
    what the fold summary policy keeps independent of the order documents arrive in."""
    return {
        "entities": [e[:3] + e[4:] for e in snap["entities"]],
        "relations": [r[:3] + r[4:] for r in snap["relations"]],
        "degrees": snap["degrees"],
        f"vectors:{CHUNKS_TABLE}": snap[f"vectors:{CHUNKS_TABLE}"],
        f"vectors:{ENTITIES_TABLE}": [row[0] for row in snap[f"vectors:{ENTITIES_TABLE}"]],
        f"vectors:{RELATIONS_TABLE}": [row[0] for row in snap[f"vectors:{RELATIONS_TABLE}"]],
    }


def test_reindexing_an_unchanged_corpus_is_free(graph_backend, make_rag, write_docs, sample_texts):
    paths = write_docs(sample_texts)
    rag = make_rag()
    first = rag.index(paths)
    assert first.documents_new == 3 and first.llm_calls > 0
    assert first.entities > 0 and first.relations > 0
    embedded = rag.embedder.embedded_count
    before = snapshot(rag)

    second = rag.index(paths)
    assert second.llm_calls == 0
    assert second.chunks_extracted == 0
    assert second.documents_unchanged == 3 and second.documents_new == 0
    assert rag.embedder.embedded_count == embedded  # nothing re-embedded
    assert snapshot(rag) == before


def test_delete_equals_never_indexed(graph_backend, make_rag, write_docs, sample_texts):
    a, b, c = write_docs(sample_texts)
    full = make_rag("full")
    full.index([a, b, c])
    full.delete([str(b)])

    fresh = make_rag("fresh")
    fresh.index([a, c])
    assert snapshot(full) == snapshot(fresh)
    assert {r.source for r in full.status() if r.status == "processed"} == {str(a.resolve()), str(c.resolve())}


def test_delete_makes_no_extraction_calls(graph_backend, make_rag, write_docs, sample_texts):
    paths = write_docs(sample_texts)
    rag = make_rag()
    rag.index(paths)
    before = {p: u.calls for p, u in rag.usage.by_purpose.items()}
    rag.delete([str(paths[1])])
    after = {p: u.calls for p, u in rag.usage.by_purpose.items()}
    for purpose in ("extract", "glean", "extract_reask"):
        assert after.get(purpose, 0) == before.get(purpose, 0)


def test_edit_equals_fresh_index_and_extracts_only_new_chunks(graph_backend, make_rag, write_docs, sample_texts, tmp_path):
    a, b = write_docs({"A": sample_texts["A"], "B": sample_texts["B"]})
    edited = sample_texts["B"] + "\n\nMr. Fezziwig danced with Mrs. Fezziwig at the warehouse in London."
    rag = make_rag("edited", summary_policy="rebuild")  # word for word; fold: see below
    rag.index([a, b])
    chunks_before = rag.stats()["chunks"]
    b.write_text(edited, encoding="utf-8")
    report = rag.index([a, b])
    assert report.documents_updated == 1 and report.documents_unchanged == 1
    # Most chunk texts of B survive the edit: their stored extractions are reused.
    assert 0 < report.chunks_extracted < chunks_before

    (b2,) = write_docs({"B": edited}, folder="fresh_docs")
    fresh = make_rag("fresh", summary_policy="rebuild")
    fresh.index([a, b2])
    assert snapshot(rag) == snapshot(fresh)
    assert len([r for r in rag.status() if r.status == "processed"]) == 2


@pytest.mark.parametrize("policy", ["rebuild", "fold"])
def test_any_order_gives_the_same_graph(graph_backend, make_rag, write_docs, sample_texts, policy):
    a, b, c = write_docs(sample_texts)
    together = make_rag("together", summary_policy=policy)
    together.index([a, b, c])
    one_by_one = make_rag("one_by_one", summary_policy=policy)
    for path in (c, a, b):
        one_by_one.index([path])
    if policy == "rebuild":
        assert snapshot(together) == snapshot(one_by_one)
    else:  # folded descriptions depend on the arrival order; everything else does not
        assert structure(snapshot(together)) == structure(snapshot(one_by_one))


def test_fold_delete_of_the_last_added_document_equals_never_indexed(graph_backend, make_rag, write_docs, sample_texts):
    """With the fold policy, B's fragments were appended to or folded into A's summaries;
    deleting B rebuilds every summary that took one of them, so nothing of B remains."""
    a, b, _ = write_docs(sample_texts)
    rag = make_rag("added", summary_policy="fold", summary_fold_min_new=2)
    rag.index([a])
    rag.index([b])
    rag.delete([str(b)])
    fresh = make_rag("fresh", summary_policy="fold", summary_fold_min_new=2)
    fresh.index([a])
    assert snapshot(rag) == snapshot(fresh)


def test_crash_before_reconcile_converges_on_rerun(graph_backend, make_rag, write_docs, sample_texts, monkeypatch):
    paths = write_docs(sample_texts)
    crashed = make_rag("crashed")
    from graphrag.indexer import Indexer

    original = Indexer.areconcile

    async def boom(self, *args):
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(Indexer, "areconcile", boom)
    with pytest.raises(KeyboardInterrupt):
        crashed.index(paths)
    monkeypatch.setattr(Indexer, "areconcile", original)
    crashed.index(paths)

    clean = make_rag("clean")
    clean.index(paths)
    assert snapshot(crashed) == snapshot(clean)
