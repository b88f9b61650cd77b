"""Personalized PageRank over the entity–chunk graph: the multi-hop behaviour HippoRAG relies on."""

from __future__ import annotations

import numpy as np
import pytest

from graphrag.models import Entity, Relation, relation_key
from graphrag.query.ppr import PUSH_EPS, EntityChunkGraph, rank_chunks_ppr
from graphrag.query.push import personalized_pagerank


def entity(key: str, *chunks: str) -> Entity:
    return Entity(key=key, name=key.title(), type="concept", description="", source_ids=tuple(chunks))


def relation(a: str, b: str, weight: float = 1.0, *chunks: str) -> Relation:
    return Relation(relation_key(a, b), a, b, "", (), weight, tuple(chunks))


def two_hop_graph(hub_discount: bool = True) -> EntityChunkGraph:
    # q1 is named by the question; the answer chunk c_answer is reached only through the
    # bridge entity b (c_bridge mentions q1 and b, c_answer mentions b and a).
    return EntityChunkGraph.build(
        [
            entity("q1", "c_bridge", "c_q1"),
            entity("b", "c_bridge", "c_answer"),
            entity("a", "c_answer"),
            entity("x", "c_other"),
            entity("hub", "c_q1", "c_other", "c_hub1", "c_hub2", "c_hub3"),
        ],
        [relation("q1", "b"), relation("b", "a"), relation("x", "hub")],
        hub_discount=hub_discount,
    )


def test_pagerank_is_a_distribution_and_zero_without_reset() -> None:
    g = two_hop_graph()
    reset = np.zeros(g.n_nodes)
    reset[0] = 1.0
    p = personalized_pagerank(g.n_nodes, g.src, g.dst, g.transition, reset, damping=0.5)
    assert p.sum() == pytest.approx(1.0)
    assert (p >= 0).all()
    assert personalized_pagerank(g.n_nodes, g.src, g.dst, g.transition, np.zeros(g.n_nodes), damping=0.5).sum() == 0


def test_matches_networkx_pagerank() -> None:
    import networkx as nx

    g = two_hop_graph(hub_discount=False)
    reset = np.zeros(g.n_nodes)
    reset[g.entity_index["q1"]] = 2.0
    reset[g.entity_index["x"]] = 1.0
    ours = personalized_pagerank(g.n_nodes, g.src, g.dst, g.transition, reset, damping=0.5)
    from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python  # no scipy needed

    nxg = nx.Graph()
    nxg.add_nodes_from(range(g.n_nodes))
    # Entity-chunk edges weigh more than relation edges: the weights the walk follows.
    weights = g.transition * g.out_weight[g.src]
    nxg.add_weighted_edges_from((int(u), int(v), float(w)) for u, v, w in zip(g.src, g.dst, weights))
    assert len(set(weights.round(9))) > 1
    personalization = {i: float(w) for i, w in enumerate(reset)}
    theirs = _pagerank_python(nxg, alpha=0.5, personalization=personalization, weight="weight", tol=1e-12, max_iter=1000)
    assert np.allclose(ours, [theirs[i] for i in range(g.n_nodes)], atol=1e-6)


def test_bridge_chunks_rank_above_unrelated_ones() -> None:
    scores = rank_chunks_ppr(two_hop_graph(), {"q1": 1.0}, damping=0.5)
    ranked = [c for c, _ in scores.chunks]
    assert ranked[0] == "c_bridge"  # mentions the seed and the bridge
    assert ranked.index("c_answer") < ranked.index("c_other")  # two hops away, still reached
    assert "c_hub1" not in ranked[:3]


def test_specificity_discounts_entities_found_everywhere() -> None:
    g = two_hop_graph()
    plain = dict(rank_chunks_ppr(g, {"hub": 1.0, "q1": 1.0}, specificity="none").chunks)
    for kind in ("idf", "inverse"):
        specific = dict(rank_chunks_ppr(g, {"hub": 1.0, "q1": 1.0}, specificity=kind).chunks)
        assert specific["c_bridge"] > plain["c_bridge"]
        assert specific["c_hub1"] < plain["c_hub1"]


def test_dense_prior_ranks_without_seeds_and_includes_chunks_outside_the_graph() -> None:
    g = two_hop_graph()
    scores = rank_chunks_ppr(g, {}, {"c_other": 0.9, "c_unlinked": 0.5})
    ranked = [c for c, _ in scores.chunks]
    assert ranked[0] == "c_other"
    assert "c_unlinked" in ranked
    # With seeds, the prior takes only its share.
    mixed = rank_chunks_ppr(g, {"q1": 1.0}, {"c_other": 0.9}, prior_share=0.1)
    assert mixed.chunks[0][0] == "c_bridge"


def test_unknown_seeds_and_empty_input_give_nothing() -> None:
    g = two_hop_graph()
    assert rank_chunks_ppr(g, {"nope": 1.0}).chunks == []
    empty = EntityChunkGraph.build([], [])
    assert rank_chunks_ppr(empty, {"q1": 1.0}).chunks == []
    # Local push stops with up to PUSH_EPS of residual mass per node.
    assert rank_chunks_ppr(empty, {}, {"c": 1.0}).chunks == [("c", pytest.approx(1.0, abs=10 * PUSH_EPS))]


def test_limit_returns_the_best() -> None:
    g = two_hop_graph()
    full = rank_chunks_ppr(g, {"q1": 1.0, "x": 0.5})
    limited = rank_chunks_ppr(g, {"q1": 1.0, "x": 0.5}, limit=2)
    assert limited.chunks == full.chunks[:2]
    assert limited.entities == full.entities[:2]


def test_hubs_take_less_of_the_walk_than_specific_entities() -> None:
    """A chunk naming a specific entity and a hub found everywhere: from the chunk, the walk
    goes mostly to the specific one, so chunks reached through it outrank the hub's."""
    hub_chunks = [f"h{i}" for i in range(30)]
    entities = [
        entity("seed", "c_start"),
        entity("specific", "c_start", "c_target"),
        entity("american", "c_start", *hub_chunks),
        *[entity(f"e{i}", f"h{i}") for i in range(30)],
    ]
    ratios = {}
    for discount in (True, False):
        scores = dict(rank_chunks_ppr(EntityChunkGraph.build(entities, [], hub_discount=discount), {"seed": 1.0}).chunks)
        ratios[discount] = scores["c_target"] / scores["h0"]
    assert ratios[True] > 1.5 * ratios[False]
    g = EntityChunkGraph.build(entities, [])
    out = {g.entity_keys[int(d)]: float(t) for s_, d, t in zip(g.src, g.dst, g.transition)
           if int(s_) == len(g.entity_keys) + g.chunk_index["c_start"]}
    assert out["specific"] > 2 * out["american"]


def test_local_push_agrees_with_the_power_iteration() -> None:
    rng = np.random.default_rng(3)
    entities = [entity(f"e{i}", *{f"c{j}" for j in rng.integers(0, 60, size=int(rng.integers(1, 8)))}) for i in range(80)]
    relations = [relation(f"e{a}", f"e{b}", float(rng.integers(1, 4))) for a, b in rng.integers(0, 80, size=(120, 2)) if a != b]
    g = EntityChunkGraph.build(entities, relations)
    from graphrag.query.push import push_pagerank

    for damping in (0.5, 0.8):
        reset = np.zeros(g.n_nodes)
        reset[rng.integers(0, g.n_nodes, size=5)] = rng.random(5)
        exact = personalized_pagerank(g.n_nodes, g.src, g.dst, g.transition, reset, damping=damping, tol=1e-12, max_iter=2000)
        pushed = push_pagerank(g.indptr, g.csr_dst, g.csr_transition, reset, damping=damping, eps=1e-9)
        assert np.abs(exact - pushed).sum() < 1e-5
        top = np.argsort(-exact)[:10]
        assert list(np.argsort(-pushed)[:10]) == list(top)


def _random_graph(rng: np.random.Generator) -> EntityChunkGraph:
    """400 entities in 1-5 of 300 chunks each, 600 relations."""
    entities = [entity(f"e{i}", *{f"c{j}" for j in rng.integers(0, 300, size=int(rng.integers(1, 6)))}) for i in range(400)]
    relations = [relation(f"e{a}", f"e{b}", float(rng.integers(1, 4))) for a, b in rng.integers(0, 400, size=(600, 2)) if a != b]
    return EntityChunkGraph.build(entities, relations)


def _push_sweeping_every_node(indptr, dst, transition, reset, *, damping, eps, max_rounds=500):  # type: ignore[no-untyped-def]
    """The push as it was before rounds tracked their frontier: every round scans and adds
    a residual vector over all nodes."""
    n = len(reset)
    r0 = reset / reset.sum()
    p, r = np.zeros(n), r0.copy()
    degree = np.diff(indptr)
    for _ in range(max_rounds):
        frontier = np.flatnonzero(r > eps)
        if not len(frontier):
            break
        mass = r[frontier]
        r[frontier] = 0.0
        p[frontier] += (1.0 - damping) * mass
        moving = damping * mass
        stuck = moving[degree[frontier] == 0].sum()
        counts = degree[frontier]
        if counts.sum():
            offsets = np.repeat(indptr[frontier] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
            edges = offsets + np.arange(counts.sum())
            r += np.bincount(dst[edges], weights=np.repeat(moving, counts) * transition[edges], minlength=n)
        if stuck > 0:
            r += stuck * r0
    return p


@pytest.mark.parametrize("dense_round", [0, 10**9])  # every round sorts its targets / every round is dense
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_push_touching_only_its_frontier_equals_the_full_sweep(seed: int, dense_round: int, monkeypatch) -> None:
    # Random graphs with isolated (dangling) nodes among the reset nodes, so mass also jumps
    # back; the frontier-only rounds must give the very same floats, not just close ones.
    import graphrag.query.push as push

    monkeypatch.setattr(push, "DENSE_ROUND", dense_round)
    rng = np.random.default_rng(seed)
    g = _random_graph(rng)
    from graphrag.query.push import push_pagerank

    isolated = 7
    indptr = np.concatenate([g.indptr, np.full(isolated, g.indptr[-1], dtype=np.int64)])
    reset = np.zeros(g.n_nodes + isolated)
    reset[rng.integers(0, g.n_nodes, size=6)] = rng.random(6)
    reset[g.n_nodes + 2] = 0.5
    for eps in (1e-5, 1e-8):
        expected = _push_sweeping_every_node(indptr, g.csr_dst, g.csr_transition, reset, damping=0.5, eps=eps)
        got = push_pagerank(indptr, g.csr_dst, g.csr_transition, reset, damping=0.5, eps=eps)
        assert np.array_equal(expected, got)



def test_the_degree_scaled_threshold_spares_the_hubs_and_keeps_the_ranking() -> None:
    # A graph of many chunks around a few hubs: with the threshold scaled by a node's edges
    # the hubs push only when they hold much mass, so far fewer edges are visited, and the
    # best chunks are those of a near-exact walk.
    rng = np.random.default_rng(5)
    hubs = [f"h{i}" for i in range(4)]
    entities = []
    for c in range(3000):
        names = {f"e{j}" for j in rng.integers(0, 6000, size=3)} | ({hubs[(c // 2) % 4]} if c % 2 == 0 else set())
        entities += [entity(n, f"c{c}") for n in names]
    merged: dict[str, list[str]] = {}
    for e in entities:
        merged.setdefault(e.key, []).extend(e.source_ids)
    g = EntityChunkGraph.build([entity(k, *v) for k, v in merged.items()], [])
    from graphrag.query.push import push_pagerank

    reset = np.zeros(g.n_nodes)
    reset[[g.entity_index[h] for h in hubs[:2]]] = 1.0
    reset[len(g.entity_keys) + rng.integers(0, 3000, size=5)] = 0.5
    visits: dict[float, int] = {}
    real_bincount = np.bincount

    def counting(x, weights=None, minlength=0):  # type: ignore[no-untyped-def]
        visits[key] += len(x)
        return real_bincount(x, weights=weights, minlength=minlength)

    results = {}
    for key in (0.0, 1e-6):
        visits[key] = 0
        np.bincount = counting
        try:
            results[key] = push_pagerank(g.indptr, g.csr_dst, g.csr_transition, reset, damping=0.5, eps=1e-6,
                                         eps_per_edge=key)
        finally:
            np.bincount = real_bincount
    exact = push_pagerank(g.indptr, g.csr_dst, g.csr_transition, reset, damping=0.5, eps=1e-10)
    best = set(np.argsort(-exact[len(g.entity_keys):])[:20])
    for p in results.values():
        assert set(np.argsort(-p[len(g.entity_keys):])[:20]) == best
    assert visits[1e-6] < 0.7 * visits[0.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_walk_going_on_from_another_is_the_walk_of_its_own_reset(seed: int) -> None:
    # Bridge feedback's second walk goes on from the first (push_walk's start): the reset
    # moves (mass leaves the seeds for new nodes, a node without edges joins at the end),
    # and the result must be the power iteration's for the new reset, as a walk from
    # nothing is, with the same best nodes.
    from graphrag.query.push import push_walk

    rng = np.random.default_rng(seed)
    g = _random_graph(rng)
    isolated = 3
    indptr = np.concatenate([g.indptr, np.full(isolated, g.indptr[-1], dtype=np.int64)])
    n = g.n_nodes + isolated
    first = np.zeros(n - 1)  # the last isolated node is not yet a node of the first walk
    first[rng.integers(0, g.n_nodes, size=4)] = rng.random(4)
    first[g.n_nodes] = 0.3  # mass jumps back from here, by the first reset
    second = np.zeros(n)
    second[: n - 1] = first * 0.6
    second[rng.integers(0, g.n_nodes, size=3)] += rng.random(3)
    second[n - 1] = 0.2
    src = np.repeat(np.arange(n), np.diff(indptr))
    for damping in (0.5, 0.8):
        exact = personalized_pagerank(n, src, g.csr_dst, g.csr_transition, second, damping=damping, tol=1e-13, max_iter=5000)
        before = push_walk(indptr[:n], g.csr_dst, g.csr_transition, first, damping=damping, eps=1e-9)
        assert before is not None and before.stuck > 0
        went_on = push_walk(indptr, g.csr_dst, g.csr_transition, second, damping=damping, eps=1e-9, start=before)
        fresh = push_walk(indptr, g.csr_dst, g.csr_transition, second, damping=damping, eps=1e-9)
        assert went_on is not None and fresh is not None
        assert np.abs(exact - went_on.p).sum() < 1e-5
        assert np.abs(exact - fresh.p).sum() < 1e-5
        assert list(np.argsort(-went_on.p)[:10]) == list(np.argsort(-exact)[:10])
        assert not np.array_equal(went_on.p, fresh.p)  # it did go on, not walk again


def test_the_second_ranking_goes_on_from_the_first_with_its_outside_chunks() -> None:
    g = two_hop_graph()
    first = rank_chunks_ppr(g, {"q1": 1.0}, {"c_other": 0.9, "outside": 0.4})
    again = rank_chunks_ppr(g, {"q1": 1.0, "x": 0.5}, {"c_other": 0.9, "outside": 0.4, "outside2": 0.3}, after=first)
    fresh = rank_chunks_ppr(g, {"q1": 1.0, "x": 0.5}, {"c_other": 0.9, "outside": 0.4, "outside2": 0.3})
    assert [c for c, _ in again.chunks] == [c for c, _ in fresh.chunks]
    assert {"outside", "outside2"} <= dict(again.chunks).keys()
    for (_, a), (_, b) in zip(again.chunks, fresh.chunks):
        assert a == pytest.approx(b, abs=10 * PUSH_EPS)
    assert again.extra == {"outside": g.n_nodes, "outside2": g.n_nodes + 1}
