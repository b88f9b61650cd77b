"""Name pairs for the chat model are judged beside the summaries, not before them: what a
verdict cannot change is summarized while the model judges, what it can waits for the
verdict, and the graph is the one judging first gives, with no call made twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from graphrag.llm.base import ChatResult, Message
from tests.fakes.chat import ScriptedChatModel, fenced_text, pair_verdict_responder
from tests.resolve.test_adjudication import DOCS, entity_of

# Leeds, named again here, has nothing to do with the Smiths: its summary needs no verdict.
MARKET = {
    "D": "Kirkgate Market opened in Leeds in 1857. Kirkgate Market sold fish and cloth. "
         "Kirkgate Market burned in 1975. Kirkgate Market was rebuilt the next year.",
}


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
        subject = ""
        if purpose == "summarize":
            subject = messages[-1]["content"].split('"')[1]  # the prompt quotes the name first
        self.calls.append((purpose, subject, started, time.perf_counter()))
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()

    def of(self, purpose: str) -> list[tuple[str, str, float, float]]:
        return [c for c in self.calls if c[0] == purpose]


def test_summaries_a_verdict_cannot_change_run_while_the_model_judges(make_rag, write_docs):
    chat = Timed(ScriptedChatModel(pair_verdict_responder, latency=0.2))
    rag = make_rag(chat=chat, summary_min_fragments=2)
    rag.index([str(p) for p in write_docs(DOCS | MARKET)])

    (judge,) = chat.of("resolve")
    summaries = chat.of("summarize")
    others = [s for s in summaries if "Smith" not in s[1]]
    assert others and all(s[2] < judge[3] for s in others)
    smiths = [s for s in summaries if "Smith" in s[1]]
    assert smiths and all(s[2] >= judge[3] for s in smiths)
    # No summary asked twice, nothing left journaled, and the verdicts applied.
    assert len({s[1] for s in summaries}) == len(summaries)
    assert not rag.state.pending("entity") and not rag.state.pending("relation")
    owner = entity_of(rag)
    assert owner["john smith"] == owner["john adam smith"] != owner["john paul smith"]


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


def test_a_run_stopped_between_the_two_passes_is_finished_by_the_next(make_rag, write_docs, monkeypatch):
    from graphrag.reconcile import Reconciler

    paths = [str(p) for p in write_docs(DOCS | MARKET)]
    reference = make_rag("reference", chat=ScriptedChatModel(pair_verdict_responder), summary_min_fragments=2)
    reference.index(paths)

    first_pass = Reconciler._apass
    passes: list[bool] = []

    async def stop_before_the_second(self, budget, defer, judging):
        if passes:
            raise KeyboardInterrupt  # as a kill would, after the first pass's writes
        passes.append(True)
        await first_pass(self, budget, defer, judging)

    monkeypatch.setattr(Reconciler, "_apass", stop_before_the_second)
    rag = make_rag("ws", chat=ScriptedChatModel(pair_verdict_responder), summary_min_fragments=2)
    try:
        rag.index(paths)
    except KeyboardInterrupt:
        pass
    assert rag.state.pending("entity")  # the held names and the unsettled pairs' names
    monkeypatch.setattr(Reconciler, "_apass", first_pass)
    rag.index(paths)

    def graph(r):
        entities = sorted((e.key, e.description, tuple(a.name for a in e.aliases)) for e in r.graph.iter_entities())
        relations = sorted((x.key, x.description, x.weight) for x in r.graph.iter_relations())
        return entities, relations

    assert graph(rag) == graph(reference)
    assert not rag.state.pending("entity") and not rag.state.pending("relation")
