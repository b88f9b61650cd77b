"""What a person decides about entities: merge two, split a name off one, review the
uncertain candidate pairs. Decisions are stored as data in the resolution store (they
survive re-indexing and deletes, and are applied whenever the names involved are resolved
again) and take effect at once through the rebuild journal."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from graphrag.errors import EntityNotFoundError, GraphRAGError
from graphrag.models import normalize_name
from graphrag.resolve.resolver import AMBIGUOUS, EntityResolver
from graphrag.stores.base import GraphStore, StateStore

REVIEW_FLOOR = AMBIGUOUS - 0.1  # pairs scored from here up to the threshold are worth a look


class EntityOperations:
    def __init__(
        self,
        resolver: EntityResolver,
        *,
        graph: GraphStore,
        state: StateStore,
        reconcile: Callable[[], None],
        lock: Callable[[], AbstractContextManager[Any]],
    ) -> None:
        self.resolver = resolver
        self.graph = graph
        self.state = state
        self._reconcile = reconcile
        self._lock = lock

    def _name_key(self, ref: str) -> str:
        key = normalize_name(ref)
        if not key or key not in self.resolver.store.names([key]):
            raise EntityNotFoundError(
                f"no entity has the name or alias {ref!r}; `graphrag query` or GET /graph/entities?q= finds names"
            )
        return key

    def entity(self, ref: str) -> dict[str, Any]:
        key = self._name_key(ref)
        canonical = self.resolver.canonical_of([key])[key]
        found = self.graph.get_entities([canonical]).get(canonical)
        if found is None:
            raise EntityNotFoundError(f"{ref!r} is a known name but its entity is not in the graph yet: run `graphrag index`")
        return {
            "key": found.key,
            "name": found.name,
            "type": found.type,
            "aliases": [{"name": a.name, "source_ids": list(a.source_ids)} for a in found.aliases],
        }

    def merge(self, a: str, b: str, note: str = "") -> dict[str, Any]:
        """Makes the entities of names `a` and `b` one (whatever their scores said)."""
        with self._lock():
            ka, kb = self._name_key(a), self._name_key(b)
            if ka == kb:
                raise GraphRAGError(f"{a!r} and {b!r} are the same name")
            self.resolver.store.put_decision(ka, kb, "merge", note)
            self._apply({ka, kb})
            return self.entity(ka)

    def split(self, entity: str, alias: str, note: str = "") -> dict[str, Any]:
        """Takes the name `alias` off the entity `entity` (key or any of its names) and keeps
        them apart from now on."""
        with self._lock():
            ke, ka = self._name_key(entity), self._name_key(alias)
            canonical = self.resolver.canonical_of([ke, ka])
            if canonical[ke] != canonical[ka]:
                raise GraphRAGError(f"{alias!r} is not a name of the entity {entity!r}; nothing to split")
            head = canonical[ke]
            if ka == head:
                raise GraphRAGError(
                    f"{alias!r} is the entity's own name; split one of its aliases off instead"
                )
            self.resolver.store.put_decision(head, ka, "split", note)
            if ke != head:
                self.resolver.store.put_decision(ke, ka, "split", note)
            self._apply({ke, ka, head})
            return {"entity": self.entity(head), "split": self.entity(ka)}

    def forget(self, a: str, b: str) -> bool:
        """Drops a manual decision between two names; resolution decides for them again."""
        with self._lock():
            ka, kb = normalize_name(a), normalize_name(b)
            removed = self.resolver.store.delete_decision(ka, kb)
            if removed:
                self._apply({k for k in (ka, kb) if k in self.resolver.store.names([ka, kb])})
            return removed

    def review(self, limit: int = 20) -> list[dict[str, Any]]:
        """Candidate pairs just under the merge threshold, most likely first, without the
        ones a person already decided: accept with `merge`, reject with `split`-like `keep_apart`."""
        if self.resolver.vectors_due():  # name vectors just turned on: their pairs first
            with self._lock():
                self._reconcile()
        store = self.resolver.store
        pairs = store.pairs_between(REVIEW_FLOOR, self.resolver.threshold, limit=limit * 4)
        decided = store.decisions_of({k for p in pairs for k in (p.a, p.b)})
        names = store.names({k for p in pairs for k in (p.a, p.b)})
        canonical = self.resolver.canonical_of({k for p in pairs for k in (p.a, p.b)})
        out = []
        for p in pairs:
            if (p.a, p.b) in decided or p.a not in names or p.b not in names:
                continue
            out.append({
                "a": p.a, "b": p.b, "a_name": names[p.a].name, "b_name": names[p.b].name,
                "score": p.score, "method": p.method, "evidence": p.evidence,
                "a_mentions": names[p.a].n_sources, "b_mentions": names[p.b].n_sources,
                "same_entity": canonical[p.a] == canonical[p.b],
            })
            if len(out) >= limit:
                break
        return out

    def keep_apart(self, a: str, b: str, note: str = "") -> None:
        """Rejects a candidate pair: the two names are never put in one entity."""
        with self._lock():
            ka, kb = self._name_key(a), self._name_key(b)
            self.resolver.store.put_decision(ka, kb, "split", note)
            self._apply({ka, kb})

    def decisions(self) -> list[dict[str, Any]]:
        return self.resolver.store.list_decisions()

    def _apply(self, keys: set[str]) -> None:
        # Through the journal: a crash before the rebuild is finished by the next run.
        self.state.add_pending("entity", keys)
        self._reconcile()
