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
