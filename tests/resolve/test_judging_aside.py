"""Name pairs for the chat model are judged beside the summaries, not before them: what a
verdict cannot change is summarized while the model judges, what it can waits for the
verdict, and the graph is the one judging first gives, with no call made twice, each row
embedded once, readers told once, and a kill anywhere finished by the next run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest

from graphrag.errors import LLMError
from graphrag.llm.base import ChatResult, Message
from graphrag.reconcile import GENERATION_KEY, Reconciler
from tests.fakes.chat import ScriptedChatModel, pair_verdict_responder
from tests.resolve.test_adjudication import DOCS, entity_of

MORE = {
    # Leeds, named again, has nothing to do with the Smiths: its summary needs no verdict.
    "D": "Kirkgate Market opened in Leeds in 1857. Kirkgate Market sold fish and cloth. "
         "Kirkgate Market burned in 1975. Kirkgate Market was rebuilt the next year.",
    # Deleting this one changes what the model is shown of John Smith: judged again.
    "E": "John Smith opened a stall at Kirkgate Market in Leeds. John Adam Smith met Mary Jones in Leeds.",
}


def subject(messages: Sequence[Message]) -> str:
    return messages[-1]["content"].split('"')[1]  # a summarize prompt quotes the name first


class Timed:
    """A chat model that notes when each call ran and what it was about."""

    def __init__(self, inner: ScriptedChatModel) -> None:
        self.inner = inner
        self.model = inner.model
        self.usage = inner.usage
        self.calls: list[tuple[str, str, float, float]] = []  # purpose, subject, start, end

    async def complete(self, messages: Sequence[Message], *, purpose: str, **params: Any) -> ChatResult:
        started = time.perf_counter()
        result = await self.inner.complete(messages, purpose=purpose, **params)
        about = subject(messages) if purpose == "summarize" else ""
        self.calls.append((purpose, about, started, time.perf_counter()))
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()

    def of(self, purpose: str) -> list[tuple[str, str, float, float]]:
        return [c for c in self.calls if c[0] == purpose]


def graph(rag) -> tuple[list, list]:
    entities = sorted((e.key, e.description, tuple(a.name for a in e.aliases), tuple(sorted(e.source_ids)))
                      for e in rag.graph.iter_entities())
    relations = sorted((r.key, r.description, r.weight) for r in rag.graph.iter_relations())
    return entities, relations


def assert_overlapped(chat: Timed) -> None:
    """Summaries of what no verdict touches started while the judge was still out; the
    Smiths' summaries only after its answer."""
    (judge,) = chat.of("resolve")
    summaries = chat.of("summarize")
    others = [s for s in summaries if "Smith" not in s[1]]
    assert others and all(s[2] < judge[3] for s in others)
    smiths = [s for s in summaries if "Smith" in s[1]]
    assert smiths and all(s[2] >= judge[3] for s in smiths)
    assert len({s[1] for s in summaries}) == len(summaries)  # none asked twice


def test_summaries_a_verdict_cannot_change_run_while_the_model_judges(make_rag, write_docs):
    chat = Timed(ScriptedChatModel(pair_verdict_responder, latency=0.3))
    rag = make_rag(chat=chat, summary_min_fragments=2)
    rag.index([str(p) for p in write_docs(DOCS | {"D": MORE["D"]})])
    assert_overlapped(chat)
    assert not rag.state.pending("entity") and not rag.state.pending("relation")
    owner = entity_of(rag)
    assert owner["john smith"] == owner["john adam smith"] != owner["john paul smith"]


def test_a_delete_judges_beside_its_summaries_and_ends_where_judging_first_does(make_rag, write_docs):
    paths = [str(p) for p in write_docs(DOCS | MORE)]
    reference = make_rag("reference", chat=ScriptedChatModel(pair_verdict_responder), summary_min_fragments=2)
    reference.index([p for p in paths if not p.endswith("E.txt")])

    chat = Timed(ScriptedChatModel(pair_verdict_responder, latency=0.3))
    rag = make_rag("ws", chat=chat, summary_min_fragments=2)
    rag.index(paths)
    chat.calls.clear()
    rag.delete([p for p in paths if p.endswith("E.txt")])
    assert_overlapped(chat)
    assert graph(rag) == graph(reference)
    assert not rag.state.pending("entity") and not rag.state.pending("relation")


def test_readers_are_told_once_and_each_row_is_embedded_once(make_rag, write_docs):
    chat = ScriptedChatModel(pair_verdict_responder)
    rag = make_rag(chat=chat, summary_min_fragments=2)
    generations: list[str] = []
    put = rag.state.cache_put
    rag.state.cache_put = lambda key, value: (generations.append(value) if key == GENERATION_KEY else None,
                                              put(key, value))[1]
    written: list[tuple[str, str]] = []
    upsert = rag.vectors.upsert
    rag.vectors.upsert = lambda table, rows: (written.extend((table, r.id) for r in rows), upsert(table, rows))[1]
    rag.index([str(p) for p in write_docs(DOCS | {"D": MORE["D"]})])
    assert len(generations) == 1  # not after the first pass, whose graph still waits for verdicts
    entities = [key for table, key in written if table == "entities"]
    assert {"john adam smith", "john paul smith"} <= set(entities)
    assert len(entities) == len(set(entities))  # a held entity embedded once, with its summary


def test_a_summary_the_model_failed_waits_for_the_next_run_not_the_second_pass(make_rag, write_docs):
    def responder(messages: Sequence[Message], purpose: str) -> str:
        if purpose == "summarize" and subject(messages) == "Leeds":
            raise LLMError("endpoint down for this one")
        return pair_verdict_responder(messages, purpose)

    chat = ScriptedChatModel(responder)
    rag = make_rag(chat=chat, summary_min_fragments=2)
    rag.index([str(p) for p in write_docs(DOCS | {"D": MORE["D"]})])
    asked = [subject(m) for p, m in chat.requests if p == "summarize"]
    assert asked.count("Leeds") == 1
    assert "leeds" in rag.state.pending("entity")


def test_a_failed_background_call_is_not_asked_again_in_the_same_run(make_settings, write_docs):
    from tests.fakes.openai_server import FakeOpenAIServer, Reply
    from tests.resolve.test_adjudication import ResolveFaults, http_rag, resolve_requests

    paths = [str(p) for p in write_docs(DOCS)]
    with FakeOpenAIServer(ResolveFaults(Reply.error(500, "boom"))) as server:
        rag = http_rag(make_settings, server)
        try:
            rag.index(paths)
            assert len(resolve_requests(server)) == 1  # the second pass took the failure, did not ask
            owner = entity_of(rag)
            assert owner["john smith"] not in (owner["john adam smith"], owner["john paul smith"])
            assert "john smith" in rag.state.pending("entity")
            rag.index(paths)  # the next run asks again
            assert len(resolve_requests(server)) == 2
            assert entity_of(rag)["john smith"] == entity_of(rag)["john adam smith"]
            assert not rag.state.pending("entity")
        finally:
            rag.close()


@pytest.mark.parametrize("stop", ["between the passes", "as the first pass clears the journal"])
def test_a_delete_stopped_in_its_reconcile_is_finished_by_the_next_run(make_rag, write_docs, monkeypatch, stop):
    paths = [str(p) for p in write_docs(DOCS | MORE)]
    kept = [p for p in paths if not p.endswith("E.txt")]
    reference = make_rag("reference", chat=ScriptedChatModel(pair_verdict_responder), summary_min_fragments=2)
    reference.index(kept)

    rag = make_rag("ws", chat=ScriptedChatModel(pair_verdict_responder), summary_min_fragments=2)
    rag.index(paths)
    first_pass = Reconciler._apass
    if stop == "between the passes":
        async def stopping(self, budget, defer, judging, only=None):
            if only is not None:
                raise KeyboardInterrupt  # as a kill would, after the first pass's writes
            return await first_pass(self, budget, defer, judging, only)

        monkeypatch.setattr(Reconciler, "_apass", stopping)
    else:
        clear = rag.state.clear_pending

        def clear_then_stop(kind: str, keys: set[str]) -> None:
            clear(kind, keys)
            if kind == "entity":
                raise KeyboardInterrupt  # killed right after the journal's entities were cleared

        monkeypatch.setattr(rag.state, "clear_pending", clear_then_stop)
    with pytest.raises(KeyboardInterrupt):
        rag.delete([p for p in paths if p.endswith("E.txt")])
    assert rag.state.pending("entity")  # the held names and the unsettled pairs' names
    monkeypatch.undo()
    rag.index(kept)  # a run reconciles the journal it finds first
    assert graph(rag) == graph(reference)
    assert not rag.state.pending("entity") and not rag.state.pending("relation")
