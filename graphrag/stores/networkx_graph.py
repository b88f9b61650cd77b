"""The embedded GraphStore: an in-memory NetworkX graph saved to one JSON file.

Writes touch memory only; `flush()` (and `close()`) persist everything by writing a
temporary file next to the target, fsyncing it and renaming it over the old one, so a
crash leaves either the previous graph or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import networkx as nx

from graphrag.errors import StoreError
from graphrag.models import Alias, Chunk, DocumentRecord, Entity, Relation, normalize_name
from graphrag.stores.base import GraphStats
from graphrag.stores.entity_text_view import EntityTextView

FORMAT = "graphrag-networkx-graph"
FORMAT_VERSION = 1
DEFAULT_FILENAME = "graph.json"


def _by_weight(relation: Relation) -> tuple[float, str]:
    """Strongest first, ties by key: the order neighbors() and subgraph() promise."""
    return (-relation.weight, relation.key)


class NetworkXGraphStore:
    """Entities are nodes keyed by entity key; relations are undirected edges that carry
    their own key and the (source, target) pair as the indexer wrote it."""

    def __init__(self, path: str | Path | None) -> None:
        """`path`: the JSON file (a directory gets `graph.json` inside it); None keeps the
        graph in memory only."""
        if path is not None:
            path = Path(path)
            if path.is_dir():
                path = path / DEFAULT_FILENAME
        self.path: Path | None = path
        self._lock = threading.RLock()
        self.reload()

    def reload(self) -> None:
        """Reads the file again, dropping unflushed writes: another process (a flow, the
        CLI) may have written the workspace since this store was opened."""
        with self._lock:
            self._graph = nx.Graph()
            self._edge_of: dict[str, tuple[str, str]] = {}  # relation key -> node pair
            self._documents: dict[str, DocumentRecord] = {}
            self._chunks: dict[str, Chunk] = {}
            self._chunks_of: dict[str, set[str]] = {}  # document id -> chunk ids
            self._alias_of: dict[str, str] = {}  # alias name key -> entity key
            # Entities per type, kept as writes happen: stats() after every update must
            # not walk a 100k-entity graph.
            self._type_counts: Counter[str] = Counter()
            self._text_view: EntityTextView | None = None  # built on demand, dropped on entity writes
            self._dirty = False
            if self.path is not None and self.path.exists():
                self._load(self.path)

    # --- lexical layer

    def upsert_documents(self, documents: Sequence[DocumentRecord]) -> None:
        with self._lock:
            for document in documents:
                # DocumentRecord is mutable: keep our own copy so a caller changing its
                # record later does not silently change the graph.
                self._documents[document.id] = replace(document, timings=dict(document.timings))
            self._dirty |= bool(documents)

    def upsert_chunks(self, chunks: Sequence[Chunk]) -> None:
        with self._lock:
            for chunk in chunks:
                previous = self._chunks.get(chunk.id)
                if previous is not None and previous.document_id != chunk.document_id:
                    self._chunks_of[previous.document_id].discard(chunk.id)
                self._chunks[chunk.id] = chunk
                self._chunks_of.setdefault(chunk.document_id, set()).add(chunk.id)
            self._dirty |= bool(chunks)

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        with self._lock:
            for document_id in document_ids:
                self._dirty |= self._documents.pop(document_id, None) is not None
                for chunk_id in self._chunks_of.pop(document_id, set()):
                    del self._chunks[chunk_id]
                    self._dirty = True

    def iter_documents(self) -> Iterator[DocumentRecord]:
        with self._lock:
            documents = sorted(self._documents.values(), key=lambda d: d.id)
        for d in documents:
            yield replace(d, timings=dict(d.timings))

    def iter_chunks(self) -> Iterator[Chunk]:
        with self._lock:
            chunks = sorted(self._chunks.values(), key=lambda c: (c.document_id, c.order, c.id))
        yield from chunks

    # --- entities and relations

    def upsert_entities(self, entities: Sequence[Entity]) -> None:
        with self._lock:
            self._text_view = None
            for e in entities:
                self._forget_aliases(e.key)
                self._alias_of.update({normalize_name(a.name): e.key for a in e.aliases})
                if e.key in self._graph:
                    self._type_counts[self._graph.nodes[e.key]["type"]] -= 1
                self._type_counts[e.type] += 1
                # Sets every attribute: the indexer hands over the fully merged entity.
                self._graph.add_node(
                    e.key,
                    name=e.name,
                    type=e.type,
                    description=e.description,
                    source_ids=tuple(e.source_ids),
                    aliases=tuple((a.name, tuple(a.source_ids)) for a in e.aliases),
                )
            self._dirty |= bool(entities)

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        with self._lock:
            # Validate the whole batch first so a bad row leaves the graph untouched.
            holders: dict[frozenset[str], str] = {}  # node pair -> relation key
            for r in relations:
                missing = [k for k in (r.source, r.target) if k not in self._graph]
                if missing:
                    raise StoreError(
                        f"relation {r.key!r} refers to missing entities {missing}; "
                        "upsert the entities before their relations"
                    )
                pair = frozenset((r.source, r.target))
                holder = holders.get(pair)
                if holder is None and self._graph.has_edge(r.source, r.target):
                    holder = self._graph.edges[r.source, r.target]["key"]
                if holder is not None and holder != r.key:
                    # A simple graph has one edge per pair; two keys for it means the
                    # caller did not key relations by the sorted entity pair.
                    raise StoreError(
                        f"relations {holder!r} and {r.key!r} join the same two entities; "
                        "key relations with graphrag.models.relation_key(source, target)"
                    )
                holders[pair] = r.key
            for r in relations:
                old = self._edge_of.get(r.key)
                if old is not None and frozenset(old) != frozenset((r.source, r.target)):
                    self._graph.remove_edge(*old)
                self._graph.add_edge(
                    r.source,
                    r.target,
                    key=r.key,
                    source=r.source,
                    target=r.target,
                    description=r.description,
                    keywords=tuple(r.keywords),
                    weight=float(r.weight),
                    source_ids=tuple(r.source_ids),
                )
                self._edge_of[r.key] = (r.source, r.target)
            self._dirty |= bool(relations)

    def delete_entities(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._text_view = None
            for key in keys:
                if key not in self._graph:
                    continue
                for _, _, relation_key in self._graph.edges(key, data="key"):
                    self._edge_of.pop(relation_key, None)
                self._forget_aliases(key)
                self._type_counts[self._graph.nodes[key]["type"]] -= 1
                self._graph.remove_node(key)
                self._dirty = True

    def _forget_aliases(self, key: str) -> None:
        if key in self._graph:
            for name, _ in self._graph.nodes[key].get("aliases", ()):
                if self._alias_of.get(normalize_name(name)) == key:
                    del self._alias_of[normalize_name(name)]

    def find_entities(self, names: Iterable[str]) -> dict[str, Entity]:
        """Name key -> the entity that has it as its key or as one of its aliases."""
        with self._lock:
            found = {}
            for name in names:
                key = name if name in self._graph else self._alias_of.get(name)
                if key is not None and key in self._graph:
                    found[name] = self._entity(key)
            return found

    def delete_relations(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                pair = self._edge_of.pop(key, None)
                if pair is not None:
                    self._graph.remove_edge(*pair)
                    self._dirty = True

    def get_entities(self, keys: Iterable[str]) -> dict[str, Entity]:
        with self._lock:
            return {k: self._entity(k) for k in keys if k in self._graph}

    def get_relations(self, keys: Iterable[str]) -> dict[str, Relation]:
        with self._lock:
            return {k: self._relation(*self._edge_of[k]) for k in keys if k in self._edge_of}

    def degrees(self, keys: Iterable[str]) -> dict[str, int]:
        """Incident relations per existing entity (a self-loop counts once)."""
        with self._lock:
            # The graph's own dict of dicts (what networkx's algorithms read): `.adj[k]` builds a
            # view object per key, 7x slower over the 20k keys of an explorer page at 100k.
            adj = self._graph._adj
            return {k: len(adj[k]) for k in keys if k in adj}

    def neighbors(self, keys: Iterable[str]) -> dict[str, list[Relation]]:
        """Incident relations of each existing entity, strongest first then by key."""
        with self._lock:
            return {k: self._incident(k) for k in keys if k in self._graph}

    def neighbor_weights(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        with self._lock:
            adj = self._graph._adj  # see degrees()
            return {k: {o: a["weight"] for o, a in adj[k].items()} for k in keys if k in adj}

    def subgraph(
        self, keys: Iterable[str], depth: int = 1, limit: int = 500
    ) -> tuple[list[Entity], list[Relation]]:
        """Breadth-first from `keys`, visiting the strongest relations first, so when
        `limit` cuts the walk short the closest and best-connected entities are kept.
        Entities come in visiting order; relations are those among them, strongest first."""
        with self._lock:
            if limit <= 0:
                return [], []
            seen: dict[str, None] = {}
            for key in keys:
                if key in self._graph and len(seen) < limit:
                    seen.setdefault(key)
            frontier = list(seen)
            for _ in range(max(depth, 0)):
                next_frontier: list[str] = []
                for node in frontier:
                    if len(seen) >= limit:
                        break
                    for relation in self._incident(node):
                        other = relation.target if relation.source == node else relation.source
                        if other not in seen and len(seen) < limit:
                            seen[other] = None
                            next_frontier.append(other)
                frontier = next_frontier
            entities = [self._entity(k) for k in seen]
            relations = [self._relation(u, v) for u, v in self._pairs_among(seen)]
            relations.sort(key=_by_weight)
            return entities, relations

    def entity_text_view(self) -> EntityTextView:
        """Every entity's name, aliases and description laid out for substring search
        (the explorer's search); built once, until an entity changes."""
        with self._lock:
            if self._text_view is None:
                self._text_view = EntityTextView(
                    (k, a["name"], a["type"], a["description"], [name for name, _ in a.get("aliases", ())])
                    for k, a in self._graph.nodes(data=True)
                )
            return self._text_view

    def iter_entities(self) -> Iterator[Entity]:
        # Snapshot the keys so writes from another thread cannot break the iteration.
        with self._lock:
            keys = sorted(self._graph.nodes)
        for key in keys:
            with self._lock:
                if key not in self._graph:
                    continue
                entity = self._entity(key)
            yield entity

    def iter_relations(self) -> Iterator[Relation]:
        with self._lock:
            keys = sorted(self._edge_of)
        for key in keys:
            with self._lock:
                pair = self._edge_of.get(key)
                if pair is None:
                    continue
                relation = self._relation(*pair)
            yield relation

    def stats(self) -> GraphStats:
        with self._lock:
            return GraphStats(
                documents=len(self._documents),
                chunks=len(self._chunks),
                entities=self._graph.number_of_nodes(),
                relations=len(self._edge_of),
                entity_types={t: n for t, n in sorted(self._type_counts.items()) if n > 0},
            )

    def _recount_types(self) -> None:
        """After a bulk load that bypassed the upsert path."""
        self._text_view = None
        self._type_counts = Counter(t for _, t in self._graph.nodes(data="type"))

    def to_networkx(self) -> nx.Graph:
        """A read-only live view of the entity graph (for export, PageRank and the like);
        `nx.Graph(view)` makes a snapshot that later writes will not change."""
        return self._graph.copy(as_view=True)

    def _entity(self, key: str) -> Entity:
        a = self._graph.nodes[key]
        return Entity(
            key=key,
            name=a["name"],
            type=a["type"],
            description=a["description"],
            source_ids=a["source_ids"],
            aliases=tuple(Alias(name, tuple(ids)) for name, ids in a.get("aliases", ())),
        )

    def _relation(self, u: str, v: str) -> Relation:
        a = self._graph.edges[u, v]
        return Relation(
            key=a["key"],
            source=a["source"],
            target=a["target"],
            description=a["description"],
            keywords=a["keywords"],
            weight=a["weight"],
            source_ids=a["source_ids"],
        )

    def _pairs_among(self, keys: dict[str, None]) -> set[tuple[str, str]]:
        """The node pairs joined by an edge within `keys`; a hub's adjacency is probed with
        the few keys rather than walked (nx's subgraph view filters all of it)."""
        adj = self._graph._adj  # see degrees()
        pairs: set[tuple[str, str]] = set()
        for u in keys:
            nbrs = adj[u]
            others = [v for v in keys if v in nbrs] if len(nbrs) > len(keys) else [v for v in nbrs if v in keys]
            pairs.update((u, v) if u <= v else (v, u) for v in others)
        return pairs

    def _incident(self, key: str) -> list[Relation]:
        relations = [self._relation(key, other) for other in self._graph.adj[key]]
        relations.sort(key=_by_weight)
        return relations

    # --- persistence

    def flush(self) -> None:
        with self._lock:
            if self.path is None or not self._dirty:
                return
            payload = json.dumps(self._snapshot(), ensure_ascii=False, separators=(",", ":"))
            _write_atomically(self.path, payload.encode("utf-8"))
            self._dirty = False

    def note_changed(self, kind: str, keys: Iterable[str]) -> None:
        """Nothing to do: this store keeps no change log; readers load it whole."""

    def close(self) -> None:
        self.flush()

    def _snapshot(self) -> dict[str, Any]:
        # Built straight from the attribute dicts: dataclasses.asdict deep-copies and was
        # 80% of a flush. Sorted so an unchanged graph writes an identical file.
        graph = self._graph
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "documents": [_fields(d) for d in self.iter_documents()],
            "chunks": [_fields(c) for c in self.iter_chunks()],
            "entities": [{"key": k, **graph.nodes[k]} for k in sorted(graph.nodes)],
            "relations": [graph.edges[self._edge_of[k]] for k in sorted(self._edge_of)],
        }

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a graphrag graph file")
            if data.get("version") != FORMAT_VERSION:
                raise StoreError(
                    f"{path} has graph format v{data.get('version')}; this graphrag reads "
                    f"v{FORMAT_VERSION}: upgrade graphrag or re-index into a new workspace"
                )
            self.upsert_documents([DocumentRecord(**d) for d in data["documents"]])
            self.upsert_chunks([Chunk(**c) for c in data["chunks"]])
            # The file is our own output: skip the per-row checks of the upsert path.
            for e in data["entities"]:
                self._graph.add_node(
                    e["key"],
                    name=e["name"],
                    type=e["type"],
                    description=e["description"],
                    source_ids=tuple(e["source_ids"]),
                    aliases=tuple((name, tuple(ids)) for name, ids in e.get("aliases", ())),
                )
                self._alias_of.update({normalize_name(name): e["key"] for name, _ in e.get("aliases", ())})
            for r in data["relations"]:
                if r["source"] not in self._graph or r["target"] not in self._graph:
                    raise ValueError(f"relation {r['key']!r} refers to a missing entity")
                self._graph.add_edge(
                    r["source"],
                    r["target"],
                    key=r["key"],
                    source=r["source"],
                    target=r["target"],
                    description=r["description"],
                    keywords=tuple(r["keywords"]),
                    weight=float(r["weight"]),
                    source_ids=tuple(r["source_ids"]),
                )
                self._edge_of[r["key"]] = (r["source"], r["target"])
            self._recount_types()
        except StoreError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StoreError(
                f"cannot read the graph file {path}: {e}; restore it from a backup or "
                "delete it and re-index"
            ) from e
        self._dirty = False


def _fields(record: Any) -> dict[str, Any]:
    """A dataclass as a shallow dict (its values are already JSON-ready)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp makes the file private (0600); keep the permissions the graph had.
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if os.name == "posix":
        # The rename itself lives in the directory; fsync it so it survives a power cut.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
