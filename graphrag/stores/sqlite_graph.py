"""The embedded GraphStore: the graph in SQLite tables, read through an in-memory NetworkX graph.

A process loads the tables once into the NetworkX graph that serves every read (neighbours,
subgraphs, PageRank). Writes change memory and remember which keys they touched; `flush()`
writes exactly those rows in one SQLite transaction (WAL), so an update costs what it
changed, not what the graph holds, and a kill at any moment leaves the previous flush or
this one, never a mix.

Every flush also appends the keys it wrote to a change log with increasing sequence
numbers. `reload()` in a long-lived process (the API after a flow indexed) reads only the
rows named since the sequence it last saw, and nothing at all when nothing changed.

A workspace written by an older graphrag keeps its graph in `graph.json`: the first open
imports it in one transaction and renames the file to `graph.json.imported`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from graphrag.errors import StoreError
from graphrag.models import Alias, Chunk, DocumentRecord, Entity, Relation, normalize_name
from graphrag.stores.change_log import CHANGE_LOG_KEEP, read_changes
from graphrag.stores.change_log import KINDS as _KINDS
from graphrag.stores.networkx_graph import DEFAULT_FILENAME as LEGACY_FILENAME
from graphrag.stores.networkx_graph import NetworkXGraphStore, _fields
from graphrag.stores.sqlite_common import immediate_transaction, migrate, open_wal, select_in

DEFAULT_FILENAME = "graph.sqlite"

# Entry i upgrades the schema from version i to i + 1 (`PRAGMA user_version`).
_MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS documents (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, document_id TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, description TEXT NOT NULL,
    source_ids TEXT NOT NULL, aliases TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS relations (
    key TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, description TEXT NOT NULL,
    keywords TEXT NOT NULL, weight REAL NOT NULL, source_ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (name TEXT PRIMARY KEY, entity TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_by_entity ON aliases (entity);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL);
""",
]


class SQLiteGraphStore(NetworkXGraphStore):
    """NetworkXGraphStore's in-memory graph and semantics, persisted row by row to SQLite."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        """`path`: the database file (a directory gets `graph.sqlite` inside it). A
        `graph.json` beside it from an older graphrag is imported on first open."""
        path = Path(path)
        if path.is_dir():
            path = path / DEFAULT_FILENAME
        self.db_path = path
        self._dirty_keys: dict[str, set[str]] = {kind: set() for kind in _KINDS}
        self._seq = 0  # the last change-log sequence this process's memory reflects
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = open_wal(path, busy_timeout_s, "graph store")
        try:
            # NORMAL in WAL mode survives any process crash; a power cut may undo the last
            # flushes, which the indexer's journal redoes.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            migrate(self._conn, path, _MIGRATIONS, "graph")
            super().__init__(None)  # calls reload(): loads the tables
            self._import_legacy_json(path.parent / LEGACY_FILENAME)
        except BaseException as e:
            self._conn.close()
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"cannot open the graph store {path}: {e}") from e
            raise

    # --- plumbing

    def _transaction(self) -> "AbstractContextManager[sqlite3.Connection]":
        return immediate_transaction(self._conn)

    def _last_seq(self) -> int:
        return self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0]

    # --- writes: memory now, the touched keys remembered for flush

    def upsert_documents(self, documents: Sequence[DocumentRecord]) -> None:
        with self._lock:
            super().upsert_documents(documents)
            self._dirty_keys["document"].update(d.id for d in documents)

    def upsert_chunks(self, chunks: Sequence[Chunk]) -> None:
        with self._lock:
            super().upsert_chunks(chunks)
            self._dirty_keys["chunk"].update(c.id for c in chunks)

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        with self._lock:
            document_ids = list(document_ids)
            for document_id in document_ids:
                self._dirty_keys["chunk"].update(self._chunks_of.get(document_id, ()))
            super().delete_documents(document_ids)
            self._dirty_keys["document"].update(document_ids)

    def upsert_entities(self, entities: Sequence[Entity]) -> None:
        with self._lock:
            super().upsert_entities(entities)
            self._dirty_keys["entity"].update(e.key for e in entities)

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        with self._lock:
            super().upsert_relations(relations)
            self._dirty_keys["relation"].update(r.key for r in relations)

    def delete_entities(self, keys: Iterable[str]) -> None:
        with self._lock:
            keys = [k for k in keys if k in self._graph]
            for key in keys:
                self._dirty_keys["relation"].update(k for _, _, k in self._graph.edges(key, data="key"))
            super().delete_entities(keys)
            self._dirty_keys["entity"].update(keys)

    def delete_relations(self, keys: Iterable[str]) -> None:
        with self._lock:
            keys = list(keys)
            super().delete_relations(keys)
            self._dirty_keys["relation"].update(keys)

    def note_changed(self, kind: str, keys: Iterable[str]) -> None:
        """The rows are written again, and so logged, by the next flush."""
        with self._lock:
            self._dirty_keys[kind].update(keys)

    # --- persistence

    def flush(self) -> None:
        """Writes the rows touched since the last flush, in one transaction."""
        with self._lock:
            if not any(self._dirty_keys.values()):
                return
            dirty = self._dirty_keys
            try:
                with self._transaction() as conn:
                    before = self._last_seq()
                    self._write_documents(conn, dirty["document"])
                    self._write_chunks(conn, dirty["chunk"])
                    self._write_entities(conn, dirty["entity"])
                    self._write_relations(conn, dirty["relation"])
                    conn.executemany(
                        "INSERT INTO changes (kind, key) VALUES (?, ?)",
                        ((kind, key) for kind in _KINDS for key in sorted(dirty[kind])),
                    )
                    after = self._last_seq()
                    conn.execute("DELETE FROM changes WHERE seq <= ?", (after - CHANGE_LOG_KEEP,))
            except sqlite3.Error as e:
                # Nothing was written (the transaction rolled back) and the keys stay dirty:
                # the next flush tries again.
                raise StoreError(f"cannot write the graph to {self.db_path}: {e}; check the disk and run again") from e
            # Another process's flush since ours leaves a gap we have not read: keep the
            # old mark so the next reload() reads it (re-reading our own rows is harmless).
            if before == self._seq:
                self._seq = after
            self._dirty_keys = {kind: set() for kind in _KINDS}
            self._dirty = False

    def _write_documents(self, conn: sqlite3.Connection, ids: set[str]) -> None:
        live = [i for i in ids if i in self._documents]
        conn.executemany(
            "INSERT OR REPLACE INTO documents (id, record) VALUES (?, ?)",
            ((i, _dumps(_fields(self._documents[i]))) for i in live),
        )
        conn.executemany("DELETE FROM documents WHERE id = ?", ((i,) for i in ids if i not in self._documents))

    def _write_chunks(self, conn: sqlite3.Connection, ids: set[str]) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO chunks (id, document_id, record) VALUES (?, ?, ?)",
            ((i, self._chunks[i].document_id, _dumps(_fields(self._chunks[i]))) for i in ids if i in self._chunks),
        )
        conn.executemany("DELETE FROM chunks WHERE id = ?", ((i,) for i in ids if i not in self._chunks))

    def _write_entities(self, conn: sqlite3.Connection, keys: set[str]) -> None:
        nodes = self._graph.nodes
        live = [k for k in keys if k in nodes]
        conn.executemany("DELETE FROM aliases WHERE entity = ?", ((k,) for k in keys))
        conn.executemany(
            "INSERT OR REPLACE INTO entities (key, name, type, description, source_ids, aliases) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (k, a["name"], a["type"], a["description"], _dumps(a["source_ids"]), _dumps(a.get("aliases", ())))
                for k in live
                for a in (nodes[k],)
            ),
        )
        conn.executemany(
            "INSERT OR REPLACE INTO aliases (name, entity) VALUES (?, ?)",
            ((normalize_name(name), k) for k in live for name, _ in nodes[k].get("aliases", ())),
        )
        conn.executemany("DELETE FROM entities WHERE key = ?", ((k,) for k in keys if k not in nodes))

    def _write_relations(self, conn: sqlite3.Connection, keys: set[str]) -> None:
        edges = self._graph.edges
        conn.executemany(
            "INSERT OR REPLACE INTO relations (key, source, target, description, keywords, weight, source_ids) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (k, a["source"], a["target"], a["description"], _dumps(a["keywords"]), a["weight"], _dumps(a["source_ids"]))
                for k in keys
                if k in self._edge_of
                for a in (edges[self._edge_of[k]],)
            ),
        )
        conn.executemany("DELETE FROM relations WHERE key = ?", ((k,) for k in keys if k not in self._edge_of))

    def reload(self) -> None:
        """Catches up with other processes' flushes: reads only the rows they changed, and
        nothing when nothing changed. Unflushed writes of this process are dropped (the
        whole graph is read again then)."""
        with self._lock:
            if getattr(self, "_dirty_keys", None) and any(self._dirty_keys.values()) or self._seq == 0:
                self._load_all()
                return
            last = self._last_seq()
            if last == self._seq:
                return
            changed = self._changes(self._seq, last)
            if changed is None:
                self._load_all()  # the log no longer reaches back to our mark
                return
            self._apply_changes(changed)
            self._seq = last

    def change_mark(self) -> int:
        """The change-log sequence this store's memory reflects (its last reload or flush):
        `changes_since` it names what memory took in after this call."""
        with self._lock:
            return self._seq

    def changes_since(self, mark: int) -> tuple[int, dict[str, set[str]]] | None:
        """(the new mark, kind -> the keys written or deleted after `mark`), up to what this
        store's memory reflects — not the log's end: a flush by another process that
        `reload()` has not read yet is named after that reload, when reads see it. None when
        the log no longer reaches back to `mark`. What caches the graph beside the store (the
        query engine's vectors and PPR graph) catches up on these instead of loading
        everything again."""
        with self._lock:
            last = self._seq
            changed = self._changes(mark, last) if mark <= last else None
            return None if changed is None else (last, changed)

    def _changes(self, mark: int, last: int) -> dict[str, set[str]] | None:
        if last == mark:
            return {kind: set() for kind in _KINDS}
        conn = self._conn
        conn.execute("BEGIN")  # one read: a concurrent flush's pruning cannot land between the two
        try:
            return read_changes(conn, mark, last)
        finally:
            conn.execute("COMMIT")

    def _apply_changes(self, changed: dict[str, set[str]]) -> None:
        """Makes memory equal the tables for these keys (the tables are the truth)."""
        base = NetworkXGraphStore  # memory only: these are not new writes to flush
        documents = self._rows("SELECT record FROM documents WHERE id {in_}", changed["document"])
        chunks = self._rows("SELECT record FROM chunks WHERE id {in_}", changed["chunk"])
        entities = self._rows("SELECT * FROM entities WHERE key {in_}", changed["entity"])
        relations = self._rows("SELECT * FROM relations WHERE key {in_}", changed["relation"])
        base.delete_relations(self, changed["relation"])
        live_entities = [_entity(row) for row in entities]
        base.delete_entities(self, changed["entity"] - {e.key for e in live_entities})
        base.upsert_entities(self, live_entities)
        base.upsert_relations(self, [_relation(row) for row in relations])
        live_chunks = [Chunk(**json.loads(row[0])) for row in chunks]
        gone_chunks = changed["chunk"] - {c.id for c in live_chunks}
        for chunk_id in gone_chunks:
            chunk = self._chunks.pop(chunk_id, None)
            if chunk is not None:
                self._chunks_of.get(chunk.document_id, set()).discard(chunk_id)
        live_documents = [DocumentRecord(**json.loads(row[0])) for row in documents]
        base.delete_documents(self, changed["document"] - {d.id for d in live_documents})
        base.upsert_documents(self, live_documents)
        base.upsert_chunks(self, live_chunks)
        self._dirty = False

    def _rows(self, sql: str, keys: set[str]) -> list[tuple[Any, ...]]:
        return list(select_in(self._conn, sql, sorted(keys)))

    def _load_all(self) -> None:
        NetworkXGraphStore.reload(self)  # empties memory (path is None: reads no file)
        self._dirty_keys = {kind: set() for kind in _KINDS}
        conn = self._conn
        # One read transaction: a concurrent flush cannot land between the tables.
        conn.execute("BEGIN")
        try:
            self._seq = self._last_seq()
            for (record,) in conn.execute("SELECT record FROM documents"):
                d = DocumentRecord(**json.loads(record))
                self._documents[d.id] = d
            for (record,) in conn.execute("SELECT record FROM chunks"):
                c = Chunk(**json.loads(record))
                self._chunks[c.id] = c
                self._chunks_of.setdefault(c.document_id, set()).add(c.id)
            graph = self._graph
            # The tables are our own output: skip the per-row checks of the upsert path.
            for key, name, type_, description, source_ids, aliases in conn.execute("SELECT * FROM entities"):
                pairs = tuple((n, tuple(ids)) for n, ids in json.loads(aliases))
                graph.add_node(key, name=name, type=type_, description=description,
                               source_ids=tuple(json.loads(source_ids)), aliases=pairs)
            self._alias_of.update(conn.execute("SELECT name, entity FROM aliases"))
            for key, source, target, description, keywords, weight, source_ids in conn.execute("SELECT * FROM relations"):
                graph.add_edge(source, target, key=key, source=source, target=target, description=description,
                               keywords=tuple(json.loads(keywords)), weight=float(weight),
                               source_ids=tuple(json.loads(source_ids)))
                self._edge_of[key] = (source, target)
        finally:
            conn.execute("COMMIT")
        self._recount_types()
        self._dirty = False

    def _import_legacy_json(self, legacy: Path) -> None:
        """Moves a `graph.json` workspace into the tables once; the file is kept, renamed."""
        if not legacy.is_file():
            return
        with self._lock:
            if self._graph.number_of_nodes() or self._documents:
                return  # the tables already hold a graph: that one wins
            old = NetworkXGraphStore(legacy)  # validates the format, raises a StoreError that says what to do
            self.upsert_documents(list(old.iter_documents()))
            self.upsert_chunks(list(old.iter_chunks()))
            self.upsert_entities(list(old.iter_entities()))
            self.upsert_relations(list(old.iter_relations()))
            self.flush()
            # A kill before this rename re-runs nothing: the tables are no longer empty.
            os.replace(legacy, legacy.with_name(legacy.name + ".imported"))

    def close(self) -> None:
        with self._lock:
            if getattr(self, "_closed", False):
                return
            self.flush()
            self._conn.close()
            self._closed = True


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _entity(row: tuple[Any, ...]) -> Entity:
    key, name, type_, description, source_ids, aliases = row
    return Entity(key=key, name=name, type=type_, description=description, source_ids=tuple(json.loads(source_ids)),
                  aliases=tuple(Alias(n, tuple(ids)) for n, ids in json.loads(aliases)))


def _relation(row: tuple[Any, ...]) -> Relation:
    key, source, target, description, keywords, weight, source_ids = row
    return Relation(key=key, source=source, target=target, description=description,
                    keywords=tuple(json.loads(keywords)), weight=float(weight),
                    source_ids=tuple(json.loads(source_ids)))
