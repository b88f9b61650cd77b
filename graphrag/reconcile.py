"""Reconcile: make the graph and vector stores agree with the state store for every key
the journal ("pending") names, rebuilding entities and relations from the stored
per-chunk extraction records (never by calling the extractor again)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphrag.chunk_keys import rekey_texts
from graphrag.index_report import ProgressCallback
from graphrag.llm.base import Embedder
from graphrag.llm.embed.common import aembed
from graphrag.llm.embed.segments import Segments, aembed_segments, description_segments
from graphrag.models import Entity, Extraction, Relation
from graphrag.resolve.adjudicate import Judging
from graphrag.resolve.apply import plan_graph_changes
from graphrag.stores.base import GraphStore, StateStore, VectorRow, VectorStore
from graphrag.summarize import DescriptionSummarizer

if TYPE_CHECKING:
    from graphrag.resolve.adjudicate import Budget
    from graphrag.resolve.resolver import EntityResolver

log = logging.getLogger(__name__)
Deferral = Callable[[Sequence[str]], bool]
GENERATION_KEY = "workspace:generation"
CHUNKS_TABLE = "chunks"
ENTITIES_TABLE = "entities"
RELATIONS_TABLE = "relations"
# How relation vectors are made (graphrag.llm.embed.segments), recorded per workspace: a
# workspace whose rows were embedded another way has them all re-embedded once, so a table
# never mixes two kinds of vectors. Absent: whole texts (before segments).
VECTOR_COMPOSITION_KEY = "vectors:composition"
VECTOR_COMPOSITION = "relation-segments-1"


def entity_vector_text(entity: Entity) -> str:
    also = f" ({', '.join(a.name for a in entity.aliases)})" if entity.aliases else ""
    return f"{entity.name}{also}\n{entity.description}".strip()


def relation_vector_text(relation: Relation, names: dict[str, str]) -> str:
    source = names.get(relation.source, relation.source)
    target = names.get(relation.target, relation.target)
    return f"{', '.join(relation.keywords)}\t{source} - {target}\n{relation.description}".strip()


def entity_vector_segments(entity: Entity) -> list[str]:
    """An entity's vector is its whole text's: composed of its name and fragments as
    separate parts, it lost ppr/mix recall on MuSiQue (README "Offline indexing speed"), and
    85 % of entities have one fragment, which leaves little to share anyway."""
    return [entity_vector_text(entity)]


def relation_vector_segments(relation: Relation, names: dict[str, str]) -> list[str]:
    """The parts a relation's vector is composed of: each keyword, the two end names, the
    description's fragments. Offline, one sentence is the fragment of every relation
    between the names it mentions (about five each on MuSiQue): embedded once, not five
    times in five texts that differ only in their first line."""
    return [
        *relation.keywords,
        names.get(relation.source, relation.source),
        names.get(relation.target, relation.target),
        *description_segments(relation.description),
    ]


@dataclass
class HeldBack:
    """What a reconcile's first pass leaves to its second: the names whose pairs the chat
    model is judging, and the entity and relation keys whose summaries wait for its verdicts."""

    entities: set[str] = field(default_factory=set)
    relations: set[str] = field(default_factory=set)


def journal_is_empty(state: StateStore) -> bool:
    return not any(state.pending(kind) for kind in ("document", "chunk", "record", "entity", "relation"))


class Reconciler:
    def __init__(
        self,
        *,
        state: StateStore,
        graph: GraphStore,
        vectors: VectorStore,
        embedder: Embedder,
        summarizer: DescriptionSummarizer,
        extractor_id: str,
        progress: ProgressCallback,
        resolver: "EntityResolver | None" = None,
    ) -> None:
        self.state = state
        self.graph = graph
        self.vectors = vectors
        self.embedder = embedder
        self.summarizer = summarizer
        self.extractor_id = extractor_id
        self.progress = progress
        self.resolver = resolver

    async def areconcile(self, budget: "Budget | None" = None, defer: "Deferral | None" = None) -> None:
        """Makes the graph and vectors agree with the state for every journaled key;
        `budget` bounds the tokens the chat model may spend adjudicating name pairs.
        `defer(names)` says whether an entity or relation of those names may still gain
        fragments in this run (chunks not yet extracted mention one): one that needs a
        summary then keeps its offline description and stays journaled for a later round.

        Name pairs for the chat model to judge are asked beside the summaries, not before
        them: the first pass writes everything a verdict cannot change and holds back (still
        journaled) the summaries of the entities it can; a second pass, once the verdicts are
        in, rebuilds those. A step whose judging used to take a round trip of its own before
        its first summary call (a delete; an add that brings a doubtful name) saves it."""
        judging = Judging()
        try:
            held = await self._apass(budget, defer, judging)
            if judging:
                judging.final = True
                await self._apass(budget, defer, judging, only=held)
        finally:
            await judging.close()

    async def _apass(
        self, budget: "Budget | None", defer: "Deferral | None", judging: Judging, only: HeldBack | None = None
    ) -> HeldBack:
        """One pass over the journal, or (`only`) over what the first pass held back: the
        rest of the journal (a summary the model failed, a key a pipelined round defers)
        waits for the next run or round, as without judging aside."""
        if only is None:
            replaced = self.state.pending("record")  # the ledger rebuilds what counted them
            if replaced:  # before the keys are read: re-keying journals the old and the new
                rekey_texts(self.state, self.extractor_id, replaced)
            doc_ids = self.state.pending("document")
            chunk_ids = self.state.pending("chunk")
            entity_keys = self.state.pending("entity")
            relation_keys = self.state.pending("relation")
            # A back-fill of name vectors (turned on for a workspace indexed without them) runs
            # even when nothing else is journaled: the names it brings together are re-resolved.
            vectors_due = self.resolver is not None and self.resolver.vectors_due()
        else:
            doc_ids, chunk_ids, replaced, vectors_due = set(), set(), set(), False
            entity_keys = self.state.pending("entity") & only.entities
            relation_keys = self.state.pending("relation") & only.relations
        if not (doc_ids or chunk_ids or entity_keys or relation_keys or vectors_due):
            self.state.clear_pending("record", replaced)  # a text no chunk has: nothing counted it
            return HeldBack()

        changes = await plan_graph_changes(
            state=self.state,
            graph=self.graph,
            resolver=self.resolver,
            load_records=self._records_for,
            entity_keys=entity_keys,
            relation_keys=relation_keys,
            extractor_id=self.extractor_id,
            budget=budget,
            judging=judging,
        )
        merged_entities, merged_relations = changes.entities, changes.relations

        total = len(merged_entities) + len(merged_relations)
        self.progress("describe", 0, total)
        names = {k: m.name for k, m in merged_entities.items()}
        missing_names = {m.source for m in merged_relations.values()} | {m.target for m in merged_relations.values()}
        missing_names -= names.keys()
        if missing_names:
            names.update({k: e.name for k, e in self.graph.get_entities(missing_names).items()})

        def later(keys: set[str], *involved: str) -> "Callable[[], bool] | None":
            if keys & changes.held:  # a verdict on its way may change it: summarized in the next pass
                return lambda: True
            return None if defer is None else lambda: defer(involved)

        # Entities and relations together: one pool of calls, no idle slots between two phases.
        outcomes = await asyncio.gather(
            *(
                self.summarizer.describe_checked(
                    m.name, m.fragments, key=f"entity:{m.key}",
                    defer=later({m.key}, m.name, *(a.name for a in m.aliases)),
                )
                for m in merged_entities.values()
            ),
            *(
                self.summarizer.describe_checked(
                    f"{names.get(m.source, m.source)} - {names.get(m.target, m.target)}", m.fragments,
                    key=f"relation:{m.key}",
                    defer=later({m.source, m.target}, names.get(m.source, m.source), names.get(m.target, m.target)),
                )
                for m in merged_relations.values()
            ),
        )
        entity_outcomes, relation_outcomes = outcomes[: len(merged_entities)], outcomes[len(merged_entities) :]
        entity_descriptions = [text for text, _ in entity_outcomes]
        relation_descriptions = [text for text, _ in relation_outcomes]
        # Keys whose summary the model could not give stay journaled: the next run asks again.
        unsettled_entities = {k for k, (_, final) in zip(merged_entities, entity_outcomes) if not final}
        unsettled_entities |= changes.unsettled  # name pairs the chat model could not judge yet
        unsettled_relations = {k for k, (_, final) in zip(merged_relations, relation_outcomes) if not final}
        held = HeldBack(
            entities=changes.judging | (unsettled_entities & changes.held),
            relations={k for k in unsettled_relations
                       if {merged_relations[k].source, merged_relations[k].target} & changes.held},
        )
        self.progress("describe", total, total)
        entities = [
            Entity(key=m.key, name=m.name, type=m.type, description=d, source_ids=m.source_ids, aliases=m.aliases)
            for m, d in zip(merged_entities.values(), entity_descriptions)
        ]
        relations = [
            Relation(
                key=m.key,
                source=m.source,
                target=m.target,
                description=d,
                keywords=m.keywords,
                weight=m.weight,
                source_ids=m.source_ids,
            )
            for m, d in zip(merged_relations.values(), relation_descriptions)
        ]
        gone_entities, gone_relations = changes.gone_entities, changes.gone_relations

        live_docs = {d: self.state.get_document(d) for d in doc_ids}
        live_chunks = self.state.get_chunks(chunk_ids)

        # A rebuilt row equal to the one the graph holds is not written again: adding a
        # document that names a hub rebuilds every relation of the hub, nearly all unchanged.
        graph_entities, graph_relations = changed_rows(self.graph, entities, relations)
        n_write = len(live_chunks) + len(entities) + len(relations)
        self.progress("write", 0, n_write)
        # Graph: parents before children on the way in, children before parents on the way out.
        self.graph.delete_relations(gone_relations)
        self.graph.delete_entities(gone_entities)
        self.graph.delete_documents([d for d, r in live_docs.items() if r is None])
        self.graph.upsert_documents([r for r in live_docs.values() if r is not None])
        self.graph.upsert_chunks(list(live_chunks.values()))
        self.graph.upsert_entities(graph_entities)
        self.graph.upsert_relations(graph_relations)
        self.progress("write", n_write, n_write)

        self.progress("embed", 0, n_write)
        await self._migrate_composition()
        self._delete_vectors(CHUNKS_TABLE, chunk_ids - live_chunks.keys())
        self._delete_vectors(ENTITIES_TABLE, gone_entities)
        self._delete_vectors(RELATIONS_TABLE, gone_relations)
        await self._upsert_vectors(
            CHUNKS_TABLE,
            [(c.id, c.text, {"document_id": c.document_id, "order": c.order}) for c in live_chunks.values()],
        )
        # What waits for a verdict is embedded once, in the second pass, with its summary.
        await self._upsert_composed(
            [
                (ENTITIES_TABLE, e.key, entity_vector_text(e), entity_metadata(e), entity_vector_segments(e))
                for e in entities if e.key not in held.entities
            ]
            + [
                (RELATIONS_TABLE, r.key, relation_vector_text(r, names), relation_metadata(r),
                 relation_vector_segments(r, names))
                for r in relations if r.key not in held.relations
            ]
        )
        self.progress("embed", n_write, n_write)
        self.graph.flush()
        if changes.ledger is not None:  # after the graph and vectors: see graphrag.merge_ledger
            changes.ledger.save()

        # Journaled again before the rest is cleared: a kill between the two never loses a key.
        self.state.add_pending("entity", unsettled_entities)
        self.state.add_pending("relation", unsettled_relations)
        self.state.clear_pending("relation", relation_keys - unsettled_relations)
        self.state.clear_pending("entity", (entity_keys | changes.journaled) - unsettled_entities)
        self.state.clear_pending("record", replaced)  # the aggregates that counted them are saved
        self.state.clear_pending("chunk", chunk_ids)
        self.state.clear_pending("document", doc_ids)
        # Long-lived readers in other processes (the API) compare this to reload: not
        # before the verdicts are in, so they never load a graph judging first never gives.
        if only is not None or not judging:
            self.state.cache_put(GENERATION_KEY, str(time.time_ns()))
        return held

    def _records_for(self, chunk_ids: set[str]) -> dict[str, Extraction]:
        chunks = self.state.get_chunks(chunk_ids)
        stored = self.state.get_extractions({c.text_hash for c in chunks.values()}, self.extractor_id)
        records: dict[str, Extraction] = {}
        for chunk_id, chunk in chunks.items():
            record = stored.get(chunk.text_hash)
            if record is None:
                # Only possible if the extractor changed since the chunk was indexed.
                raise RuntimeError(
                    f"no stored extraction for chunk {chunk_id} with extractor {self.extractor_id}; "
                    "the extractor settings changed since this workspace was indexed: re-index into a new workspace"
                )
            records[chunk_id] = record
        return records

    async def _upsert_composed(self, items: list[tuple[str, str, str, dict, Segments]]) -> None:
        """Entity and relation rows (table, id, text, metadata, segments) whose text or
        metadata differ from the stored ones, embedded as segments in one call: a fragment
        shared by an entity and its relations is embedded once."""
        changed: list[tuple[str, str, str, dict, Segments]] = []
        for table in (ENTITIES_TABLE, RELATIONS_TABLE):
            mine = [item for item in items if item[0] == table]
            stored = self.vectors.get(table, [item[1] for item in mine]) if mine else {}
            changed += [item for item in mine if not _same_row(stored.get(item[1]), item[2:4])]
        for table in (ENTITIES_TABLE, RELATIONS_TABLE):
            self.graph.note_changed(_KIND[table], [item[1] for item in changed if item[0] == table])
        await self._write_composed(changed)

    async def _write_composed(self, items: list[tuple[str, str, str, dict, Segments]]) -> None:
        if not items:
            return
        vectors = await aembed_segments(self.embedder, [item[4] for item in items])
        for table in (ENTITIES_TABLE, RELATIONS_TABLE):
            rows = [VectorRow(id=i, vector=v, text=t, metadata=m) for (tb, i, t, m, _), v in zip(items, vectors) if tb == table]
            if rows:
                self.vectors.upsert(table, rows)

    async def _migrate_composition(self) -> None:
        """Re-embeds every entity and relation row once when the workspace's rows were
        composed another way (an older version embedded whole texts): vectors of one table
        must be comparable with each other. A new workspace only records the composition."""
        if self.state.cache_get(VECTOR_COMPOSITION_KEY) == VECTOR_COMPOSITION:
            return
        if self.vectors.count(ENTITIES_TABLE) or self.vectors.count(RELATIONS_TABLE):
            entities = list(self.graph.iter_entities())
            names = {e.key: e.name for e in entities}
            items = [(ENTITIES_TABLE, e.key, entity_vector_text(e), entity_metadata(e), entity_vector_segments(e))
                     for e in entities]
            items += [
                (RELATIONS_TABLE, r.key, relation_vector_text(r, names), relation_metadata(r),
                 relation_vector_segments(r, names))
                for r in self.graph.iter_relations()
            ]
            log.warning("re-embedding the workspace's %d entity and relation vectors once, as segments (%s)",
                        len(items), VECTOR_COMPOSITION)
            await self._write_composed(items)
        self.state.cache_put(VECTOR_COMPOSITION_KEY, VECTOR_COMPOSITION)

    def _delete_vectors(self, table: str, ids: Collection[str]) -> None:
        self.graph.note_changed(_KIND[table], ids)
        self.vectors.delete(table, ids)

    async def _upsert_vectors(self, table: str, items: list[tuple[str, str, dict]]) -> None:
        """Embeds and writes the rows whose text or metadata differ from the stored ones,
        in a worker thread (aembed) so the event loop keeps serving model calls."""
        if not items:
            return
        stored = self.vectors.get(table, [i for i, _, _ in items])
        items = [item for item in items if not _same_row(stored.get(item[0]), item[1:])]
        if not items:
            return
        self.graph.note_changed(_KIND[table], [i for i, _, _ in items])
        vectors = await aembed(self.embedder, [text for _, text, _ in items])
        self.vectors.upsert(
            table, [VectorRow(id=i, vector=v, text=t, metadata=m) for (i, t, m), v in zip(items, vectors)]
        )


# The change-log kind of each vector table's keys.
_KIND = {CHUNKS_TABLE: "chunk", ENTITIES_TABLE: "entity", RELATIONS_TABLE: "relation"}


def _same_row(row: VectorRow | None, text_and_metadata: tuple[str, dict]) -> bool:
    text, metadata = text_and_metadata
    if row is None or row.text != text:
        return False
    return json.dumps(dict(row.metadata), sort_keys=True) == json.dumps(metadata, sort_keys=True)


def entity_metadata(entity: Entity) -> dict:
    return {"type": entity.type, "name": entity.name, "aliases": [a.name for a in entity.aliases]}


def relation_metadata(relation: Relation) -> dict:
    return {"source": relation.source, "target": relation.target}


def changed_rows(
    graph: GraphStore, entities: list[Entity], relations: list[Relation]
) -> tuple[list[Entity], list[Relation]]:
    """The entities and relations that differ from what `graph` holds under their keys."""
    held_entities = graph.get_entities([e.key for e in entities])
    held_relations = graph.get_relations([r.key for r in relations])
    return (
        [e for e in entities if held_entities.get(e.key) != e],
        [r for r in relations if held_relations.get(r.key) != r],
    )
