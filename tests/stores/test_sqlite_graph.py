"""The embedded graph store's own promises beyond the contract: a flush writes what changed,
a second process catches up by reading only what changed, and a graph.json workspace from
an older graphrag is imported once."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.models import Alias, Entity, relation_key
from graphrag.stores.networkx_graph import NetworkXGraphStore
from graphrag.stores.sqlite_graph import SQLiteGraphStore

from .test_graph_store_contract import chunk, doc, ent, rel, snapshot


def _big(store: SQLiteGraphStore, n: int = 600) -> None:
    store.upsert_entities([ent(f"e{i}") for i in range(n)])
    store.upsert_relations([rel(f"e{i}", f"e{i + 1}") for i in range(n - 1)])
    store.upsert_documents([doc("d1")])
    store.upsert_chunks([chunk(f"c{i}", "d1", i) for i in range(50)])
    store.flush()


def test_a_flush_writes_only_the_rows_that_changed(tmp_path: Path) -> None:
    store = SQLiteGraphStore(tmp_path / "graph.sqlite")
    _big(store)
    before = store._conn.total_changes
    store.upsert_entities([ent("e5", description="changed")])
    store.upsert_relations([rel("e5", "e6", weight=9.0)])
    store.delete_entities(["e300"])  # and its two relations
    store.flush()
    written = store._conn.total_changes - before
    # rows: 2 entities (+alias deletes), 3 relations, 5 change-log rows
    assert written <= 15, f"{written} rows written for a change of five"
    store.close()
    reopened = SQLiteGraphStore(tmp_path / "graph.sqlite")
    assert reopened.get_entities(["e5"])["e5"].description == "changed"
    assert "e300" not in reopened.get_entities(["e300"])
    assert reopened.get_relations([relation_key("e5", "e6")])[relation_key("e5", "e6")].weight == 9.0
    assert reopened.stats().relations == 599 - 2
    reopened.close()


def test_an_unchanged_store_flushes_nothing(tmp_path: Path) -> None:
    store = SQLiteGraphStore(tmp_path / "graph.sqlite")
    _big(store, 20)
    before = store._conn.total_changes
    store.flush()
    assert store._conn.total_changes == before
    store.close()


def test_a_second_process_catches_up_with_only_the_changed_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = SQLiteGraphStore(tmp_path / "graph.sqlite")
    _big(writer)
    reader = SQLiteGraphStore(tmp_path / "graph.sqlite")

    def no_full_load() -> None:
        raise AssertionError("reloaded the whole graph")

    monkeypatch.setattr(reader, "_load_all", no_full_load)
    reader.reload()  # nothing changed: nothing read
    assert snapshot(reader) == snapshot(writer)

    writer.upsert_entities([Entity(key="new", name="New", type="ORG", description="d", source_ids=("c1",),
                                   aliases=(Alias("Newer", ("c1",)),))])
    writer.upsert_relations([rel("new", "e1")])
    writer.upsert_entities([ent("e2", description="edited")])
    writer.delete_entities(["e10"])
    writer.delete_relations([relation_key("e20", "e21")])
    writer.delete_documents(["d1"])
    writer.upsert_documents([doc("d2", "b.txt")])
    writer.upsert_chunks([chunk("x1", "d2", 0)])
    writer.flush()

    reader.reload()
    assert snapshot(reader) == snapshot(writer)
    assert list(reader.iter_chunks()) == list(writer.iter_chunks())
    assert list(reader.iter_documents()) == list(writer.iter_documents())
    assert reader.find_entities(["newer"])["newer"].key == "new"
    writer.close()
    reader.close()


def test_reload_drops_unflushed_writes(tmp_path: Path) -> None:
    store = SQLiteGraphStore(tmp_path / "graph.sqlite")
    _big(store, 10)
    store.upsert_entities([ent("ghost")])
    store.delete_entities(["e1"])
    store.reload()
    assert "ghost" not in store.get_entities(["ghost"]) and "e1" in store.get_entities(["e1"])
    store.close()


def test_a_reader_behind_the_kept_change_log_reloads_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("graphrag.stores.sqlite_graph.CHANGE_LOG_KEEP", 3)
    writer = SQLiteGraphStore(tmp_path / "graph.sqlite")
    _big(writer, 10)
    reader = SQLiteGraphStore(tmp_path / "graph.sqlite")
    for i in range(5):
        writer.upsert_entities([ent(f"e{i}", description=f"round {i}")])
        writer.flush()
    reader.reload()
    assert snapshot(reader) == snapshot(writer)


def test_a_graph_json_workspace_is_imported_once(tmp_path: Path) -> None:
    legacy = NetworkXGraphStore(tmp_path / "graph.json")
    _big(legacy, 30)  # type: ignore[arg-type]
    legacy.upsert_entities([Entity(key="x", name="X", type="ORG", description="d", source_ids=("c1",),
                                   aliases=(Alias("Ex", ("c1",)),))])
    legacy.flush()
    expected = snapshot(legacy)

    store = SQLiteGraphStore(tmp_path / "graph.sqlite")
    assert snapshot(store) == expected
    assert store.find_entities(["ex"])["ex"].key == "x"
    assert not (tmp_path / "graph.json").exists() and (tmp_path / "graph.json.imported").is_file()
    store.upsert_entities([ent("after")])  # keeps going
    store.close()

    again = SQLiteGraphStore(tmp_path / "graph.sqlite")
    assert "after" in again.get_entities(["after"]) and again.stats().entities == expected[2].entities + 1
    again.close()


def test_a_broken_graph_json_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "graph.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(Exception, match="restore it from a backup or delete it"):
        SQLiteGraphStore(tmp_path / "graph.sqlite")


def test_changes_since_a_mark_name_what_memory_took_in_after_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = SQLiteGraphStore(tmp_path / "graph.sqlite")
    _big(writer, 10)
    reader = SQLiteGraphStore(tmp_path / "graph.sqlite")
    mark = reader.change_mark()
    assert reader.changes_since(mark) == (mark, {"document": set(), "chunk": set(), "entity": set(), "relation": set()})
    writer.upsert_entities([ent("e1", description="changed"), ent("new")])
    writer.delete_entities(["e7"])  # and its two relations
    writer.delete_documents(["d1"])  # and its chunks
    writer.flush()
    assert reader.changes_since(mark) == (mark, {"document": set(), "chunk": set(), "entity": set(), "relation": set()})
    reader.reload()  # memory takes the flush in: now the changes are named
    caught = reader.changes_since(mark)
    assert caught is not None
    new_mark, changed = caught
    assert new_mark == writer.change_mark() == reader.change_mark() > mark
    assert changed["entity"] == {"e1", "new", "e7"}
    assert changed["relation"] == {relation_key("e6", "e7"), relation_key("e7", "e8")}
    assert changed["document"] == {"d1"} and len(changed["chunk"]) == 50
    assert reader.changes_since(new_mark) == (new_mark, {"document": set(), "chunk": set(), "entity": set(), "relation": set()})
    monkeypatch.setattr("graphrag.stores.sqlite_graph.CHANGE_LOG_KEEP", 2)
    writer.upsert_entities([ent("e2", description="again")])
    writer.flush()  # the log now keeps only its last rows
    reader.reload()
    assert reader.changes_since(mark) is None  # too far behind: the caller loads everything
