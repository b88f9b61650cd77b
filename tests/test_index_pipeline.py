"""Summaries pipelined with extraction (issue 14 item 3): documents whose chunks are all
extracted are reconciled while later chunks are still extracted; the graph it gives is the
graph the phase-by-phase run gives, and a crash in any round converges when run again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from graphrag.llm.base import ChatResult, Message
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder
from tests.test_invariants import snapshot

# One call in flight: extraction batches of 8 chunks, so the three documents (five chunks
# each at the tests' chunk size) take two batches and two reconcile rounds.
SERIAL = {"llm_concurrency": 1, "pipeline_summaries": True}


class OrderedChat(ScriptedChatModel):
    """Records the purpose of every call as it starts, and what else was in flight."""

    def __init__(self) -> None:
        super().__init__(derived_extraction_responder, latency=0.001)
        self.started: list[str] = []
        self.in_flight: dict[str, int] = {}
        self.overlaps: set[tuple[str, str]] = set()

    async def complete(self, messages: Sequence[Message], *, purpose: str, **params) -> ChatResult:  # type: ignore[override]
        self.started.append(purpose)
        self.overlaps.update((purpose, other) for other, n in self.in_flight.items() if n)
        self.in_flight[purpose] = self.in_flight.get(purpose, 0) + 1
        try:
            return await super().complete(messages, purpose=purpose, **params)
        finally:
            self.in_flight[purpose] -= 1


def _chunks(rag) -> int:
    return rag.stats()["chunks"]


FIRST = ["Marta", "Oren", "Pia", "Tomas", "Ilse", "Uwe", "Greta", "Anselm", "Lotte", "Bruno", "Vera", "Kasimir"]
LAST = ["Quill", "Vale", "Strand", "Reed", "Marr", "Lind", "Holm", "Brandt", "Falk", "Wendt", "Rask", "Sommer"]


def local_texts(n: int = 3) -> dict[str, str]:
    """`n` documents whose people appear in no other document (like independent news items
    or encyclopedia passages), each person in every sentence of its document."""
    places = ["harbour", "market", "mill", "library", "orchard", "chapel", "bridge", "school", "quay", "farm"]
    texts = {}
    for i in range(n):
        x, y = f"{FIRST[2 * i]} {LAST[2 * i]}", f"{FIRST[2 * i + 1]} {LAST[2 * i + 1]}"
        texts[f"D{i}"] = "\n\n".join(
            f"{x} met {y} near the old {places[k % 10]} in week {k}, and they talked about the "
            f"{places[(k * 3) % 10]} for {k + 2} hours."
            for k in range(40)
        )
    return texts


def _summaries(rag) -> int:
    return rag.usage.by_purpose["summarize"].calls


def test_summaries_start_before_the_last_chunk_is_extracted(make_rag, write_docs):
    paths = write_docs(local_texts())
    chat = OrderedChat()
    rag = make_rag(chat=chat, **SERIAL)
    report = rag.index(paths)
    assert report.documents_new == 3 and _chunks(rag) > 8, "the corpus must need two extraction batches"
    first_summary = chat.started.index("summarize")
    last_extraction = max(i for i, p in enumerate(chat.started) if p in ("extract", "glean"))
    assert first_summary < last_extraction
    assert rag.state.pending("entity") == set() and rag.state.pending("document") == set()
    assert {r.status for r in rag.status()} == {"processed"}


def test_summary_calls_overlap_extraction_calls(make_rag, write_docs):
    """With calls in flight together (the default concurrency), the first documents'
    summaries run alongside the later chunks' extraction, not after it."""
    paths = write_docs(local_texts())
    chat = OrderedChat()
    rag = make_rag(chat=chat, chunk_size=100, chunk_overlap=10, pipeline_summaries=True)  # > 16 chunks: 2 batches
    rag.index(paths)
    assert _chunks(rag) > 16
    assert {("summarize", "extract"), ("summarize", "glean")} & chat.overlaps or \
        {("extract", "summarize"), ("glean", "summarize")} & chat.overlaps


@pytest.mark.parametrize("policy", ["rebuild", "fold"])
def test_pipelined_graph_equals_the_phase_by_phase_graph(make_rag, write_docs, sample_texts, policy):
    paths = write_docs(sample_texts)
    pipelined = make_rag("pipelined", summary_policy=policy, **SERIAL)
    pipelined.index(paths)
    phased = make_rag("phased", summary_policy=policy, **{**SERIAL, "pipeline_summaries": False})
    phased.index(paths)
    # Word for word, also when folding: an entity a later round would touch waits for it.
    assert snapshot(pipelined) == snapshot(phased)


@pytest.mark.parametrize("corpus", ["shared names", "local names"])
def test_pipelining_makes_no_more_summary_calls(make_rag, write_docs, sample_texts, corpus):
    """An entity a chunk not yet extracted still mentions waits for the last round (the
    sample texts share their people), so no summary is made twice in one run."""
    paths = write_docs(sample_texts if corpus == "shared names" else local_texts())
    pipelined = make_rag("pipelined", **SERIAL)
    pipelined.index(paths)
    phased = make_rag("phased", **{**SERIAL, "pipeline_summaries": False})
    phased.index(paths)
    assert _summaries(pipelined) == _summaries(phased) > 0


def test_offline_indexing_is_not_pipelined(make_rag):
    assert not make_rag("offline", offline=True, pipeline_summaries=True).indexer().pipelines_summaries
    assert make_rag("llm", pipeline_summaries=True).indexer().pipelines_summaries
    assert not make_rag("off").indexer().pipelines_summaries  # the default


@pytest.mark.parametrize(("concurrency", "crash_round"), [(1, 1), (1, 2), (4, 1)])
def test_a_crash_in_any_round_converges_on_rerun(make_rag, write_docs, sample_texts, monkeypatch, concurrency, crash_round):
    """Word for word with the fold policy: the rerun reconciles the crashed run's journal in
    its first round, deferring what its documents still mention, as the clean run did."""
    from graphrag.indexer import Indexer

    paths = write_docs(sample_texts)
    settings = {"llm_concurrency": concurrency, "pipeline_summaries": True}
    crashed = make_rag("crashed", **settings)
    original = Indexer.areconcile
    rounds = 0

    async def crash_in_round_two(self, *args, **kwargs):
        nonlocal rounds
        rounds += 1
        if rounds == crash_round:
            raise KeyboardInterrupt("simulated crash")
        await original(self, *args, **kwargs)

    monkeypatch.setattr(Indexer, "areconcile", crash_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        crashed.index(paths)
    monkeypatch.setattr(Indexer, "areconcile", original)
    assert rounds == crash_round
    assert crashed.state.pending("entity") or crashed.state.pending("document"), "crashed too late"
    crashed.index(paths)

    clean = make_rag("clean", **settings)
    clean.index(paths)
    assert snapshot(crashed) == snapshot(clean)
    assert {r.status for r in crashed.status()} == {"processed"}


def test_a_failed_reconcile_round_stops_extraction(make_rag, write_docs, monkeypatch):
    """A round that fails ends the run with its error at the next batch instead of
    extracting everything for a run that cannot finish."""
    from graphrag.indexer import Indexer

    paths = write_docs(local_texts(6))
    whole = OrderedChat()
    make_rag("whole", chat=whole, **SERIAL).index(paths)
    needed = whole.started.count("extract")
    assert needed > 40, "the corpus must need six extraction batches"

    chat = OrderedChat()
    rag = make_rag(chat=chat, **SERIAL)

    async def fail(self, *args, **kwargs):
        await asyncio.sleep(0)
        raise RuntimeError("the graph store went away")

    monkeypatch.setattr(Indexer, "areconcile", fail)
    with pytest.raises(RuntimeError, match="went away"):
        rag.index(paths)
    assert chat.started.count("extract") < needed, "extraction ran on after the round failed"


def test_a_document_whose_extraction_failed_is_recorded_while_the_others_settle(make_rag, write_docs, sample_texts):
    def responder(messages, purpose):
        if purpose == "extract" and "Marley" in messages[-1]["content"]:
            raise RuntimeError("the model refused")
        return derived_extraction_responder(messages, purpose)

    paths = write_docs(sample_texts)
    rag = make_rag(chat=ScriptedChatModel(responder), chat_max_retries=0, **SERIAL)
    report = rag.index(paths)
    statuses = {r.source.rsplit("/", 1)[-1]: r.status for r in rag.status()}
    assert report.documents_failed == sum(1 for s in statuses.values() if s == "failed")
    assert "processed" in statuses.values()
    assert rag.state.pending("document") == set()


@pytest.mark.parametrize("pipelined", [False, True])
def test_the_next_extraction_batch_is_queued_while_one_drains(make_rag, write_docs, pipelined):
    """Two batches of chunks in flight: the calls the slowest chunks of one batch leave
    free go to the next batch instead of idling until the whole batch is done."""
    paths = write_docs(local_texts(3))
    chat = OrderedChat()
    rag = make_rag(chat=chat, **{**SERIAL, "pipeline_summaries": pipelined})
    rag.index(paths)
    assert _chunks(rag) > 8 * 2
    assert chat.started[:16] == ["extract"] * 16  # both batches' first calls before any glean
