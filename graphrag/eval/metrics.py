"""Retrieval and answer metrics, per question; averaging is the caller's.

Retrieval works on a ranking of passage ids (best first, each id once) against the set of
gold ids. Answers are compared after SQuAD normalisation, best over the gold answers.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


def dedupe(ids: Iterable[str]) -> list[str]:
    """A passage counts once, at its first rank."""
    return list(dict.fromkeys(ids))


def recall_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """|gold in top k| / |gold| (HippoRAG's passage recall@k)."""
    gold = set(gold)
    if not gold:
        return 0.0
    return len(gold & set(ranked[:k])) / len(gold)


def all_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1 when every gold passage is in the top k, else 0."""
    gold = set(gold)
    return float(bool(gold) and gold <= set(ranked[:k]))


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str]) -> float:
    """1 / rank of the first gold passage; 0 when none was retrieved."""
    gold = set(gold)
    for rank, pid in enumerate(ranked, 1):
        if pid in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Binary gains discounted by 1/log2(rank + 1), over the best possible ordering."""
    gold = set(gold)
    if not gold:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1) for rank, pid in enumerate(ranked[:k], 1) if pid in gold)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def retrieval_scores(ranked: Sequence[str], gold: Iterable[str], ks: Sequence[int]) -> dict[str, float]:
    gold = set(gold)
    scores: dict[str, float] = {}
    for k in ks:
        scores[f"recall@{k}"] = recall_at_k(ranked, gold, k)
    for k in ks:
        scores[f"all@{k}"] = all_at_k(ranked, gold, k)
    scores["mrr"] = reciprocal_rank(ranked, gold)
    for k in ks:
        scores[f"ndcg@{k}"] = ndcg_at_k(ranked, gold, k)
    return scores


# --------------------------------------------------------------------------- answers

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD: lower-case, drop punctuation, drop a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Iterable[str]) -> float:
    """Best token-overlap F1 over the gold answers."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


_CITATIONS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def short_answer(answer: str) -> str:
    """The direct answer a cited prose answer opens with: its first sentence (or line),
    without the [n] citations. EM and F1 are computed on this."""
    text = _CITATIONS.sub("", answer).strip()
    first_line = text.split("\n", 1)[0].strip()
    return _SENTENCE_END.split(first_line, maxsplit=1)[0].strip()


def answer_contains(answer: str, answers: Iterable[str]) -> float:
    """1 when a normalised gold answer occurs, as whole words, in the normalised answer
    (the "accuracy" of long-form QA evaluations)."""
    text = f" {normalize_answer(_CITATIONS.sub('', answer))} "
    return float(any(gold and f" {gold} " in text for gold in (normalize_answer(a) for a in answers)))


# --------------------------------------------------------------------------- comparing systems


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, samples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b over the same questions, with its 95% interval from resampling the
    questions (a difference whose interval spans 0 is noise)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(samples, diff.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)
