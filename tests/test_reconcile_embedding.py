"""Reconcile embeds off the event loop and only what changed (issue 14 item 2)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np

from graphrag.llm.embed import HashingEmbedder


class RecordingEmbedder:
    """The hashing embedder, recording every text it is asked for and whether it ran on a
    thread with a running event loop."""

    def __init__(self, dim: int) -> None:
        self.inner = HashingEmbedder(dim)
        self.model_id = self.inner.model_id
        self.dim = dim
        self.texts: list[str] = []
        self.on_loop: list[bool] = []
        self.threads: set[str] = set()

    def embed(self, texts: Sequence[str], *, progress=None) -> np.ndarray:
        try:
            asyncio.get_running_loop()
            self.on_loop.append(True)
        except RuntimeError:
            self.on_loop.append(False)
        self.threads.add(threading.current_thread().name)
        self.texts.extend(texts)
        if progress is not None:
            progress(len(texts), len(texts))
        return self.inner.embed(texts)


def test_reconcile_embeds_in_a_worker_thread(make_rag, write_docs, sample_texts) -> None:
    rag = make_rag()
    recorder = RecordingEmbedder(rag.settings.embedding_dim)
    rag.__dict__["embedder"] = recorder
    rag.index(write_docs(sample_texts)[:1])
    assert recorder.texts, "nothing was embedded"
    assert recorder.on_loop and not any(recorder.on_loop), "an embedding call blocked the event loop"


def test_an_update_embeds_only_the_texts_that_changed(make_rag, write_docs, sample_texts) -> None:
    rag = make_rag()
    recorder = RecordingEmbedder(rag.settings.embedding_dim)
    rag.__dict__["embedder"] = recorder
    paths = write_docs(sample_texts)
    rag.index(paths[:2])
    tables = ("chunks", "entities", "relations")
    stored = {row.text for t in tables for row in rag.vectors.get(t, rag.vectors.ids(t)).values()}
    recorder.texts.clear()
    rag.index(paths[2:3])
    assert recorder.texts, "the new document embedded nothing"
    resent = stored & set(recorder.texts)
    assert not resent, f"{len(resent)} texts already in the vector tables were embedded again"
    recorder.texts.clear()
    rag.index(paths[:3])  # nothing changed: nothing embedded
    assert recorder.texts == []


def test_unchanged_rebuilt_rows_are_not_written_again(make_rag, write_docs, sample_texts) -> None:
    """A rebuilt entity or relation equal to the stored one is neither rewritten in the
    graph nor re-embedded, even though the journal named it."""
    rag = make_rag()
    recorder = RecordingEmbedder(rag.settings.embedding_dim)
    rag.__dict__["embedder"] = recorder
    rag.index(write_docs(sample_texts)[:2])
    keys = {e.key for e in rag.graph.iter_entities()}
    relation_keys = {r.key for r in rag.graph.iter_relations()}
    rag.state.add_pending("entity", keys)
    rag.state.add_pending("relation", relation_keys)
    written: list[int] = []
    upsert = rag.graph.upsert_entities

    def counting(entities):
        written.append(len(entities))
        return upsert(entities)

    rag.graph.upsert_entities = counting  # type: ignore[method-assign]
    recorder.texts.clear()
    before = sorted(rag.graph.iter_entities(), key=lambda e: e.key)
    rag._indexer(None).reconcile()
    assert sorted(rag.graph.iter_entities(), key=lambda e: e.key) == before
    assert sum(written) == 0 and recorder.texts == []


def test_chunk_vectors_are_embedded_while_extraction_runs(make_rag, write_docs, sample_texts) -> None:
    """Chunk texts are known before extraction: they are embedded into the cache in a
    worker thread during extraction, and reconcile finds them there."""
    from graphrag.llm.embed.cache import CachingEmbedder
    from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder

    events: list[str] = []

    def responder(messages, purpose):
        events.append(purpose)
        return derived_extraction_responder(messages, purpose)

    rag = make_rag(chat=ScriptedChatModel(responder, latency=0.02))
    recorder = RecordingEmbedder(rag.settings.embedding_dim)
    original = recorder.embed

    def embed(texts, *, progress=None):
        events.append("embed")
        return original(texts, progress=progress)

    recorder.embed = embed  # type: ignore[method-assign]
    rag.__dict__["embedder"] = CachingEmbedder(recorder, rag.state)
    rag.index(write_docs(sample_texts))
    chunk_texts = {c.text for c in rag.graph.iter_chunks()}
    assert chunk_texts <= set(recorder.texts)
    assert len(recorder.texts) == len(set(recorder.texts)), "a text was embedded twice"
    last_extract = max(i for i, e in enumerate(events) if e == "extract")
    assert events.index("embed") < last_extract, "chunks were embedded only after extraction"


def test_composed_vectors_weight_each_distinct_segment_by_length() -> None:
    from graphrag.llm.embed.segments import aembed_segments, description_segments

    recorder = RecordingEmbedder(64)
    items = [["Ada", "She wrote the first program."], ["Ada", "Babbage", "She wrote the first program."], []]
    vectors = asyncio.run(aembed_segments(recorder, items))
    assert recorder.texts == ["Ada", "She wrote the first program.", "Babbage"], "a segment was embedded twice"
    ada, wrote, babbage = recorder.inner.embed(["Ada", "She wrote the first program.", "Babbage"])
    expected = 3 * ada + 28 * wrote
    np.testing.assert_allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-6)
    expected = 3 * ada + 7 * babbage + 28 * wrote
    np.testing.assert_allclose(vectors[1], expected / np.linalg.norm(expected), atol=1e-6)
    assert not vectors[2].any()
    assert description_segments(" one\n\ntwo \n") == ["one", "two"]


def test_entity_and_relation_vectors_embed_each_shared_part_once(make_rag, write_docs, sample_texts) -> None:
    """A fragment shared by an entity and its relations, and a name ending several
    relations, is sent to the model once; each row's vector is its parts' composition."""
    rag = make_rag(offline=True)
    recorder = RecordingEmbedder(rag.settings.embedding_dim)
    rag.__dict__["embedder"] = recorder
    rag.index(write_docs(sample_texts)[:2])
    assert len(recorder.texts) == len(set(recorder.texts)), "a text was embedded twice"
    whole_texts = sum(len(row.text) for t in ("entities", "relations") for row in rag.vectors.get(t, rag.vectors.ids(t)).values())
    embedded = sum(len(t) for t in recorder.texts if t not in {c.text for c in rag.graph.iter_chunks()})
    assert embedded < whole_texts, (embedded, whole_texts)  # the parts repeat: less is embedded
    keys, expected = composed_vectors(rag, recorder.inner)
    np.testing.assert_allclose(stored_vectors(rag, keys), expected, atol=1e-5)


def test_offline_extraction_and_embedding_overlap(make_rag, write_docs, sample_texts) -> None:
    """Offline, the parts of a batch's entity and relation vectors are embedded in a worker
    thread while the extractor works on the next batch, and reconcile finds them cached."""
    import time

    from graphrag.index_prefetch import record_segments
    from graphrag.llm.embed.cache import CachingEmbedder

    rag = make_rag(offline=True, llm_concurrency=1)  # batches of 8 chunks
    recorder = RecordingEmbedder(rag.settings.embedding_dim)
    first_batch: set[str] = set()
    state = {"batches": 0, "extracting": False, "overlapped": False, "segments_embedding": threading.Event()}
    original_embed = recorder.embed

    def embed(texts, *, progress=None):
        if first_batch & set(texts):
            state["segments_embedding"].set()
            state["overlapped"] |= state["extracting"] and state["batches"] > 1
            time.sleep(0.2)  # still embedding while the next batch is extracted
        return original_embed(texts, progress=progress)

    recorder.embed = embed  # type: ignore[method-assign]
    rag.__dict__["embedder"] = CachingEmbedder(recorder, rag.state)
    extract = rag.extractor.extract

    async def slow_extract(chunks):
        state["batches"] += 1
        state["extracting"] = True
        if state["batches"] > 1:  # give the worker its chance, without depending on it
            for _ in range(100):
                if state["segments_embedding"].is_set():
                    break
                await asyncio.sleep(0.05)
        result = await extract(chunks)
        state["extracting"] = False
        if state["batches"] == 1:
            first_batch.update(s for r in result.values() if not isinstance(r, Exception) for s in record_segments(r))
        return result

    rag.extractor.extract = slow_extract  # type: ignore[method-assign]
    rag.index(write_docs(sample_texts))
    assert state["batches"] > 1
    assert state["overlapped"], "the first batch's vector parts were not embedded while later chunks were extracted"
    assert len(recorder.texts) == len(set(recorder.texts)), "a text was embedded twice"


def test_a_workspace_of_whole_text_vectors_is_re_embedded_once(make_rag, write_docs, sample_texts) -> None:
    """Rows embedded before vectors were composed of segments are all re-embedded at the
    next reconcile (a table never mixes the two), and only once."""
    from graphrag.reconcile import VECTOR_COMPOSITION, VECTOR_COMPOSITION_KEY
    from graphrag.stores.base import VectorRow

    rag = make_rag()
    recorder = RecordingEmbedder(rag.settings.embedding_dim)
    rag.__dict__["embedder"] = recorder
    paths = write_docs(sample_texts)
    rag.index(paths[:2])
    composed = {t: rag.vectors.get(t, rag.vectors.ids(t)) for t in ("entities", "relations")}
    for table, rows in composed.items():  # as an older version left them: whole texts, no marker
        whole = recorder.inner.embed([r.text for r in rows.values()])
        rag.vectors.upsert(table, [VectorRow(r.id, v, r.text, r.metadata) for r, v in zip(rows.values(), whole)])
    rag.state.cache_put(VECTOR_COMPOSITION_KEY, "")
    rag.index(paths[:3])
    assert rag.state.cache_get(VECTOR_COMPOSITION_KEY) == VECTOR_COMPOSITION
    keys, expected = composed_vectors(rag, recorder.inner)
    assert set(composed["entities"]) | set(composed["relations"]) <= set(keys)
    np.testing.assert_allclose(stored_vectors(rag, keys), expected, atol=1e-5)
    recorder.texts.clear()
    rag.index(paths[:3])
    assert recorder.texts == []


def composed_vectors(rag, embedder) -> tuple[list[str], np.ndarray]:
    """(entity keys then relation keys of the graph, their vectors composed of segments)."""
    from graphrag.llm.embed.segments import compose, distinct_segments
    from graphrag.reconcile import entity_vector_segments, relation_vector_segments

    entities = list(rag.graph.iter_entities())
    relations = list(rag.graph.iter_relations())
    names = {e.key: e.name for e in entities}
    parts = [entity_vector_segments(e) for e in entities] + [relation_vector_segments(r, names) for r in relations]
    texts = distinct_segments(parts)
    vectors = compose(parts, dict(zip(texts, embedder.embed(texts))), rag.settings.embedding_dim)
    return [e.key for e in entities] + [r.key for r in relations], vectors


def stored_vectors(rag, keys: list[str]) -> np.ndarray:
    rows = {**rag.vectors.get("entities", keys), **rag.vectors.get("relations", keys)}
    return np.stack([rows[k].vector for k in keys])


def test_prefetch_guesses_an_entity_text_only_at_its_first_mention() -> None:
    """A name met again will have several fragments: its single-fragment text is not
    embedded ahead again (it would be wasted), while relation parts still are."""
    from graphrag.index_prefetch import record_segments
    from graphrag.models import ExtractedEntity, ExtractedRelation, Extraction

    first = Extraction(entities=[ExtractedEntity(name="Ada", description="Ada wrote it.")])
    again = Extraction(
        entities=[ExtractedEntity(name="ada", description="Ada met Babbage.")],
        relations=[ExtractedRelation(source="Ada", target="Babbage", keywords=["meet"], description="Ada met Babbage.")],
    )
    seen: set[str] = set()
    assert record_segments(first, seen) == ["Ada\nAda wrote it."]
    assert record_segments(again, seen) == ["meet", "Ada", "Babbage", "Ada met Babbage."]
    assert record_segments(again) == ["ada\nAda met Babbage.", "meet", "Ada", "Babbage", "Ada met Babbage."]
