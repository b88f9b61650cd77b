"""Resolution inside reconcile: from the journaled name keys to the entities and relations
the graph must hold, the ones it must drop, and the names added to the journal.

The graph is keyed by entity (canonical) key; the state's chunk index by name key.
Entities and relations are combined from the aggregates of their names and name pairs,
which the merge ledger brings up to date (folding in the new chunks' records, or
rebuilding from all the stored ones): never an extractor call. An entity that resolution
re-formed (its names changed) or whose name changed has every relation of it rebuilt;
otherwise only the relations of the journaled name pairs change.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from graphrag.merge import MergedEntity, MergedRelation, combine_entities, combine_relations
from graphrag.merge_aggregates import NameAggregate, ranked
from graphrag.merge_ledger import EntitySnapshot, MergeLedger
from graphrag.models import Extraction, normalize_name, relation_key
from graphrag.resolve.adjudicate import Budget, Judging
from graphrag.resolve.evidence import name_evidence
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
    judging: set[str] = field(default_factory=set)  # name keys of pairs the chat model is judging aside
    held: set[str] = field(default_factory=set)  # entity keys a verdict still being given may change
    ledger: MergeLedger | None = None  # its save() goes after the graph and vector writes


def name_records_of(aggregates: Mapping[str, NameAggregate], support: Mapping[str, set[str]]) -> dict[str, NameRecord]:
    """What resolution compares of each name key (key -> its live chunks in `support`): its
    most voted spelling, the type families its chunks gave it, how many chunks name it."""
    out = {}
    for key, agg in aggregates.items():
        families = {type_family(t) for t in agg.types}
        if key.split()[0] in PERSONAL_TITLES and len(key.split()) > 1:
            families.add("person")
        name = (ranked(agg.votes) or (key,))[0]
        out[key] = NameRecord(key=key, name=name, families=tuple(sorted(families)), n_sources=len(support[key]))
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
    extractor_id: str,
    budget: Budget | None = None,
    judging: Judging | None = None,
) -> GraphChanges:
    ledger = MergeLedger(state, load_records, extractor_id)
    changes = GraphChanges(ledger=ledger)
    if resolver is None:  # resolution off: every name key is its own entity
        names = ledger.names(state.chunks_for_entities(entity_keys))
        changes.entities = combine_entities(names)
        # A spelling that became the most frequent renames its entity, and every relation of
        # it carries the name in its vector text: those are rebuilt too, as a fresh index has them.
        written = graph.get_entities(changes.entities.keys())
        renamed = {k for k, e in changes.entities.items() if k in written and written[k].name != e.name}
        if renamed:
            relation_keys = relation_keys | {r.key for rels in graph.neighbors(renamed).values() for r in rels}
        pairs = ledger.pairs(state.chunks_for_relations(relation_keys))
        changes.relations = combine_relations(pairs)
        changes.gone_entities = entity_keys - changes.entities.keys()
        changes.gone_relations = relation_keys - changes.relations.keys()
        return changes

    support = {k: c for k, c in state.chunks_for_entities(entity_keys).items() if c}
    live = name_records_of(ledger.names(support), support)

    def journal(keys: set[str]) -> None:
        extra = keys - entity_keys - changes.journaled
        if extra:
            state.add_pending("entity", extra)
            changes.journaled |= extra

    decided = await resolver.aupdate(
        live, entity_keys - live.keys(), journal,
        contexts=lambda keys: name_contexts(state, load_records, keys), budget=budget,
        evidence=lambda keys: name_evidence(state, load_records, keys), judging=judging,
    )
    changes.unsettled = decided.unsettled
    changes.judging = decided.judging
    changes.held = set(resolver.canonical_of(decided.judging).values())
    affected = decided.affected | entity_keys
    canonicals = set(decided.canonical.values())
    members = resolver.members_of(canonicals)
    member_support = state.chunks_for_entities(set().union(*members.values()) if members else set())
    names = ledger.names(member_support)
    owner = {m: c for c, ms in members.items() for m in ms}
    changes.entities = combine_entities(names, lambda k: owner.get(k, k), canonicals)
    changes.gone_entities = affected - changes.entities.keys()

    # Entities whose names or name changed: every relation of them is re-keyed or re-described.
    formed = {k: EntitySnapshot(tuple(sorted(m for m in members[k] if m in names)), e.name)
              for k, e in changes.entities.items()}
    held = ledger.snapshots(formed)
    reformed = {k for k, snap in formed.items() if held.get(k) != snap}
    for key in reformed:
        ledger.record_snapshot(key, formed[key])
    for key in changes.gone_entities:
        ledger.record_snapshot(key, None)

    changes.relations = _relations_of_reformed(resolver, ledger, reformed, members, member_support)
    more, considered = _relations_of_pairs(state, resolver, ledger, relation_keys, reformed)
    changes.relations.update(more)
    touched = reformed | changes.gone_entities
    existing = {r.key for rels in graph.neighbors(touched).values() for r in rels} if touched else set()
    changes.gone_relations = (existing | relation_keys | considered) - changes.relations.keys()
    return changes


def _relations_of_reformed(
    resolver: EntityResolver, ledger: MergeLedger, reformed: set[str],
    members: Mapping[str, set[str]], member_support: Mapping[str, set[str]],
) -> dict[str, MergedRelation]:
    """Every relation of the `reformed` entities, from the records of all their names' chunks."""
    if not reformed:
        return {}
    surfaces = set().union(*(members[k] for k in reformed))
    chunks = set().union(*(member_support.get(s, set()) for s in surfaces))
    pairs = ledger.rebuilt_pairs(ledger.records(chunks), surfaces)
    others = {n for p in pairs for n in p.split("|", 1)} - surfaces
    mapping = resolver.canonical_of(others)
    owner = {s: c for c in reformed for s in members[c]}

    def canonical(key: str) -> str:
        return owner.get(key) or mapping.get(key, key)

    return combine_relations(pairs, canonical, endpoints=reformed)


def _relations_of_pairs(
    state: StateStore, resolver: EntityResolver, ledger: MergeLedger, pair_keys: set[str], reformed: set[str],
) -> tuple[dict[str, MergedRelation], set[str]]:
    """The relations the journaled name pairs belong to, between entities not re-formed:
    each combined from the aggregates of every name pair between the two entities."""
    ends = {n for p in pair_keys for n in p.split("|", 1)}
    mapping = resolver.canonical_of(ends)
    wanted: set[tuple[str, str]] = set()
    for p in pair_keys:
        s, t = p.split("|", 1)
        a, b = sorted((mapping.get(s, s), mapping.get(t, t)))
        if a != b and a not in reformed and b not in reformed:
            wanted.add((a, b))
    if not wanted:
        return {}, set()
    members = resolver.members_of({x for ab in wanted for x in ab})
    candidates = {relation_key(s, t) for a, b in wanted for s in members[a] for t in members[b] if s != t}
    pairs = ledger.pairs(state.chunks_for_relations(candidates))
    owner = {m: c for c, ms in members.items() for m in ms}
    keys = {relation_key(a, b) for a, b in wanted}
    return combine_relations(pairs, lambda k: owner.get(k, k), keys=keys), keys
