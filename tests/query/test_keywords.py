"""Query keywords: one validated, cached chat call; or spaCy offline."""

from __future__ import annotations

import asyncio
import json

import pytest

from graphrag.query.keywords import KeywordExtractor, parse_keywords
from graphrag.query.usage import QueryUsage
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder


@pytest.fixture(scope="module")
def spacy_nlp():
    return KeywordExtractor(None).nlp  # loading the model is the slow part: once per module


def test_llm_keywords_are_one_cached_call() -> None:
    chat = ScriptedChatModel(derived_extraction_responder)
    extractor = KeywordExtractor(chat)
    usage = QueryUsage()
    first = asyncio.run(extractor.extract("How did Ebenezer Scrooge treat Bob Cratchit at Christmas?", usage))
    again = asyncio.run(extractor.extract("How did Ebenezer Scrooge treat Bob Cratchit at Christmas?"))
    assert first == again and first.source == "llm"
    assert "Bob Cratchit" in first.low_level and "Ebenezer Scrooge" in first.low_level
    assert "treat" in first.high_level
    assert chat.purposes() == ["keywords"]
    assert usage.to_dict()["by_purpose"]["keywords"]["calls"] == 1
    prompt = chat.requests[0][1][-1]["content"]
    assert prompt.rstrip().endswith("Question: How did Ebenezer Scrooge treat Bob Cratchit at Christmas?")


def test_reply_in_a_code_fence_with_prose_is_repaired() -> None:
    reply = 'Sure!\n```json\n{"high_level_keywords": ["ghosts"], "low_level_keywords": ["Marley", "marley"]}\n```'
    chat = ScriptedChatModel(lambda messages, purpose: reply)
    keywords = asyncio.run(KeywordExtractor(chat).extract("Who was Marley?"))
    assert keywords.low_level == ("Marley",) and keywords.high_level == ("ghosts",)


def test_invalid_reply_is_asked_again_then_falls_back_to_offline(spacy_nlp) -> None:
    replies = iter(['{"low_level_keywords": "Marley"}', '{"high_level_keywords": [], "low_level_keywords": ["Marley"]}'])
    chat = ScriptedChatModel(lambda messages, purpose: next(replies))
    keywords = asyncio.run(KeywordExtractor(chat).extract("Who was Marley?"))
    assert keywords.low_level == ("Marley",) and keywords.source == "llm"
    assert chat.purposes() == ["keywords", "keywords"]
    assert "not valid" in chat.requests[1][1][-1]["content"]

    chat = ScriptedChatModel(lambda messages, purpose: "no idea")
    extractor = KeywordExtractor(chat)
    extractor.__dict__["nlp"] = spacy_nlp
    keywords = asyncio.run(extractor.extract("Who was Jacob Marley?"))
    assert keywords.source == "offline" and "Jacob Marley" in keywords.low_level
    assert chat.purposes() == ["keywords", "keywords"]


def test_invalid_truncated_or_empty_keyword_answers_are_never_cached(spacy_nlp) -> None:
    from graphrag.llm.cache import LLMCache
    from tests.fakes.chat import DictCacheStore

    cache = LLMCache(DictCacheStore())
    bad = ["", '{"high_level_keywords": ["ghosts"], "low_level_keywords": ["Mar', "no idea"]
    for answer in bad:
        chat = ScriptedChatModel(lambda messages, purpose, answer=answer: answer, cache=cache)
        extractor = KeywordExtractor(chat)
        extractor.__dict__["nlp"] = spacy_nlp
        assert asyncio.run(extractor.extract("Who was Marley?")).source == "offline"
    # A healthy model afterwards is asked, not answered from the cache.
    healthy = ScriptedChatModel(derived_extraction_responder, cache=cache)
    keywords = asyncio.run(KeywordExtractor(healthy).extract("Who was Marley?"))
    assert keywords.source == "llm" and healthy.purposes() == ["keywords"]


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (json.dumps({"high_level_keywords": ["a"], "low_level_keywords": []}), True),
        (json.dumps({"high_level_keywords": "a", "low_level_keywords": []}), False),
        (json.dumps({"high_level_keywords": [1], "low_level_keywords": []}), False),
        ("[]", False),
    ],
)
def test_schema_validation(text: str, valid: bool) -> None:
    assert (parse_keywords(text) is not None) is valid


@pytest.mark.parametrize(
    ("question", "low", "high"),
    [
        ("Who is Scrooge's clerk, and what happens to his son Tiny Tim?", {"Scrooge", "Tiny Tim"}, {"clerk", "son"}),
        ("What is the role of Marley's ghost in the story?", {"Marley"}, {"role", "ghost", "story"}),
        (
            "Who was the first president of the association which published Journal of Psychotherapy Integration?",
            {"Journal of Psychotherapy Integration"},
            {"president", "association"},
        ),
        ("What themes of redemption and generosity appear?", set(), {"themes", "redemption", "generosity"}),
    ],
)
def test_offline_keywords(spacy_nlp, question: str, low: set[str], high: set[str]) -> None:
    extractor = KeywordExtractor(None)
    extractor.__dict__["nlp"] = spacy_nlp
    keywords = extractor.offline(question)
    assert keywords.source == "offline"
    assert low <= set(keywords.low_level)
    assert high <= set(keywords.high_level)
    assert not set(keywords.low_level) & {"Who", "What", "the"}
