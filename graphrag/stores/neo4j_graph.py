"""The production GraphStore: Neo4j, in the model the Neo4j Browser shows.

    (:Document {workspace, id, title, source, content_hash, status, ...})
    (:Document)-[:HAS_CHUNK]->(:Chunk {workspace, id, document_id, text, order, n_tokens})
    (:Chunk)-[:MENTIONS]->(:Entity)
    (:Entity:<TypeLabel> {workspace, key, name, type, description, source_ids, degree,
                          aliases, alias_sources, alias_text})
    (:Entity)-[:RELATED {workspace, key, description, keywords, weight, source_ids}]->(:Entity)

Every node and relation carries the `workspace` property, so several workspaces share one
database. Every query is parameterized (names are data, never query text); writes go in
batches of `batch_size` rows through `UNWIND $rows AS row MERGE ...`, each batch one
managed transaction that the driver retries on transient errors; entities and relations go
up to `write_concurrency` batches at a time, planned so that no two in flight lock one node
(graphrag/stores/neo4j_bulk_write.py); reads answer a whole list
of keys in one round trip. Semantics mirror NetworkXGraphStore (the same contract tests run
on both): relations are undirected (keyed by the sorted entity pair) but keep the
direction they were written with, and neighbors/subgraph order strongest first.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import neo4j
from neo4j import READ_ACCESS, GraphDatabase
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable

from graphrag.cypher import CypherResult
from graphrag.errors import StoreError
from graphrag.models import Chunk, DocumentRecord, Entity, Relation, normalize_name
from graphrag.stores import neo4j_queries as Q
from graphrag.stores.change_log import DEFAULT_FILENAME as CHANGE_LOG_FILENAME
from graphrag.stores.change_log import ChangeLog, Changes
from graphrag.stores.neo4j_bulk_write import plan_writes, write_plan
from graphrag.stores.neo4j_graph_reads import Neo4jGraphReads, _batches, _unique

if TYPE_CHECKING:
    from graphrag.settings import Settings

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "neo4j"
RESERVED_LABELS = frozenset({"Entity", "Document", "Chunk"})
_VALIDATE_PAGE = 10_000

# The driver also logs every notification on "neo4j.notifications" (to stderr when logging
# is not configured); run_read_cypher returns them in the result instead.
logging.getLogger("neo4j.notifications").addHandler(logging.NullHandler())
log = logging.getLogger(__name__)

_schema_lock = threading.Lock()
_schema_applied: set[tuple[str, str | None]] = set()


def type_label(entity_type: str) -> str:
    """The second label of an entity, from its type: letters and digits only, CamelCased
    (PERSON -> Person, "weird'type" -> WeirdType); never one of the model's own labels."""
    parts = re.findall(r"[^\W_]+", entity_type)
    label = "".join(p[:1].upper() + p[1:].lower() for p in parts)[:64] or "Unknown"
    if label[0].isdigit():
        label = "Type" + label
    if label in RESERVED_LABELS:
        label += "Type"
    return label


def schema_statements(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """The statements of schemas/neo4j/*.cypher in file order (';'-separated, `//` lines skipped)."""
    statements: list[str] = []
    for path in sorted(schema_dir.glob("*.cypher")):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("//")]
        statements.extend(s.strip() for s in "\n".join(lines).split(";") if s.strip())
    return statements


class Neo4jGraphStore(Neo4jGraphReads):
    """A GraphStore on a Neo4j server, scoped to one workspace (`namespace`)."""

    def __init__(
        self,
        uri: str,
        *,
        namespace: str = "default",
        auth: tuple[str, str] | None = None,
        database: str | None = None,
        batch_size: int = 1000,
        write_concurrency: int = 1,
        apply_schema: bool = True,
        driver: neo4j.Driver | None = None,
        change_log: ChangeLog | None = None,
    ) -> None:
        """`change_log`: where the keys this store writes are named for the processes that
        cache the graph (`changes_since`); without one they load everything again after
        every update."""
        self._log = change_log
        if not namespace:
            raise StoreError("the Neo4j graph namespace must not be empty; set GRAPHRAG_GRAPH_NAMESPACE")
        self.uri = uri
        self.namespace = namespace
        self.database = database
        self.batch_size = max(1, batch_size)
        self.write_concurrency = max(1, write_concurrency)
        self._owns_driver = driver is None
        try:
            self._driver = driver or GraphDatabase.driver(
                uri, auth=auth, notifications_min_severity="OFF", connection_timeout=15.0,
                max_transaction_retry_time=30.0,
            )
            self._driver.verify_connectivity()
        except (ServiceUnavailable, OSError) as e:
            self._close_driver()
            raise StoreError(
                f"cannot reach Neo4j at {uri}: {e}; start it (`docker compose up -d neo4j`) or fix NEO4J_URI"
            ) from e
        except (Neo4jError, DriverError, ValueError) as e:
            self._close_driver()
            raise StoreError(f"cannot connect to Neo4j at {uri}: {e}; check NEO4J_URI / NEO4J_USERNAME / "
                             "NEO4J_PASSWORD") from e
        if apply_schema:
            self.apply_schema()

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Neo4jGraphStore":
        if not settings.neo4j_uri:
            raise StoreError("the Neo4j graph store needs NEO4J_URI (e.g. bolt://localhost:7687)")
        password = settings.neo4j_password.get_secret_value() if settings.neo4j_password else None
        change_log = ChangeLog(settings.workspace / CHANGE_LOG_FILENAME)
        try:
            return cls(
                settings.neo4j_uri,
                namespace=settings.resolved_graph_namespace,
                auth=(settings.neo4j_username, password) if password is not None else None,
                database=settings.neo4j_database,
                batch_size=settings.neo4j_batch_size,
                write_concurrency=settings.neo4j_write_concurrency,
                change_log=change_log,
            )
        except BaseException:
            change_log.close()
            raise

    # --- plumbing

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except ServiceUnavailable as e:
            raise StoreError(f"Neo4j at {self.uri} became unreachable while {action}: {e}; "
                             "check the server and run the command again (writes are idempotent)") from e
        except Neo4jError as e:
            raise StoreError(f"Neo4j refused {action}: {e.code}: {e.message}") from e
        except DriverError as e:
            raise StoreError(f"Neo4j driver error while {action}: {e}") from e

    def _session(self, **config: Any) -> neo4j.Session:
        return self._driver.session(database=self.database, **config)

    def _read(self, query: str, action: str, **params: Any) -> list[neo4j.Record]:
        def work(tx: neo4j.ManagedTransaction) -> list[neo4j.Record]:
            return list(tx.run(query, params, ws=self.namespace))

        with self._errors(action), self._session(default_access_mode=READ_ACCESS) as session:
            return session.execute_read(work)

    def _write(
        self,
        query: str,
        rows: Sequence[Any],
        action: str,
        lock_keys: Callable[[dict[str, Any]], Iterable[str]] | None = None,
        **params: Any,
    ) -> None:
        """`rows` in batches of batch_size, each its own retried transaction (idempotent,
        so a batch that is retried or re-run after a crash changes nothing). With
        `lock_keys` (the keys of the nodes a row locks), the batches go in one query per step
        of a plan, up to write_concurrency at once, never two that lock one node."""
        if not rows:
            return

        def work(tx: neo4j.ManagedTransaction, batch: Sequence[Any]) -> None:
            tx.run(query, params, rows=list(batch), ws=self.namespace).consume()

        if lock_keys is not None:
            plan = plan_writes(rows, row_key=lambda row: row["key"], lock_keys=lock_keys,
                               batch_size=self.batch_size, lanes=self.write_concurrency)
            with self._errors(action), self._session() as session:
                write_plan(session, query, plan, work, {**params, "ws": self.namespace}, self.write_concurrency)
            return
        if isinstance(rows[0], dict):
            # Key order: concurrent writers then lock nodes in the same order (no deadlock
            # ping-pong); the sort is stable, so of two rows with one key the last still wins.
            rows = sorted(rows, key=lambda row: row.get("key") or row.get("id") or "")
        elif isinstance(rows[0], str):
            rows = sorted(rows)
        with self._errors(action), self._session() as session:
            for batch in _batches(rows, self.batch_size):
                session.execute_write(work, batch)

    def apply_schema(self) -> None:
        """Creates the constraints and indexes of schemas/neo4j (IF NOT EXISTS: idempotent);
        once per server and database in a process."""
        marker = (self.uri, self.database)
        with _schema_lock:
            if marker in _schema_applied:
                return
            with self._errors("applying schemas/neo4j"), self._session() as session:
                for statement in schema_statements():
                    session.run(statement).consume()
            _schema_applied.add(marker)

    # --- lexical layer

    def upsert_documents(self, documents: Sequence[DocumentRecord]) -> None:
        rows = [
            {"workspace": self.namespace, "id": d.id, "source": d.source, "title": d.title,
             "content_hash": d.content_hash, "status": d.status, "error": d.error, "n_chunks": d.n_chunks,
             "ingested_at": d.ingested_at, "timings": json.dumps(d.timings, sort_keys=True)}
            for d in documents
        ]
        self._note("document", (d.id for d in documents))
        self._write(Q.UPSERT_DOCUMENTS, rows, "writing documents")

    def upsert_chunks(self, chunks: Sequence[Chunk]) -> None:
        rows = [
            {"workspace": self.namespace, "id": c.id, "document_id": c.document_id, "text": c.text,
             "order": c.order, "n_tokens": c.n_tokens}
            for c in chunks
        ]
        self._note("chunk", (c.id for c in chunks))
        self._write(Q.UPSERT_CHUNKS, rows, "writing chunks")

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        self._delete("document", document_ids, Q.DELETE_DOCUMENTS, along=("chunk", Q.CHUNKS_OF_DOCUMENTS))

    def iter_documents(self) -> Iterator[DocumentRecord]:
        documents = []
        for record in self._read(Q.ALL_DOCUMENTS, "reading documents"):
            d = record["d"]
            documents.append(DocumentRecord(
                id=d["id"], source=d["source"], title=d["title"], content_hash=d["content_hash"],
                status=d["status"], error=d.get("error"), n_chunks=d.get("n_chunks", 0),
                ingested_at=d.get("ingested_at"), timings=json.loads(d.get("timings") or "{}"),
            ))
        yield from sorted(documents, key=lambda d: d.id)

    def iter_chunks(self) -> Iterator[Chunk]:
        chunks = [
            Chunk(id=c["id"], document_id=c["document_id"], text=c["text"], order=c["order"], n_tokens=c["n_tokens"])
            for c in (r["c"] for r in self._read(Q.ALL_CHUNKS, "reading chunks"))
        ]
        yield from sorted(chunks, key=lambda c: (c.document_id, c.order, c.id))

    # --- entities and relations

    def upsert_entities(self, entities: Sequence[Entity]) -> None:
        rows = [
            {"key": e.key, "name": e.name, "type": e.type, "description": e.description,
             "source_ids": list(e.source_ids), "label": type_label(e.type),
             # Parallel lists (properties cannot nest) and one string for the full-text index.
             "aliases": [a.name for a in e.aliases], "alias_sources": [" ".join(a.source_ids) for a in e.aliases],
             "alias_text": " | ".join(a.name for a in e.aliases),
             "alias_keys": [normalize_name(a.name) for a in e.aliases]}
            for e in entities
        ]
        self._note("entity", (e.key for e in entities))
        self._write(Q.UPSERT_ENTITIES, rows, "writing entities", lock_keys=lambda row: row["source_ids"])

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        if not relations:
            return
        holders: dict[frozenset[str], str] = {}
        for r in relations:
            pair = frozenset((r.source, r.target))
            holder = holders.setdefault(pair, r.key)
            if holder != r.key:
                raise StoreError(
                    f"relations {holder!r} and {r.key!r} join the same two entities; "
                    "key relations with graphrag.models.relation_key(source, target)"
                )
        self._validate_relations(relations)
        rows = [
            {"key": r.key, "source": r.source, "target": r.target, "description": r.description,
             "keywords": list(r.keywords), "weight": float(r.weight), "source_ids": list(r.source_ids)}
            for r in relations
        ]
        self._note("relation", (r.key for r in relations))
        self._write(Q.UPSERT_RELATIONS, rows, "writing relations",
                    lock_keys=lambda row: (row["source"], row["target"]))

    def _validate_relations(self, relations: Sequence[Relation]) -> None:
        """The whole call is checked before anything is written, so a bad row leaves the
        graph untouched."""
        for page in _batches(relations, _VALIDATE_PAGE):
            keys = _unique(k for r in page for k in (r.source, r.target))
            rows = [{"key": r.key, "source": r.source, "target": r.target} for r in page]
            (record,) = self._read(Q.VALIDATE_RELATIONS, "checking relations", keys=keys, rows=rows)
            missing = sorted(record["missing"])
            if missing:
                bad = next(r.key for r in page if r.source in missing or r.target in missing)
                raise StoreError(
                    f"relation {bad!r} refers to missing entities {missing}; "
                    "upsert the entities before their relations"
                )
            for new, old in record["conflicts"]:
                raise StoreError(
                    f"relations {old!r} and {new!r} join the same two entities; "
                    "key relations with graphrag.models.relation_key(source, target)"
                )

    def delete_entities(self, keys: Iterable[str]) -> None:
        self._delete("entity", keys, Q.DELETE_ENTITIES, along=("relation", Q.RELATIONS_OF_ENTITIES))

    def delete_relations(self, keys: Iterable[str]) -> None:
        self._delete("relation", keys, Q.DELETE_RELATIONS)

    def _delete(self, kind: str, keys: Iterable[str], query: str, along: tuple[str, str] | None = None) -> None:
        """Deletes `keys` of `kind`, named in the change log first together with what the
        delete takes along (`along`: their kind, and a query for their keys)."""
        keys = _unique(keys)
        if self._log is not None and keys and along is not None:
            (record,) = self._read(along[1], f"reading the {along[0]}s a delete takes along", keys=keys)
            self._note(along[0], record["keys"])
        self._note(kind, keys)
        self._write(query, keys, f"deleting {kind}s")

    # --- the change log

    def _note(self, kind: str, keys: Iterable[str]) -> None:
        if self._log is not None:
            self._log.note(kind, keys)

    def note_changed(self, kind: str, keys: Iterable[str]) -> None:
        self._note(kind, keys)

    def change_mark(self) -> int | None:
        """The change-log sequence of the last flush (None without a log, or when it cannot
        be read: the reader then loads everything again)."""
        if self._log is None:
            return None
        try:
            return self._log.mark()
        except StoreError as e:
            log.warning("%s", e)
            return None

    def changes_since(self, mark: int) -> tuple[int, Changes] | None:
        """(the new mark, kind -> the keys written or deleted by the updates flushed after
        `mark`); None without a log, or when it no longer reaches back to `mark`."""
        return self._log.changes_since(mark) if self._log is not None else None

    # --- lifecycle

    def flush(self) -> None:
        """Every batch is committed when its write returns; the update's keys are published
        to readers now (the indexer flushes after the vectors are written)."""
        if self._log is not None:
            self._log.publish()

    def close(self) -> None:
        self._close_driver()
        if self._log is not None:
            self._log.close()

    def _close_driver(self) -> None:
        driver = getattr(self, "_driver", None)
        if driver is not None and self._owns_driver:
            driver.close()
        self._driver = None  # type: ignore[assignment]

    def drop_namespace(self) -> int:
        """Deletes every node (and so every relation) of this workspace; other workspaces in
        the database are untouched. Returns the number of nodes deleted."""
        deleted = 0
        if self._log is not None:  # before as well: a drop cut short still sends readers to reload
            self._log.reset()

        def work(tx: neo4j.ManagedTransaction, query: str) -> int:
            return tx.run(query, ws=self.namespace, limit=10_000).single(strict=True)["deleted"]

        with self._errors("dropping the workspace"), self._session() as session:
            for query in Q.DROP_NAMESPACE:
                while (n := session.execute_write(work, query)) > 0:
                    deleted += n
        if self._log is not None:
            self._log.reset()
        return deleted

    # --- user Cypher

    def run_read_cypher(
        self,
        query: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        row_limit: int = 1000,
        all_workspaces: bool = False,
    ) -> CypherResult:
        """Runs a user's query through the read-only guard (graphrag.cypher_guard: Neo4j's
        EXPLAIN decides), confined to this store's workspace unless `all_workspaces`, in a
        READ transaction with a server-side `timeout` in seconds. At most `row_limit` rows
        come back; `truncated` says whether more were there."""
        from graphrag.stores.neo4j_user_cypher import run_user_cypher

        return run_user_cypher(self, query, params, workspace=None if all_workspaces else self.namespace,
                               timeout=timeout, row_limit=row_limit)

