"""Summaries: the fold policy folds new fragments into the current summary, rebuilds when a
fragment it was made from is gone, and keeps the call count of an update small."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from graphrag.summarize import DescriptionSummarizer
from tests.fakes.chat import DictCacheStore, ScriptedChatModel, derived_extraction_responder, fenced_text

OLD = [f"Ada Lane keeps lighthouse {i}." for i in range(6)]


def make(policy: str = "fold", **kw) -> tuple[DescriptionSummarizer, ScriptedChatModel, DictCacheStore]:
    chat = ScriptedChatModel(derived_extraction_responder)
    records = DictCacheStore()
    summarizer = DescriptionSummarizer(chat, min_fragments=4, max_tokens=300, policy=policy,  # type: ignore[arg-type]
                                       fold_min_new=kw.pop("fold_min_new", 3), records=records, **kw)
    return summarizer, chat, records


def describe(summarizer: DescriptionSummarizer, fragments: list[str]) -> str:
    return asyncio.run(summarizer.describe("Ada Lane", fragments, key="entity:ada lane"))


def prompt_lines(chat: ScriptedChatModel) -> set[str]:
    body = fenced_text(chat.requests[-1][1], "DESCRIPTIONS")
    assert body is not None
    return {line.removeprefix("- ") for line in body.splitlines()}


def test_new_fragments_are_appended_then_folded_into_the_summary_with_one_call():
    summarizer, chat, _ = make()
    summary = describe(summarizer, OLD)
    assert len(chat.requests) == 1

    one_new = OLD + ["Ada Lane rescued a sailor."]
    assert describe(summarizer, one_new) == summary + "\nAda Lane rescued a sailor."
    assert len(chat.requests) == 1  # appended, no call

    three_new = one_new + ["Ada Lane paints boats.", "Ada Lane sings at night."]
    folded = describe(summarizer, three_new)
    assert len(chat.requests) == 2
    # the fold sends the current summary and the new fragments, not the old fragments again
    assert prompt_lines(chat) == {summary, "Ada Lane rescued a sailor.", "Ada Lane paints boats.",
                                  "Ada Lane sings at night."}
    assert describe(summarizer, list(reversed(three_new))) == folded  # same set: no call
    assert len(chat.requests) == 2


def test_a_lost_fragment_rebuilds_from_the_remaining_ones():
    summarizer, chat, _ = make()
    describe(summarizer, OLD + ["Ada Lane rescued a sailor.", "Ada Lane paints boats.", "Ada Lane sings."])
    remaining = OLD[1:] + ["Ada Lane paints boats."]
    rebuilt = describe(summarizer, remaining)
    assert prompt_lines(chat) == set(remaining)  # from scratch: nothing of the lost fragments
    fresh, _, _ = make()
    assert describe(fresh, remaining) == rebuilt


def test_an_unreadable_record_is_rebuilt():
    summarizer, chat, records = make()
    describe(summarizer, OLD)
    records.data["summary:entity:ada lane"] = "{not json"
    describe(summarizer, OLD + ["Ada Lane rescued a sailor."])
    assert len(chat.requests) == 2 and len(prompt_lines(chat)) == 7


def test_a_description_over_its_token_budget_is_folded_at_once():
    summarizer, chat, _ = make(fold_min_new=10)
    describe(summarizer, OLD)
    long_fragment = "Ada Lane " + "walked the long coast road again " * 60 + "."
    describe(summarizer, OLD + [long_fragment])
    assert len(chat.requests) == 2


def test_rebuild_policy_summarizes_every_changed_set_from_scratch():
    summarizer, chat, _ = make("rebuild")
    describe(summarizer, OLD)
    describe(summarizer, OLD + ["Ada Lane rescued a sailor."])
    assert len(chat.requests) == 2 and prompt_lines(chat) == set(OLD) | {"Ada Lane rescued a sailor."}


def test_adding_the_last_stave_makes_fewer_summary_calls_than_lightrag(make_rag, sample_dir, tmp_path):
    """LightRAG 1.5.7 made 7 summary calls adding stave 5 of the sample book after staves 1-4
    (same scripted model); the default settings, fold policy."""
    corpus = tmp_path / "staves"
    corpus.mkdir()
    staves = sorted(Path(sample_dir).glob("*.txt"))
    for path in staves[:4]:
        shutil.copy(path, corpus / path.name)
    rag = make_rag(chunk_size=1200, chunk_overlap=100, summary_min_fragments=8)
    rag.index([corpus])
    before = rag.usage.by_purpose["summarize"].calls
    shutil.copy(staves[4], corpus / staves[4].name)
    report = rag.index([corpus])
    assert report.documents_new == 1
    assert 0 < rag.usage.by_purpose["summarize"].calls - before <= 7
