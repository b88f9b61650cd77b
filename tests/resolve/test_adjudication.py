"""The chat model judges the name pairs string evidence leaves uncertain: batched, cached by
the pair and what the model was shown, counted under `resolve`, within the token budget; a
model that fails leaves the pair apart and asks again on the next run, never merges by
accident. Over real HTTP with the fake OpenAI-compatible server for the faults."""

from __future__ import annotations

import json

import pytest

from graphrag.core import GraphRAG
from tests.fakes.chat import ScriptedChatModel, pair_verdict_responder
from tests.fakes.openai_server import FakeOpenAIServer, Reply

# "John Smith" is shorter than two different men's names: uncertain with each. The passage
# that mentions him says he is also called Adam, and names John Paul Smith as someone else.
DOCS = {
    "A": "John Adam Smith founded a bakery in Leeds. John Adam Smith sold bread to the town.",
    "B": "John Paul Smith painted ships in Hull. John Paul Smith showed the paintings in York.",
    "C": "John Smith, whom his friends called Adam, sold bread to John Paul Smith every morning.",
}


def entity_of(rag: GraphRAG) -> dict[str, str]:
    """name key -> key of the entity carrying it."""
    owner = {}
    for e in rag.graph.iter_entities():
        owner[e.key] = e.key
        for a in e.aliases:
            owner[a.name.lower()] = e.key
    return owner


def judged(rag: GraphRAG) -> dict[tuple[str, str], str]:
    pairs = rag.resolver.store.pairs_of({"john smith"})
    return {(p.a, p.b): p.method for p in pairs}


def journal(rag: GraphRAG) -> set[str]:
    return rag.state.pending("entity")


def test_the_model_merges_what_it_judges_same_and_keeps_apart_what_it_judges_different(make_rag, write_docs):
    chat = ScriptedChatModel(pair_verdict_responder)
    rag = make_rag(chat=chat)
    rag.index([str(p) for p in write_docs(DOCS)])
    owner = entity_of(rag)
    assert owner["john smith"] == owner["john adam smith"]
    assert owner["john paul smith"] != owner["john adam smith"]
    assert judged(rag) == {("john adam smith", "john smith"): "llm-same", ("john paul smith", "john smith"): "llm-different"}
    # Both pairs in one call, counted under its purpose; nothing left to retry.
    assert chat.usage.by_purpose["resolve"].calls == 1
    assert not journal(rag)
    prompt = next(m for p, ms in chat.requests if p == "resolve" for m in ms)["content"]
    assert "whom his friends called Adam" in prompt and "<<<PAIRS" in prompt
    evidence = rag.resolver.store.pairs_of({"john smith"})[0].evidence
    assert evidence["adjudication"]["verdict"] == "same" and evidence["scored"].startswith("ambiguous")


def test_the_same_pair_with_the_same_evidence_costs_no_second_call(make_rag, write_docs):
    chat = ScriptedChatModel(pair_verdict_responder)
    rag = make_rag(chat=chat)
    rag.index([str(p) for p in write_docs(DOCS)])
    calls = chat.usage.by_purpose["resolve"].calls
    # Resolve the names again (as an edit elsewhere would): verdicts come from the cache.
    rag.state.add_pending("entity", {"john smith", "john adam smith", "john paul smith"})
    rag._indexer(None).reconcile()
    assert chat.usage.by_purpose["resolve"].calls == calls
    assert chat.usage.by_purpose["resolve"].cache_hits >= 2
    assert judged(rag)[("john adam smith", "john smith")] == "llm-same"


def test_a_person_overrules_the_model(make_rag, write_docs):
    rag = make_rag(chat=ScriptedChatModel(pair_verdict_responder))
    rag.index([str(p) for p in write_docs(DOCS)])
    rag.entities.split("John Adam Smith", "John Smith")
    owner = entity_of(rag)
    assert owner["john smith"] != owner["john adam smith"]
    rag.entities.merge("John Smith", "John Paul Smith")
    owner = entity_of(rag)
    assert owner["john smith"] == owner["john paul smith"]


def test_without_a_chat_model_uncertain_pairs_stay_apart(make_rag, write_docs):
    rag = make_rag(chat=ScriptedChatModel(pair_verdict_responder), resolution_llm=False)
    rag.index([str(p) for p in write_docs(DOCS)])
    owner = entity_of(rag)
    assert len({owner["john smith"], owner["john adam smith"], owner["john paul smith"]}) == 3
    assert "resolve" not in rag.usage.by_purpose


def test_over_the_token_budget_pairs_stay_apart_and_are_judged_on_the_next_run(make_rag, write_docs):
    paths = [str(p) for p in write_docs(DOCS)]
    first = make_rag("ws", chat=ScriptedChatModel(pair_verdict_responder), resolution_llm=False)
    first.index(paths)  # extractions stored; no adjudication yet
    first.close()
    chat = ScriptedChatModel(pair_verdict_responder)
    rag = make_rag("ws", chat=chat)
    rag.state.add_pending("entity", {"john smith"})  # resolve it again, now with the model
    report = rag.index(paths, max_tokens=10)
    assert chat.usage.by_purpose["resolve"].calls == 0
    owner = entity_of(rag)
    assert owner["john smith"] != owner["john adam smith"]
    pair = {(p.a, p.b): p for p in rag.resolver.store.pairs_of({"john smith"})}[("john adam smith", "john smith")]
    assert "token budget" in pair.evidence["adjudication"]
    assert "token budget" in report.budget["stopped"]
    assert "john smith" in journal(rag)
    rag.index(paths)  # no budget now
    owner = entity_of(rag)
    assert owner["john smith"] == owner["john adam smith"]
    assert chat.usage.by_purpose["resolve"].calls == 1
    assert not journal(rag)


# --- over HTTP, with faults


class ResolveFaults:
    """Plays `pair_verdict_responder`; the first answers to `resolve` prompts are the queued faults."""

    def __init__(self, *faults: Reply | str) -> None:
        self.faults = list(faults)

    def __call__(self, messages, purpose):
        if purpose == "resolve" and self.faults:
            return self.faults.pop(0)
        return pair_verdict_responder(messages, purpose)


def http_rag(make_settings, server: FakeOpenAIServer, **overrides) -> GraphRAG:
    settings = make_settings(
        extractor="llm", chat_base_url=server.base_url, chat_model="fake-model", **{"chat_max_retries": 0, **overrides}
    )
    return GraphRAG(settings)


def resolve_requests(server: FakeOpenAIServer) -> list:
    return [r for r in server.chat_requests if r.purpose == "resolve"]


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(("not json at all", "{\"verdicts\": [{\"pair\": 1,"), id="malformed-twice"),
        pytest.param((Reply.chat(""), Reply.chat("")), id="empty-twice"),
        pytest.param((Reply.error(429, "slow down"),), id="429-no-retries-left"),
        pytest.param((Reply.error(500, "boom"),), id="500"),
        pytest.param((json.dumps({"verdicts": []}), json.dumps({"verdicts": [{"pair": 9, "verdict": "same"}]})), id="no-verdicts"),
    ],
)
def test_a_failing_model_leaves_the_pair_apart_and_it_is_judged_again_next_run(make_settings, write_docs, faults):
    paths = [str(p) for p in write_docs(DOCS)]
    with FakeOpenAIServer(ResolveFaults(*faults)) as server:
        rag = http_rag(make_settings, server)
        try:
            rag.index(paths)
            owner = entity_of(rag)
            assert owner["john smith"] not in (owner["john adam smith"], owner["john paul smith"])
            assert {"john smith", "john adam smith", "john paul smith"} <= journal(rag)
            assert all("adjudication" in p.evidence for p in rag.resolver.store.pairs_of({"john smith"}))
            assert rag.usage.by_purpose["resolve"].failures >= 1 or "unusable" in str(
                rag.resolver.store.pairs_of({"john smith"})[0].evidence
            )
            asked = len(resolve_requests(server))
            rag.index(paths)  # the model answers now
            assert len(resolve_requests(server)) == asked + 1
            owner = entity_of(rag)
            assert owner["john smith"] == owner["john adam smith"] != owner["john paul smith"]
            assert not journal(rag)
        finally:
            rag.close()


def test_a_malformed_answer_is_asked_once_more(make_settings, write_docs):
    paths = [str(p) for p in write_docs(DOCS)]
    with FakeOpenAIServer(ResolveFaults("Sure! Here are my thoughts, no JSON.")) as server:
        rag = http_rag(make_settings, server)
        try:
            rag.index(paths)
            assert len(resolve_requests(server)) == 2
            owner = entity_of(rag)
            assert owner["john smith"] == owner["john adam smith"]
            assert not journal(rag)
        finally:
            rag.close()


def test_a_429_is_retried_by_the_client_and_then_judged(make_settings, write_docs):
    paths = [str(p) for p in write_docs(DOCS)]
    with FakeOpenAIServer(ResolveFaults(Reply.error(429, "slow down", headers={"Retry-After": "0"}))) as server:
        rag = http_rag(make_settings, server, chat_max_retries=2)
        try:
            rag.index(paths)
            owner = entity_of(rag)
            assert owner["john smith"] == owner["john adam smith"]
            assert rag.usage.by_purpose["resolve"].failures == 1
        finally:
            rag.close()


def test_pairs_are_batched(make_rag, write_docs):
    chat = ScriptedChatModel(pair_verdict_responder)
    rag = make_rag(chat=chat, resolution_llm_batch=1)
    rag.index([str(p) for p in write_docs(DOCS)])
    assert chat.usage.by_purpose["resolve"].calls == 2
    owner = entity_of(rag)
    assert owner["john smith"] == owner["john adam smith"]


def test_a_short_name_with_a_crowd_of_long_forms_is_not_asked(make_rag, write_docs):
    from graphrag.resolve.resolver import MAX_ASKED

    crowd = {
        f"D{i}": f"John {given} Smith, whom his friends called Adam, sold bread. John {given} Smith sold bread."
        for i, given in enumerate(["Adam", "Paul", "Mark", "Luke", "Peter", "James", "Carl"][: MAX_ASKED + 1])
    }
    crowd["C"] = DOCS["C"]
    chat = ScriptedChatModel(pair_verdict_responder)
    rag = make_rag(chat=chat)
    rag.index([str(p) for p in write_docs(crowd)])
    assert "resolve" not in chat.usage.by_purpose
    assert len({entity_of(rag)[k] for k in ("john smith", "john adam smith", "john paul smith")}) == 3
