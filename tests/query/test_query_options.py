"""Conversations, the `auto` mode, query expansion and reranking, with the scripted model."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest

from graphrag.errors import ConfigError
from graphrag.llm.base import Message
from graphrag.query.conversation import Turn, parse_history
from graphrag.query.rerank import parse_ranking
from graphrag.query.result import Keywords
from graphrag.query.route import classify
from tests.fakes.chat import ScriptedChatModel
from tests.query.conftest import citing_responder


def responder(**replies: Callable[[str], str] | str) -> Callable[[Sequence[Message], str], str]:
    """The citing responder, with scripted replies for the given purposes."""

    def respond(messages: Sequence[Message], purpose: str) -> str:
        if purpose in replies:
            reply = replies[purpose]
            return reply(messages[-1]["content"]) if callable(reply) else reply
        return citing_responder(messages, purpose)

    return respond


HISTORY = [
    Turn(role="user", content="Who is Bob Cratchit?"),
    Turn(role="assistant", content="Bob Cratchit is Scrooge's clerk."),
]


# ------------------------------------------------------------------ conversations


def test_a_follow_up_is_condensed_by_the_model_before_retrieval(open_sample) -> None:
    standalone = "What happens to Bob Cratchit's son Tiny Tim?"
    chat = ScriptedChatModel(responder(condense=standalone))
    rag = open_sample(chat=chat)
    result = rag.query("What happens to his son?", "local", 5, history=HISTORY)
    assert result.retrieval.standalone_question == standalone
    assert chat.purposes()[0] == "condense"
    condense_prompt = chat.requests[0][1][-1]["content"]
    assert "user: Who is Bob Cratchit?" in condense_prompt and "What happens to his son?" in condense_prompt
    keywords_prompt = next(m for p, m in chat.requests if p == "keywords")[-1]["content"]
    assert standalone in keywords_prompt  # retrieval searched the standalone question
    answer_prompt = next(m for p, m in chat.requests if p == "answer")[-1]["content"]
    assert standalone in answer_prompt
    assert result.to_dict()["standalone_question"] == standalone
    assert any("Tim" in c.text for c in result.chunks)


def test_offline_a_follow_up_carries_the_names_of_recent_turns(open_sample) -> None:
    rag = open_sample(chat=None)
    alone = rag.retrieve("What does his family eat at Christmas?", "naive", 5)
    followed = rag.retrieve("What does his family eat at Christmas?", "local", 5, history=HISTORY)
    assert "Bob Cratchit" in followed.keywords.low_level
    assert "Bob Cratchit" in (followed.standalone_question or "")
    assert alone.standalone_question is None
    assert sum("Cratchit" in c.text for c in followed.chunks) >= sum("Cratchit" in c.text for c in alone.chunks)
    assert sum("Cratchit" in c.text for c in followed.chunks) >= 1


def test_no_history_makes_no_condense_call(open_sample) -> None:
    chat = ScriptedChatModel(responder())
    rag = open_sample(chat=chat)
    rag.retrieve("Who is Bob Cratchit?", "local", 3, history=[])
    assert "condense" not in chat.purposes()


def test_history_is_validated() -> None:
    assert parse_history([{"role": "user", "content": "hi"}]) == [Turn(role="user", content="hi")]
    with pytest.raises(ConfigError, match="JSON list"):
        parse_history({"role": "user"})
    with pytest.raises(ConfigError, match="invalid conversation history"):
        parse_history([{"role": "system", "content": "x"}])


# ------------------------------------------------------------------ auto


@pytest.mark.parametrize(
    ("question", "low", "kind"),
    [
        ("Who founded Vantor?", ("Vantor",), "lookup"),
        ("Which company is older, Vantor or Quux?", ("Vantor", "Quux"), "comparison"),
        ("Who was born first, Ilse Marren or Tom Quill?", ("Ilse Marren", "Tom Quill"), "comparison"),
        ("Who is the spouse of the director of the film that won the prize in 1987?", ("1987",), "bridge"),
        ("What country is the city where Ilse Marren was born in?", ("Ilse Marren",), "bridge"),
        ("What are the main themes of the stories?", (), "theme"),
        ("How do cities handle floods?", (), "theme"),
        ("When was Bob Cratchit born?", ("Bob Cratchit", "Cratchit"), "lookup"),
        ("Who was the first president of Damerjog's country?", ("Damerjog",), "bridge"),
        ("Who founded Vantor's parent company?", ("Vantor",), "bridge"),
    ],
)
def test_questions_are_sorted_by_their_form(question: str, low: tuple[str, ...], kind: str) -> None:
    assert classify(question, Keywords(low_level=low)) == kind


def test_auto_runs_the_routed_mode_and_says_so(open_sample) -> None:
    rag = open_sample(chat=None)
    lookup = rag.retrieve("Who is Bob Cratchit?", "auto", 5)
    assert lookup.mode == "auto"
    assert lookup.route == {"kind": "lookup", "mode": "local", "by": "rules"}
    same = rag.retrieve("Who is Bob Cratchit?", "local", 5)
    assert [c.id for c in lookup.chunks] == [c.id for c in same.chunks]
    assert rag.query("Who is Bob Cratchit?", "auto", 5).to_dict()["route"]["mode"] == "local"


def test_auto_can_ask_the_chat_model_and_falls_back_on_nonsense(open_sample) -> None:
    chat = ScriptedChatModel(responder(route="comparison"))
    rag = open_sample(chat=chat, query_auto_classifier="llm")
    assert rag.retrieve("Who is Bob Cratchit?", "auto", 5).route == {"kind": "comparison", "mode": "mix", "by": "llm"}
    prompt = next(m for p, m in chat.requests if p == "route")[-1]["content"]
    assert "Who is Bob Cratchit?" in prompt
    confused = open_sample(chat=ScriptedChatModel(responder(route="lookup or theme, hard to say")), query_auto_classifier="llm")
    assert confused.retrieve("Who is Bob Cratchit?", "auto", 5).route["by"] == "rules"


# ------------------------------------------------------------------ expansion


def test_multi_query_fuses_the_rewordings(open_sample) -> None:
    rewordings = {"questions": ["Which ghost visits Scrooge first?", "Jacob Marley's spirit and Ebenezer Scrooge"]}
    chat = ScriptedChatModel(responder(expansion=json.dumps(rewordings)))
    rag = open_sample(chat=chat, query_expansion="multi")
    retrieval = rag.retrieve("What does the first ghost do?", "naive", 5)
    assert retrieval.expansions == rewordings["questions"]
    assert chat.purposes().count("expansion") == 1
    assert any("Marley" in c.text for c in retrieval.chunks)
    plain = open_sample(chat=ScriptedChatModel(responder())).retrieve("What does the first ghost do?", "naive", 5)
    assert [c.id for c in plain.chunks] != [c.id for c in retrieval.chunks]


def test_hyde_searches_with_an_imagined_passage(make_rag, write_docs) -> None:
    docs = {
        "ball": "Fezziwig danced with his apprentices at the Christmas ball, and a fiddler played all night.",
        "office": "The old employer sat in his office; how he would celebrate, nobody knew.",
    }
    question = "How did the old employer celebrate?"
    passage = "Fezziwig danced with his apprentices at a Christmas ball while a fiddler played."
    rag = make_rag("hyde", chat=ScriptedChatModel(responder(expansion=passage)), query_lexical=False)
    rag.index(write_docs(docs))
    plain = rag.retrieve(question, "naive", 1)
    assert "office" in plain.chunks[0].text
    rag.close()
    chat = ScriptedChatModel(responder(expansion=passage))
    hyde = make_rag("hyde", chat=chat, query_lexical=False, query_expansion="hyde").retrieve(question, "naive", 1)
    assert "Fezziwig" in hyde.chunks[0].text
    assert chat.purposes().count("expansion") == 1


@pytest.mark.parametrize("setting", [{"query_expansion": "multi"}, {"query_expansion": "hyde"}, {"query_rerank": "llm"}])
def test_options_that_need_a_chat_model_say_so(open_sample, setting: dict) -> None:
    rag = open_sample(chat=None, **setting)
    with pytest.raises(ConfigError, match="GRAPHRAG_CHAT_BASE_URL"):
        rag.retrieve("Who is Bob Cratchit?", "naive", 3)


# ------------------------------------------------------------------ rerank


def test_the_llm_reranker_reorders_the_candidates(open_sample) -> None:
    def reverse(prompt: str) -> str:
        n = prompt.count("<<<DOCUMENT ")
        return json.dumps({"ranking": list(range(n, 0, -1))})

    question = "What does Marley's ghost warn Scrooge about?"
    base = open_sample(chat=ScriptedChatModel(responder())).retrieve(question, "naive", 4)
    chat = ScriptedChatModel(responder(rerank=reverse))
    rag = open_sample(chat=chat, query_rerank="llm", query_rerank_candidates=4)
    reranked = rag.retrieve(question, "naive", 4)
    assert [c.id for c in reranked.chunks] == [c.id for c in base.chunks][::-1]
    assert [c.score for c in reranked.chunks] == sorted((c.score for c in reranked.chunks), reverse=True)
    assert chat.purposes().count("rerank") == 1


def test_a_broken_rerank_reply_keeps_the_retrieval_order(open_sample) -> None:
    question = "What does Marley's ghost warn Scrooge about?"
    base = open_sample(chat=ScriptedChatModel(responder())).retrieve(question, "naive", 4)
    rag = open_sample(chat=ScriptedChatModel(responder(rerank="no idea")), query_rerank="llm", query_rerank_candidates=4)
    assert [c.id for c in rag.retrieve(question, "naive", 4).chunks] == [c.id for c in base.chunks]


def test_parse_ranking_keeps_valid_numbers_once() -> None:
    assert parse_ranking('{"ranking": [3, 1, 3, 9, "2"]}', 3) == [3, 1, 2]
    assert parse_ranking("2 > 1 > 3", 3) == [2, 1, 3]
    assert parse_ranking("nothing", 3) == []
