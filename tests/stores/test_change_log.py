"""The change log of a graph store that commits its writes elsewhere (Neo4j): readers are told
of the keys an update wrote once it is published, and load everything again when the log
cannot take them back to their mark."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.stores.change_log import ChangeLog


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ws" / "graph_changes.sqlite"


def test_readers_see_the_keys_an_update_noted_once_it_is_published(path: Path) -> None:
    writer, reader = ChangeLog(path), ChangeLog(path)  # two processes' handles
    mark = reader.mark()
    writer.note("entity", ["b", "a"])
    writer.note("relation", ["a|b"])
    assert reader.changes_since(mark) == (mark, {"document": set(), "chunk": set(), "entity": set(), "relation": set()})
    writer.publish()
    new_mark, changed = reader.changes_since(mark)
    assert changed == {"document": set(), "chunk": set(), "entity": {"a", "b"}, "relation": {"a|b"}}
    assert new_mark == reader.mark() > mark
    assert reader.changes_since(new_mark)[1]["entity"] == set()


def test_the_notes_of_a_run_killed_before_publishing_are_published_by_the_next(path: Path) -> None:
    """The killed run wrote the graph; the next finds the rows already there and writes
    nothing, but its flush still tells readers of the keys the first one wrote."""
    reader = ChangeLog(path)
    mark = reader.mark()
    killed = ChangeLog(path)
    killed.note("entity", ["scrooge"])
    killed.close()  # no publish
    ChangeLog(path).publish()
    assert reader.changes_since(mark)[1]["entity"] == {"scrooge"}


def test_a_reader_behind_what_the_log_keeps_is_told_to_load_everything(path: Path, monkeypatch) -> None:
    monkeypatch.setattr("graphrag.stores.change_log.CHANGE_LOG_KEEP", 3)
    log = ChangeLog(path)
    old = log.mark()
    for key in "abcde":
        log.note("entity", [key])
        log.publish()
    assert log.changes_since(old) is None
    recent = log.mark()
    log.note("chunk", ["c1"])
    log.publish()
    assert log.changes_since(recent)[1]["chunk"] == {"c1"}


@pytest.mark.parametrize("how", ["reset", "file deleted"])
def test_a_log_begun_anew_sends_every_reader_to_load_everything(path: Path, how: str) -> None:
    """The graph was dropped (`reset`), or the log file went: an old mark must not read the
    new log's keys as all that changed since."""
    log = ChangeLog(path)
    log.note("entity", ["a"])
    log.publish()
    old = log.mark()
    if how == "reset":
        log.reset()
    else:
        log.close()
        path.unlink()
        log = ChangeLog(path)
    log.note("entity", ["b"])
    log.publish()
    assert log.changes_since(old) is None
    assert log.changes_since(log.mark()) is not None


def test_a_log_begun_anew_does_not_depend_on_the_clock(path: Path, monkeypatch) -> None:
    """A clock stepped back (NTP, a restored VM) must not make an old mark look current."""
    import time

    log = ChangeLog(path)
    for key in "abc":
        log.note("entity", [key])
    log.publish()
    old = log.mark()
    monkeypatch.setattr(time, "time_ns", lambda: 0)
    log.reset()
    log.note("entity", ["new"])
    log.publish()
    assert log.changes_since(old) is None


def test_an_unreadable_log_is_a_store_error(path: Path) -> None:
    from graphrag.errors import StoreError

    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="graph change log"):
        ChangeLog(path)
