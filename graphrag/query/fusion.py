"""Fusing ranked lists of chunks from several channels into one ranking.

A channel is one kind of evidence for a chunk: the question's dense similarity, its BM25
match, or a mode's graph evidence (the chunks its entities, relations or PageRank point
to). Scores of different channels live on unrelated scales (cosine, BM25, summed entity
matches, PageRank mass), so they are fused by rank, not by value: weighted reciprocal rank
fusion (Cormack et al.), each channel's term scaled by its weight. A chunk that two
channels rank high beats one that a single channel ranks first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RRF_K = 60  # the usual constant: rank 1 counts 1/61, rank 20 1/80


@dataclass(frozen=True)
class Channel:
    name: str
    scores: Mapping[str, float]  # chunk id -> score, higher is better
    weight: float = 1.0


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Ids best first; ties by id so rankings are reproducible."""
    return [key for key, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def weighted_rrf(channels: Sequence[Channel], k: int = RRF_K) -> dict[str, float]:
    """id -> sum over channels of weight / (k + rank); channels with no weight or no scores
    take no part; equal scores in a channel share the best of their ranks."""
    fused: dict[str, float] = {}
    for channel in channels:
        if channel.weight <= 0 or not channel.scores:
            continue
        rank, previous = 0, None
        for position, key in enumerate(ranked(channel.scores), 1):
            score = channel.scores[key]
            if score != previous:  # equal scores share a rank: a tie says nothing
                rank, previous = position, score
            fused[key] = fused.get(key, 0.0) + channel.weight / (k + rank)
    return fused


def fuse_chunks(channels: Sequence[Channel], top_k: int) -> dict[str, float]:
    """The top_k chunks of the weighted fusion, best first."""
    fused = weighted_rrf(channels)
    return {key: fused[key] for key in ranked(fused)[:top_k]}
