"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from graphrag.eval.dataset import load_dataset
from graphrag.eval.metrics import (
    all_at_k,
    answer_contains,
    dedupe,
    exact_match,
    ndcg_at_k,
    normalize_answer,
    paired_bootstrap,
    recall_at_k,
    reciprocal_rank,
    retrieval_scores,
    short_answer,
    token_f1,
)
from graphrag.errors import ConfigError

RANKED = ["a", "x", "b", "y", "c"]
GOLD = {"a", "b", "c", "d"}


def test_recall_counts_the_share_of_gold_passages_in_the_top_k():
    assert recall_at_k(RANKED, GOLD, 1) == 0.25
    assert recall_at_k(RANKED, GOLD, 2) == 0.25
    assert recall_at_k(RANKED, GOLD, 3) == 0.5
    assert recall_at_k(RANKED, GOLD, 5) == 0.75
    assert recall_at_k(RANKED, GOLD, 50) == 0.75  # d was never retrieved


def test_all_at_k_needs_every_gold_passage():
    assert all_at_k(RANKED, GOLD, 5) == 0.0
    assert all_at_k(RANKED, {"a", "b"}, 3) == 1.0
    assert all_at_k(RANKED, {"a", "b"}, 2) == 0.0


def test_reciprocal_rank_is_one_over_the_rank_of_the_first_gold_passage():
    assert reciprocal_rank(RANKED, GOLD) == 1.0
    assert reciprocal_rank(RANKED, {"b", "c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKED, {"z"}) == 0.0


def test_ndcg_uses_binary_gains_and_the_ideal_ordering_of_the_gold_passages():
    # DCG = 1/log2(2) + 1/log2(4) + 1/log2(6); ideal: 4 gold passages in the first 4 ranks.
    dcg = 1 + 0.5 + 1 / math.log2(6)
    ideal = 1 + 1 / math.log2(3) + 0.5 + 1 / math.log2(5)
    assert ndcg_at_k(RANKED, GOLD, 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RANKED, GOLD, 5) == pytest.approx(0.73659, abs=1e-5)
    # One gold passage at rank 2 of 2, two gold: 0.63093 / (1 + 0.63093).
    assert ndcg_at_k(["x", "a"], {"a", "b"}, 2) == pytest.approx(0.386853, abs=1e-6)
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 2) == 1.0
    assert ndcg_at_k([], {"a"}, 5) == 0.0


def test_a_passage_counts_once_at_its_first_rank():
    assert dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
    scores = retrieval_scores(["a", "b", "c"], {"c"}, [2, 5])
    assert scores == {"recall@2": 0.0, "recall@5": 1.0, "all@2": 0.0, "all@5": 1.0, "mrr": pytest.approx(1 / 3),
                      "ndcg@2": 0.0, "ndcg@5": pytest.approx(0.5)}


def test_squad_normalisation():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("An apple, a PEAR and the fig.") == "apple pear and fig"


def test_exact_match_and_f1_take_the_best_gold_answer():
    assert exact_match("the Henry VI.", ["Henry V", "Henry VI"]) == 1.0
    assert exact_match("Henry", ["Henry VI"]) == 0.0
    # [henry, vi, of, england] vs [king, henry, vi]: P = 2/4, R = 2/3, F1 = 4/7.
    assert token_f1("Henry VI of England", ["King Henry VI"]) == pytest.approx(4 / 7)
    # vs [henry, v]: P = 1/4, R = 1/2, F1 = 1/3; the best is kept.
    assert token_f1("Henry VI of England", ["Henry V", "King Henry VI"]) == pytest.approx(4 / 7)
    assert token_f1("Henry VI of England", ["Henry V"]) == pytest.approx(1 / 3)
    assert token_f1("", ["London"]) == 0.0
    assert token_f1("the", ["a"]) == 1.0  # both empty after normalisation


def test_answers_are_scored_on_their_direct_first_sentence_without_citations():
    answer = "King Henry VI founded it [2][3]. He reigned from 1422 [1, 2].\nMore details."
    assert short_answer(answer) == "King Henry VI founded it."
    assert short_answer("Henry VI [1]") == "Henry VI"
    assert exact_match(short_answer("Henry VI [1]."), ["Henry VI"]) == 1.0
    assert answer_contains(answer, ["Henry VI"]) == 1.0
    assert answer_contains(answer, ["Henry V"]) == 0.0  # whole words only
    assert answer_contains(answer, [""]) == 0.0


def test_paired_bootstrap_gives_the_mean_difference_and_its_interval():
    assert paired_bootstrap([1, 0, 1], [1, 0, 1]) == (0.0, 0.0, 0.0)
    assert paired_bootstrap([1, 1, 1], [0, 0, 0]) == (1.0, 1.0, 1.0)
    diff, low, high = paired_bootstrap([1, 0] * 50, [0, 0] * 50)
    assert diff == 0.5 and low < 0.5 < high and high - low < 0.3


def test_a_slice_keeps_the_gold_passages_of_its_questions(tiny_dataset):
    dataset = load_dataset(tiny_dataset)
    assert (len(dataset.questions), len(dataset.passages)) == (4, 10)
    small = dataset.sliced(questions=1, passages=3)
    assert [q.id for q in small.questions] == ["q0"]
    ids = {p.id for p in small.passages}
    assert set(small.questions[0].gold_passage_ids) <= ids and len(ids) == 3
    assert small == dataset.sliced(questions=1, passages=3)  # deterministic
    assert len(dataset.sliced(questions=2).passages) == 10


def test_a_dataset_naming_unknown_gold_passages_is_refused(tiny_dataset):
    path = tiny_dataset / "questions.jsonl"
    path.write_text(path.read_text() + '{"id": "bad", "question": "?", "answers": [], "gold_passage_ids": ["nope"]}\n')
    with pytest.raises(ConfigError, match="nope"):
        load_dataset(tiny_dataset)
