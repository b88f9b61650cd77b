"""The carol figure with the LLM extractor: the tests' scripted model reads the book's chunks
(generic rules, tests/fakes/chat.py) and judges the uncertain name pairs."""

from __future__ import annotations

import json

import pytest

from bench.resolution import alias_scores
from tests.conftest import SHARED_DIR
from tests.fakes.chat import ScriptedChatModel, story_extraction_responder

CAROL = SHARED_DIR / "data" / "christmas_carol"


@pytest.mark.shared
def test_carol_with_the_llm_extractor_ends_alias_groups_in_one_entity_and_merges_no_different_pair(make_rag):
    rag = make_rag(chat=ScriptedChatModel(story_extraction_responder), chunk_size=1200, chunk_overlap=100)
    rag.index([str(CAROL / "carol_staves")])
    scores = alias_scores(list(rag.graph.iter_entities()), json.loads((CAROL / "entity_aliases.json").read_text()))
    assert scores["different_pairs_merged"] == []
    assert scores["groups_in_one_entity"] >= 6, scores["groups"]
    assert rag.usage.by_purpose["resolve"].calls > 0
