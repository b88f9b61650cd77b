"""Personalized PageRank on a graph given as arrays: power iteration, and local push
(Andersen, Chung and Lang) that visits only the edges near the reset nodes and can go on
from an earlier walk towards another reset. Plain numpy: the transition is an edge list
(CSR for the push) and a step is a `bincount`. The entity–chunk graph and its ranking are
in `ppr.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# A push round whose edges number more than 1/DENSE_ROUND of the nodes sums its mass with one
# pass over all nodes; a smaller one sorts its targets instead (`push_pagerank`).
DENSE_ROUND = 16
# A walk that goes on from another (`push_walk`'s `start`) pushes down to this share of the
# thresholds: it starts with the other's leftover residuals, so at the same thresholds its
# error is the sum of two walks'. On 30 second walks of bridge feedback on the 100k-entity
# bench graph (local, global, ppr), against a near-exact walk (threshold 1e-9): the walk from
# nothing had the same top 20 chunks in all 30, in the same order in 20, for a median 934k
# edge visits per pair of walks; going on at 1.0 of the thresholds, 615k visits but two top
# 20s lost a chunk; at 0.7, 709k visits, the same top 20 in all 30 and in order in 21; at
# 0.5, 812k and 22.
WARM_EPS_FACTOR = 0.7


def personalized_pagerank(
    n_nodes: int,
    src: np.ndarray,
    dst: np.ndarray,
    transition: np.ndarray,
    reset: np.ndarray,
    *,
    damping: float,
    dangling: np.ndarray | None = None,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> np.ndarray:
    """Stationary distribution of: with probability `damping` follow an edge (by weight),
    else jump to a node drawn from `reset`. Mass at nodes without edges (`dangling`, a
    boolean mask, computed when not given) jumps by `reset`. Stops when an iteration moves
    less than `tol` of the mass (L1): the error is then about tol * d / (1 - d), far below
    what changes a ranking."""
    total = reset.sum()
    if total <= 0:
        return np.zeros(n_nodes)
    r = reset / total
    if dangling is None:
        dangling = np.bincount(src, minlength=n_nodes) == 0
    p = r.copy()
    for _ in range(max_iter):
        # One step of the walk is a weighted bincount over the edge list (~0.25 ms per
        # 100k edges), faster here than a CSR product written in numpy.
        spread = np.bincount(dst, weights=p[src] * transition, minlength=n_nodes)
        stuck = p[dangling].sum()
        nxt = (1.0 - damping) * r + damping * (spread + stuck * r)
        delta = np.abs(nxt - p).sum()
        p = nxt
        if delta < tol:
            break
    return p


@dataclass
class PushState:
    """Where a push walk stopped: the estimate `p`, the residual `r` (mass not yet pushed;
    every |r[u]| is below u's threshold), the normalized reset `r0` it restarted at, and
    `stuck`, the mass that reached nodes without edges and jumped back by `r0` (a share of
    the reset's unit mass). Enough to continue towards another reset (`push_walk`'s
    `start`) without walking again from nothing."""

    p: np.ndarray
    r: np.ndarray
    r0: np.ndarray
    stuck: float


def push_pagerank(indptr: np.ndarray, dst: np.ndarray, transition: np.ndarray, reset: np.ndarray, **options: Any) -> np.ndarray:
    """`push_walk`'s estimate alone (zeros when `reset` holds no mass)."""
    state = push_walk(indptr, dst, transition, reset, **options)
    return state.p if state is not None else np.zeros(len(reset))


def push_walk(
    indptr: np.ndarray,
    dst: np.ndarray,
    transition: np.ndarray,
    reset: np.ndarray,
    *,
    damping: float,
    eps: float = 1e-7,
    max_rounds: int = 500,
    degree: np.ndarray | None = None,
    eps_per_edge: float = 0.0,
    start: PushState | None = None,
) -> PushState | None:
    """Personalized PageRank by local push (Andersen, Chung and Lang), the same
    distribution as `personalized_pagerank` within `eps` per node: only nodes holding
    residual mass above `eps` push it along their edges, so the work stays near the reset
    nodes instead of sweeping every edge of the graph on every iteration (on MuSiQue dev,
    ~15x fewer edge visits). Each round pushes every such node at once (numpy, no Python
    loop per node). Mass reaching a node without edges jumps back by `reset`, as in the
    power iteration. Edges come as CSR: the edges of u are indptr[u]:indptr[u+1]
    (`degree`: their counts, np.diff(indptr), when the caller keeps them). With
    `eps_per_edge`, a node pushes only when its residual passes max(eps, eps_per_edge *
    its edge count) (see PUSH_EPS_PER_EDGE): the error at a node is then below that
    threshold, and the whole walk visits at most 1 / ((1 - damping) * eps_per_edge) edges.
    None when `reset` holds no mass.

    A round touches only the nodes that received mass in the round before (a node whose
    residual passes `eps` must have received some): no pass over all nodes per round, so
    its cost is that of the edges it pushes along, not the size of the graph (a 100k-entity
    graph: 30 ms a walk before, when every round scanned and rebuilt the whole residual).

    `start`: a walk that stopped on another reset (over the same nodes, or a prefix of
    them). The walk is linear in its reset, so it goes on from there: the estimate so far
    stays, and the residual gains the difference of the two (normalized) resets, plus that
    difference times the mass that jumped back so far, which went by the old reset instead
    of this one. Residuals may then be negative and push negative mass; the result is
    within the thresholds of the walk from nothing, for the work of pushing the difference
    (bridge feedback: a sixth of the reset mass moves, `retrieve_ppr.walk`)."""
    n_nodes = len(reset)
    total = reset.sum()
    if total <= 0:
        return None
    r0 = reset / total
    if start is None:
        p = np.zeros(n_nodes)
        r = r0.copy()
        stuck_so_far = 0.0
        active = np.flatnonzero(r0)
    else:
        p, r, old = (_padded(a, n_nodes) for a in (start.p, start.r, start.r0))
        change = r0 - old
        r += (1.0 + start.stuck) * change
        stuck_so_far = start.stuck
        active = np.flatnonzero(change)
    if degree is None:
        degree = np.diff(indptr)
    if start is not None:
        eps, eps_per_edge = eps * WARM_EPS_FACTOR, eps_per_edge * WARM_EPS_FACTOR
    threshold = np.maximum(eps, eps_per_edge * degree) if eps_per_edge > 0 else None
    restart = np.flatnonzero(r0)
    for _ in range(max_rounds):
        frontier = active[np.abs(r[active]) > (eps if threshold is None else threshold[active])]
        if not len(frontier):
            break
        mass = r[frontier]
        r[frontier] = 0.0
        p[frontier] += (1.0 - damping) * mass
        moving = damping * mass
        counts = degree[frontier]
        stuck = moving[counts == 0].sum()
        reached: np.ndarray | None = None  # a mask over all nodes, when the round is dense
        parts = []
        n_edges = int(counts.sum())
        if n_edges:
            starts = indptr[frontier]
            # The edge positions of every frontier node, as one array.
            offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
            edges = offsets + np.arange(n_edges)
            targets = dst[edges]
            weights = np.repeat(moving, counts) * transition[edges]
            if n_edges * DENSE_ROUND > n_nodes:
                # Many edges for the graph's size (a small graph, a hub's round): one pass
                # over the nodes costs less than sorting the targets.
                spread = np.bincount(targets, weights=weights, minlength=n_nodes)
                r += spread
                reached = spread != 0
            else:
                # Summed per target in order of occurrence, as a bincount over all nodes would.
                at, position = np.unique(targets, return_inverse=True)
                r[at] += np.bincount(position, weights=weights)
                parts.append(at)
        if stuck != 0:
            stuck_so_far += stuck
            r[restart] += stuck * r0[restart]
            if reached is not None:
                reached[restart] = True
            else:
                parts.append(restart)
        if reached is not None:
            active = np.flatnonzero(reached)
        else:
            active = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts)) if parts else restart[:0]
    return PushState(p, r, r0, stuck_so_far)


def _padded(values: np.ndarray, n: int) -> np.ndarray:
    """A copy of `values` with zeros up to length n (nodes added since: prior chunks outside the graph)."""
    out = np.zeros(n)
    out[: len(values)] = values
    return out
