"""The inner question of a nested question, and the walk's prior that it joins."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from graphrag.query.decompose import inner_question
from graphrag.query.keywords import KeywordExtractor
from graphrag.query.retrieve import QueryVectors, Timer
from graphrag.query.retrieve_ppr import INNER_PRIOR_WEIGHT, PPRRetriever
from graphrag.settings import Settings


@pytest.fixture(scope="module")
def nlp():
    return KeywordExtractor(None).nlp


@pytest.mark.parametrize(
    ("question", "inner"),
    [
        (
            "Who was the first president of the association which published Journal of Psychotherapy Integration?",
            "the association which published Journal of Psychotherapy Integration",
        ),
        ("In what county is the city where Harris W. Fawell was born?", "the city where Harris W. Fawell was born"),
        ("What kind of plane dropped the bomb on Akinoshu Kenji's birthplace?", "Akinoshu Kenji's birthplace"),
    ],
)
def test_the_inner_question_is_the_nested_phrase(nlp, question: str, inner: str) -> None:
    assert inner_question(nlp(question)) == inner


@pytest.mark.parametrize("question", ["Who is Scrooge?", "When was Paris founded?", "What is a term for love?"])
def test_a_question_that_nests_nothing_has_no_inner_question(nlp, question: str) -> None:
    assert inner_question(nlp(question)) is None


def _vectors(inner: np.ndarray | None) -> QueryVectors:
    empty = np.zeros((0, 2), np.float32)
    return QueryVectors(question=np.array([1, 0], np.float32), low=empty, high=empty, inner=inner)


def test_the_inner_questions_closest_chunks_join_the_prior() -> None:
    hits = {(1.0, 0.0): {"c_question": 0.9, "c_both": 0.8}, (0.0, 1.0): {"c_inner": 0.9, "c_both": 0.85}}
    base = SimpleNamespace(
        settings=Settings(), chunk_hits=lambda v, k, timer: hits[tuple(float(x) for x in v)], searcher=_NoPrefetch()
    )
    walker = PPRRetriever(base)  # type: ignore[arg-type]
    alone = walker.chunk_prior(_vectors(None), 10, Timer())
    assert set(alone) == {"c_question", "c_both"}
    joined = walker.chunk_prior(_vectors(np.array([0, 1], np.float32)), 10, Timer())
    assert set(joined) == {"c_question", "c_both", "c_inner"}
    assert sum(joined.values()) == pytest.approx((1 + INNER_PRIOR_WEIGHT) * sum(alone.values()))
    assert joined["c_question"] == alone["c_question"]
    assert joined["c_inner"] > joined["c_both"] - alone["c_both"]  # the inner question's best gets the most


def test_the_engine_embeds_the_inner_question_with_the_rest(open_sample) -> None:
    rag = open_sample(chat=None)
    engine = rag.query_engine
    seen = []
    prior = engine.ppr_retriever.chunk_prior

    def recording(qv, top_k, timer):
        seen.append(qv.inner)
        return prior(qv, top_k, timer)

    engine.ppr_retriever.chunk_prior = recording  # type: ignore[method-assign]
    try:
        rag.retrieve("Who was the nephew of the man who employed Bob Cratchit?", "ppr", 5)
        assert seen[-1] is not None  # "the man who employed Bob Cratchit"
        rag.retrieve("Who is Scrooge?", "ppr", 5)
        assert seen[-1] is None
        rag.settings.query_decompose = False
        rag.retrieve("Who was the nephew of the man who employed Bob Cratchit?", "ppr", 5)
        assert seen[-1] is None
    finally:
        rag.settings.query_decompose = True
        del engine.ppr_retriever.chunk_prior


class _NoPrefetch:
    def prefetch(self, table, vectors, k) -> None:
        pass


def test_the_keywords_and_the_inner_question_share_one_parse(nlp) -> None:
    parsed: list[str] = []
    extractor = KeywordExtractor(None)
    extractor.__dict__["nlp"] = lambda text: parsed.append(text) or nlp(text)
    question = "In what county is the city where Harris W. Fawell was born?"
    extractor.offline(question)
    assert extractor.inner_question(question) == "the city where Harris W. Fawell was born"
    assert extractor.inner_question(question) == "the city where Harris W. Fawell was born"
    assert parsed == [question]
