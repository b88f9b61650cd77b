"""The chunk -> key index follows the extraction records: when the record of a text is
replaced (the state store journals its hash as pending "record", whoever wrote it), every
chunk with that text, in any document, is re-keyed from the record it now has.

Reconcile does this at the start of a pass, before anything is merged: a relation built
from a record must find its endpoints supported by the same chunks, or the graph refuses it
(a reextract killed between storing its records and re-keying its chunks left such a
journal behind, and every later command failed on it).
"""

from __future__ import annotations

from collections.abc import Iterable

from graphrag.merge import record_keys
from graphrag.stores.base import StateStore


def rekey_texts(state: StateStore, extractor_id: str, text_hashes: Iterable[str]) -> int:
    """Re-keys the chunks with these texts from their current records, the old and the new
    keys journaled first (a kill half-way leaves the "record" entries: the next pass does it
    again). Returns how many chunks it re-keyed. A text without a record under this
    extractor keeps its keys (the extractor changed since: reconcile says so when it reads)."""
    hashes = set(text_hashes)
    records = state.get_extractions(hashes, extractor_id)
    chunks = [c for c in state.chunks_with_texts(hashes) if c.text_hash in records]
    if not chunks:
        return 0
    old_entities, old_relations = state.keys_for_chunks([c.id for c in chunks])
    new_keys = {c.id: record_keys(records[c.text_hash]) for c in chunks}
    state.add_pending("entity", old_entities.union(*(ek for ek, _ in new_keys.values())))
    state.add_pending("relation", old_relations.union(*(rk for _, rk in new_keys.values())))
    for chunk_id, (entity_keys, relation_keys) in new_keys.items():
        state.set_chunk_keys(chunk_id, entity_keys, relation_keys)
    return len(chunks)
