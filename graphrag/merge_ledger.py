"""The merge aggregates kept in the state store, brought up to date for one reconcile.

An update folds the new chunks' records into a name's (or a pair of names') stored
aggregate, and takes the records of the chunks it removed out of it, instead of reading
every chunk's record again: adding, deleting or editing a document that names a hub entity
costs what the document is, not what the hub is. A stored aggregate is used only when it
provably covers the name's live chunks up to what this reconcile adds and removes:

- written for the current extractor;
- every chunk it holds that is still live is not journaled (a journaled live chunk may be
  new again after a crash, or re-extracted);
- every chunk it holds that is gone is journaled (removed in this update), and its record
  is still stored under the text hash the aggregate holds for it, and unfolds (the counts
  it adds are there);
- no text hash it holds names a record `reextract` replaced (journaled as "record");
- every live chunk it lacks is journaled (new in this update).

Anything else (a re-extraction, a stale, old-format or missing aggregate) rebuilds it from
the records of all its live chunks. Either way the result is what a rebuild gives, because
aggregates of disjoint chunk sets add up and subtract (`graphrag.merge_aggregates`).

Beside them, per entity: the names it was last written with and its name, so the plan can
tell an entity whose relations keep their keys (only the journaled pairs change) from one
that resolution re-formed or renamed (all its relations rebuilt). Those rows are written
only after the graph and vectors (`save`), so a crash before leaves the old ones and the
next run rebuilds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from graphrag.merge_aggregates import NameAggregate, PairAggregate, name_aggregates, pair_aggregates
from graphrag.models import Extraction
from graphrag.stores.base import StateStore

LoadRecords = Callable[[set[str]], dict[str, Extraction]]
A = TypeVar("A", NameAggregate, PairAggregate)

NAMES, PAIRS, ENTITIES = "n", "p", "e"


@dataclass
class LedgerStats:
    folded: int = 0  # aggregates brought up to date from the new and removed chunks' records alone
    rebuilt: int = 0  # aggregates rebuilt from all their chunks' records
    records_read: int = 0  # distinct chunks whose records were read


@dataclass(frozen=True)
class EntitySnapshot:
    members: tuple[str, ...]  # the name keys with live chunks that formed the entity
    name: str


@dataclass
class _Kind(Generic[A]):
    tag: str
    parse: Callable[[str], A]
    build: Callable[..., dict[str, A]]
    held: dict[str, A] = field(default_factory=dict)


class MergeLedger:
    """Up-to-date aggregates of the names and pairs one reconcile touches; `rows()` are
    the changed ones to write back."""

    def __init__(self, state: StateStore, load_records: LoadRecords, extractor_id: str) -> None:
        self.state = state
        self.load_records = load_records
        self.extractor_id = extractor_id
        self.journaled = state.pending("chunk")
        self.replaced = state.pending("record")
        self.stats = LedgerStats()
        self._names: _Kind[NameAggregate] = _Kind(NAMES, NameAggregate.from_json, name_aggregates)
        self._pairs: _Kind[PairAggregate] = _Kind(PAIRS, PairAggregate.from_json, pair_aggregates)
        self._dirty: dict[tuple[str, str], str | None] = {}
        self._snapshots: dict[str, str | None] = {}
        self._read: set[str] = set()

    # ------------------------------------------------------------------ aggregates
    def names(self, support: Mapping[str, set[str]]) -> dict[str, NameAggregate]:
        """Aggregates of the name keys in `support` (key -> its live chunk ids) that have chunks."""
        return self._current(self._names, support)

    def pairs(self, support: Mapping[str, set[str]]) -> dict[str, PairAggregate]:
        """Aggregates of the name pairs in `support` (relation key -> live chunk ids) that have chunks."""
        return self._current(self._pairs, support)

    def records(self, chunk_ids: set[str]) -> dict[str, Extraction]:
        """The stored records of these chunks (counted in `stats`)."""
        records = self.load_records(chunk_ids) if chunk_ids else {}
        self._read |= records.keys()
        self.stats.records_read = len(self._read)
        return records

    def rebuilt_pairs(self, records: Mapping[str, Extraction], touching: Iterable[str]) -> dict[str, PairAggregate]:
        """Every pair with a name in `touching`, from `records`, which must hold all the
        live chunks of those names (so these aggregates are complete)."""
        hashes = self._text_hashes(set(records))
        built = pair_aggregates(records, text_hashes=hashes, touching=touching)
        for key, agg in built.items():
            self._keep(self._pairs, key, agg)
        return built

    def _current(self, kind: _Kind[A], support: Mapping[str, set[str]]) -> dict[str, A]:
        out: dict[str, A] = {}
        asked = [k for k in support if k not in kind.held]
        stored = self.state.get_aggregates(kind.tag, [k for k in asked if support[k]])
        todo: dict[str, set[str]] = {}  # key -> chunks whose records must be read
        base: dict[str, A] = {}
        removed: dict[str, set[str]] = {}  # key -> its chunks this update removed
        for key in asked:
            live = support[key]
            if not live:
                self._dirty[(kind.tag, key)] = None
                continue
            agg = self._parse(kind, stored.get(key))
            gone = self._gone(agg, live) if agg is not None else None
            if agg is not None and gone is not None:
                base[key] = agg
                todo[key] = live - agg.chunks.keys()
                if gone:
                    removed[key] = gone
            else:
                todo[key] = set(live)
        for key in self._unfold(kind, base, removed):  # could not: rebuilt instead
            del base[key]
            todo[key] = set(support[key])
        chunk_ids = set().union(*todo.values()) if todo else set()
        records = self.records(chunk_ids)
        hashes = self._text_hashes(chunk_ids)
        for key, chunks in todo.items():
            if key in base and not chunks and key not in removed:
                kind.held[key] = base[key]  # unchanged: nothing to write
                continue
            part = {c: records[c] for c in chunks if c in records}
            fresh = kind.build(part, [key], hashes).get(key) if part else None
            if key in base:
                agg = base[key]
                if fresh is not None:
                    agg.fold(fresh)
                self.stats.folded += 1
            elif fresh is not None:
                agg = fresh
                self.stats.rebuilt += 1
            else:  # the index names chunks whose records do not (a record replaced elsewhere)
                self._dirty[(kind.tag, key)] = None
                continue
            self._keep(kind, key, agg)
        for key in support:
            if key in kind.held and support[key]:
                out[key] = kind.held[key]
        return out

    def _gone(self, agg: NameAggregate | PairAggregate, live: set[str]) -> set[str] | None:
        """The chunks of `agg` this update removed, or None when `agg` cannot be brought up
        to date without reading every live chunk (see the module docstring)."""
        held = agg.chunks.keys()
        gone = held - live
        if (held & live & self.journaled) or not gone <= self.journaled or not (live - held) <= self.journaled:
            return None
        if any(h in self.replaced for h in agg.chunks.values()) or any(not agg.chunks[c] for c in gone):
            return None
        return gone

    def _unfold(self, kind: _Kind[A], base: Mapping[str, A], removed: Mapping[str, set[str]]) -> set[str]:
        """Takes the removed chunks' records (read by the text hash each aggregate holds:
        the chunks themselves are gone) out of their aggregates; returns the keys that
        could not be (a record missing, or counts the aggregate does not hold)."""
        wanted = {c: base[k].chunks[c] for k, gone in removed.items() for c in gone}
        stored = self.state.get_extractions(set(wanted.values()), self.extractor_id) if wanted else {}
        self._read |= {c for c, h in wanted.items() if h in stored}
        self.stats.records_read = len(self._read)
        failed = set()
        for key, gone in removed.items():
            agg = base[key]
            part = {c: stored[agg.chunks[c]] for c in gone if agg.chunks[c] in stored}
            taken = kind.build(part, [key], {c: agg.chunks[c] for c in gone}).get(key) if len(part) == len(gone) else None
            if taken is None or taken.chunks.keys() != gone or not agg.unfold(taken):  # type: ignore[arg-type]
                failed.add(key)
        return failed

    def _parse(self, kind: _Kind[A], row: str | None) -> A | None:
        if row is None:
            return None
        extractor, _, body = row.partition("\t")
        return kind.parse(body) if extractor == self.extractor_id and body else None

    def _keep(self, kind: _Kind[A], key: str, agg: A) -> None:
        kind.held[key] = agg
        self._dirty[(kind.tag, key)] = f"{self.extractor_id}\t{agg.to_json()}"

    def _text_hashes(self, chunk_ids: set[str]) -> dict[str, str]:
        return {c.id: c.text_hash for c in self.state.get_chunks(chunk_ids).values()} if chunk_ids else {}

    # ------------------------------------------------------------------ entities
    def snapshots(self, keys: Iterable[str]) -> dict[str, EntitySnapshot]:
        out = {}
        for key, row in self.state.get_aggregates(ENTITIES, keys).items():
            extractor, _, body = row.partition("\t")
            if extractor == self.extractor_id and body:
                raw = json.loads(body)
                out[key] = EntitySnapshot(tuple(raw["m"]), raw["name"])
        return out

    def record_snapshot(self, key: str, snapshot: EntitySnapshot | None) -> None:
        self._snapshots[key] = None if snapshot is None else (
            f"{self.extractor_id}\t" + json.dumps({"m": list(snapshot.members), "name": snapshot.name}, sort_keys=True)
        )

    # ------------------------------------------------------------------ writing back
    def rows(self) -> dict[tuple[str, str], str | None]:
        return {**self._dirty, **{(ENTITIES, k): v for k, v in self._snapshots.items()}}

    def save(self) -> None:
        """Writes the changed aggregates and entity snapshots in one transaction: call it
        once the graph and vectors hold what they were computed for."""
        self.state.put_aggregates(self.rows())
