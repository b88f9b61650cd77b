"""Resolution inside reconcile: from the journaled name keys to the entities and relations
the graph must hold, the ones it must drop, and the names added to the journal.

The graph is keyed by entity (canonical) key; the state's chunk index by name key. A name
whose entity changed (merged, split, or a new canonical) makes its whole entity and every
relation of it be rebuilt from the stored records: never an extractor call.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from graphrag.merge import MergedEntity, MergedRelation, merge_entities, merge_relations, normalize_type
from graphrag.models import Extraction, normalize_name
from graphrag.resolve.adjudicate import Budget
from graphrag.resolve.names import PERSONAL_TITLES, type_family
from graphrag.resolve.resolver import EntityResolver
from graphrag.resolve.store import NameRecord
from graphrag.stores.base import GraphStore, StateStore

LoadRecords = Callable[[set[str]], dict[str, Extraction]]


@dataclass
class GraphChanges:
    entities: dict[str, MergedEntity] = field(default_factory=dict)
    relations: dict[str, MergedRelation] = field(default_factory=dict)
    gone_entities: set[str] = field(default_factory=set)
    gone_relations: set[str] = field(default_factory=set)
    journaled: set[str] = field(default_factory=set)  # name keys this step added to the journal
    unsettled: set[str] = field(default_factory=set)  # name keys to resolve again next run (model failed)


def name_records(records: Mapping[str, Extraction], support: Mapping[str, set[str]]) -> dict[str, NameRecord]:
    """What resolution compares of each name key in `support` (key -> its live chunks)."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    families: dict[str, set[str]] = defaultdict(set)
    for ext in records.values():
        for e in ext.entities:
            key = normalize_name(e.name)
            if key in support:
                spellings[key][e.name.strip()] += 1
                families[key].add(type_family(normalize_type(e.type)))
        for r in ext.relations:
            for name in (r.source, r.target):
                key = normalize_name(name)
                if key in support:
                    spellings[key][name.strip()] += 0  # a spelling, but no vote
    out = {}
    for key, chunks in support.items():
        if key.split()[0] in PERSONAL_TITLES and len(key.split()) > 1:
            families[key].add("person")  # "Old Marley", whatever the tagger thought
        ranked = sorted(spellings[key].items(), key=lambda kv: (-kv[1], kv[0])) or [(key, 0)]
        out[key] = NameRecord(key=key, name=ranked[0][0], families=tuple(sorted(families[key])), n_sources=len(chunks))
    return out


_CONTEXT_CHUNKS = 8  # chunks read per name for the passages the chat model is shown


def name_contexts(state: StateStore, load_records: LoadRecords, keys: set[str]) -> dict[str, list[str]]:
    """A few passages (the extractors' descriptions) that mention each name: the most
    frequent first, then by text, from the first chunks by id. A function of the name's live
    chunks alone, so it does not depend on the order they arrived in."""
    support = state.chunks_for_entities(keys)
    chosen = {k: sorted(c)[:_CONTEXT_CHUNKS] for k, c in support.items()}
    records = load_records(set().union(*chosen.values()) if chosen else set())
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for key, chunk_ids in chosen.items():
        for chunk_id in chunk_ids:
            ext = records.get(chunk_id)
            for e in ext.entities if ext else ():
                if normalize_name(e.name) == key and e.description.strip():
                    counts[key][" ".join(e.description.split())] += 1
    return {k: [t for t, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:2]] for k, c in counts.items()}


async def plan_graph_changes(
    *,
    state: StateStore,
    graph: GraphStore,
    resolver: EntityResolver | None,
    load_records: LoadRecords,
    entity_keys: set[str],
    relation_keys: set[str],
    budget: Budget | None = None,
) -> GraphChanges:
    changes = GraphChanges()
    if resolver is None:  # resolution off: every name key is its own entity
        support = state.chunks_for_entities(entity_keys)
        relation_support = state.chunks_for_relations(relation_keys)
        records = load_records(set().union(*support.values(), *relation_support.values()))
        changes.entities = merge_entities(records, keys=entity_keys)
        changes.relations = merge_relations(records, keys=relation_keys)
        changes.gone_entities = entity_keys - changes.entities.keys()
        changes.gone_relations = relation_keys - changes.relations.keys()
        return changes

    support = {k: c for k, c in state.chunks_for_entities(entity_keys).items() if c}
    records = load_records(set().union(*support.values()))
    live = name_records(records, support)

    def journal(keys: set[str]) -> None:
        extra = keys - entity_keys - changes.journaled
        if extra:
            state.add_pending("entity", extra)
            changes.journaled |= extra

    decided = await resolver.aupdate(
        live, entity_keys - live.keys(), journal,
        contexts=lambda keys: name_contexts(state, load_records, keys), budget=budget,
    )
    changes.unsettled = decided.unsettled
    affected = decided.affected | entity_keys
    canonicals = set(decided.canonical.values())
    members = resolver.members_of(canonicals)
    all_members = set().union(*members.values()) if members else set()

    member_support = state.chunks_for_entities(all_members)
    relation_support = state.chunks_for_relations(relation_keys)
    records = load_records(set().union(*member_support.values(), *relation_support.values()))
    surfaces = {normalize_name(n) for ext in records.values() for n in _names(ext)} - {""}
    mapping = resolver.canonical_of(surfaces)

    def canonical(key: str) -> str:
        return mapping.get(key, key)

    changes.entities = merge_entities(records, keys=canonicals, canonical=canonical)
    changes.relations = merge_relations(records, canonical=canonical, endpoints=canonicals)
    changes.gone_entities = affected - changes.entities.keys()
    touched = canonicals | changes.gone_entities
    existing = {r.key for rels in graph.neighbors(touched).values() for r in rels}
    changes.gone_relations = (existing | relation_keys) - changes.relations.keys()
    return changes


def _names(ext: Extraction) -> list[str]:
    return [e.name for e in ext.entities] + [n for r in ext.relations for n in (r.source, r.target)]
