"""Bridge feedback: a second walk restarts also at the entities of the first walk's best
chunks that are related to the question's own entities (the bridge of a two-hop chain)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from graphrag.query.ppr import EntityChunkGraph, bridge_entities
from graphrag.query.retrieve import QueryVectors, Timer
from graphrag.query.retrieve_ppr import PPRRetriever
from graphrag.settings import Settings
from tests.query.test_ppr import entity, relation

ENTITIES = [
    entity("q1", "c_first", "c_q1"),  # named by the question
    entity("bridge", "c_first", "c_answer"),  # related to q1, named in its passage
    entity("bystander", "c_first"),  # in the same passage, related to nothing of the question
    entity("answer", "c_answer"),
    entity("hub", "c_first", "c_h1", "c_h2", "c_h3", "c_h4", "c_h5", "c_h6", "c_h7"),
    entity("other", "c_distractor"),
]
RELATIONS = [relation("q1", "bridge"), relation("q1", "hub"), relation("bridge", "answer"), relation("bystander", "other")]


def graph() -> EntityChunkGraph:
    return EntityChunkGraph.build(ENTITIES, RELATIONS)


def test_the_bridge_is_the_related_entity_of_a_top_chunk_not_the_seed_nor_a_bystander() -> None:
    bridges = bridge_entities(graph(), {"q1": 1.0}, [("c_first", 0.5)])
    assert set(bridges) == {"bridge", "hub"}
    assert bridges["bridge"] > bridges["hub"]  # a name in eight chunks says less than one in two
    assert sum(bridges.values()) == pytest.approx(1.0)


def test_weak_seeds_are_not_the_questions_own_entities() -> None:
    # "bystander" as a faint seed: its relation does not make "other" a bridge, and it is
    # itself a candidate (it is not one of the question's own entities).
    bridges = bridge_entities(graph(), {"q1": 1.0, "bystander": 0.1}, [("c_first", 0.5)], seed_share=0.3)
    assert "other" not in bridges
    assert "bystander" not in bridges  # related to no own entity either
    assert bridge_entities(graph(), {"q1": 1.0, "bystander": 0.5}, [("c_first", 0.5)], seed_share=0.3).keys() == {"bridge", "hub"}


def test_nothing_without_seeds_chunks_or_entities_in_them() -> None:
    g = graph()
    assert bridge_entities(g, {}, [("c_first", 1.0)]) == {}
    assert bridge_entities(g, {"q1": 1.0}, []) == {}
    assert bridge_entities(g, {"q1": 1.0}, [("not_in_graph", 1.0)]) == {}
    assert bridge_entities(g, {"unknown": 1.0}, [("c_first", 1.0)]) == {}


class _Graph:
    def stats(self):
        return SimpleNamespace(entities=len(ENTITIES))

    def iter_entities(self):
        return iter(ENTITIES)

    def iter_relations(self):
        return iter(RELATIONS)


def walk(bridge_mass: float) -> list[str]:
    # The question's passage ranks first by the dense prior; the answer passage is one hop
    # further, through the bridge; c_q1 is another passage about the question's entity.
    prior = {"c_first": 0.9, "c_distractor": 0.75}
    base = SimpleNamespace(
        settings=Settings(ppr_bridge_mass=bridge_mass),
        graph=_Graph(),
        chunk_hits=lambda vector, k, timer: dict(list(prior.items())[:k]),
    )
    qv = QueryVectors(question=np.ones(4, np.float32) / 2, low=np.zeros((0, 4), np.float32), high=np.zeros((0, 4), np.float32))
    scores = PPRRetriever(base).walk({"q1": 1.0}, qv, 5, Timer())  # type: ignore[arg-type]
    return [c for c, _ in scores.chunks]


def test_the_second_walk_ranks_the_next_hop_above_more_of_the_first() -> None:
    without = walk(0.0)
    assert without[:3] == ["c_first", "c_q1", "c_answer"]
    assert walk(0.5)[:3] == ["c_first", "c_answer", "c_q1"]


def test_the_second_walk_also_asks_the_question_about_the_bridges() -> None:
    """With the inner question known, the rewritten questions replace it by the best bridges'
    names; their closest chunks join the second walk's prior (and only the second's)."""
    asked: list[str] = []
    question, rewritten = np.array([1, 0], np.float32), np.array([0, 1], np.float32)

    def embed(texts):
        asked.extend(texts)
        return np.stack([rewritten for _ in texts])

    def chunk_hits(vector, k, timer):
        return {"c_first": 0.9, "c_distractor": 0.75} if vector[0] else {"c_answer": 0.9}

    def scores(rewrite: bool | None, **settings) -> dict[str, float]:
        base = SimpleNamespace(
            settings=Settings(**settings), graph=_GraphWithRecords(), chunk_hits=chunk_hits, searcher=_NoPrefetch()
        )
        empty = np.zeros((0, 2), np.float32)
        qv = QueryVectors(
            question=question, low=empty, high=empty, text="Who founded the firm that owns Q1?",
            inner=rewritten, inner_text="the firm that owns Q1",
        )
        walker = PPRRetriever(base, embed)  # type: ignore[arg-type]
        return dict(walker.walk({"q1": 1.0}, qv, 5, Timer(), rewrite=rewrite).chunks)

    plain = scores(False)
    assert asked == []
    assert scores(None, query_bridge_rewrite=False) == plain and asked == []
    fed = scores(None)
    assert asked == ["Who founded Bridge?", "Who founded Hub?"]  # the best bridge first
    assert fed["c_answer"] > plain["c_answer"]


class _GraphWithRecords(_Graph):
    def get_entities(self, keys):
        return {e.key: e for e in ENTITIES if e.key in set(keys)}


class _NoPrefetch:
    def prefetch(self, table, vectors, k) -> None:
        pass
