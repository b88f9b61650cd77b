"""The retrieval modes: each ranks entities, relations and chunks for one question.

- naive:  the text channels alone: dense similarity of the question to the chunks, fused
          with BM25 when the lexical channel is on.
- local:  entity-centred (retrieve.py): the entities the low-level keywords match and their
          relations; chunks ranked by a PageRank walk that restarts at those entities (and
          at the question's closest chunks).
- global: relation-centred: the relations the high-level keywords match and their
          endpoints; chunks ranked by a walk that restarts at those endpoints.
- hybrid: local's and global's entities and relations; chunks by a walk from both.
- mix:    hybrid's entities and relations; chunks from personalized PageRank (optionally
          fused with the same evidence as hybrid's: `query_mix_fusion`).
- ppr:    HippoRAG-style personalized PageRank alone (retrieve_ppr.py).

The graph evidence of local, global and hybrid alone ranks passages worse than dense
retrieval (on MuSiQue dev, recall@5 51, 12 and 48 against 63): it names the right entities
but not which of their many chunks answers. Fused by rank with the dense channel (fusion.py)
it still ranked below dense at every weight tried on the full dev set (recall@5 57-62 vs
63): a matched entity's chunks are many and tie. A walk from the mode's own seeds with the
dense prior ranks the chunks where the seeds and the question meet, as ppr does for its
broader seed set; the mode keeps its character through which seeds it starts from.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphrag.indexer import ENTITIES_TABLE, RELATIONS_TABLE
from graphrag.query.fusion import Channel, fuse_chunks
from graphrag.query.lexical import LexicalSearcher
from graphrag.query.result import Keywords
from graphrag.query.retrieve import QueryVectors, Ranked, Retriever, Timer, merge_graph_parts
from graphrag.query.retrieve_ppr import FACT_SEEDS, SEEDS_PER_QUERY, PPRRetriever

# Candidates each channel contributes before fusion: deep enough that a chunk ranked well by
# one channel and moderately by another is seen by both.
FUSION_DEPTH = 50
# Global's evidence is diffuse (a matched relation's source chunks are many, and offline
# high-level keywords match loosely): at the local weight it pulls recall below dense
# retrieval's (MuSiQue slice: recall@5 71 vs 79), at a quarter of it it adds without losing.
GLOBAL_SHARE = 0.25
# Global's seeds (the endpoints of loosely matched relations) are diffuse, so its walk keeps
# more of its restart mass on the question's closest chunks than the other walks do.
GLOBAL_PRIOR_SHARE = 0.75
# Hybrid's seeds include global's endpoints, so its walk does the same: on MuSiQue dev,
# recall@5 62.9 -> 68.8 (spaCy graph) and 65.9 -> 70.8 (replayed GPT-3.5) against 0.5, both
# halves of the questions up. Local's own seeds are sharp: 0.75 helped it on one graph only.
HYBRID_PRIOR_SHARE = 0.75
# Bridge feedback (retrieve_ppr.BRIDGE_CHUNKS) in the walks of the LightRAG modes, MuSiQue dev
# recall@5 first half / held-out half, spaCy and replayed GPT-3.5 graph: local +3.0 / +2.0
# and +2.7 / +4.6, global +1.0 / +1.0 and 0 / +2.6, hybrid -0.5 / +2.0 and -1.0 / -0.6.
# Hybrid's seeds are many and diffuse (local's and global's), so "related to the question's
# own entities" selects little there: it walks once.
HYBRID_BRIDGE = 0.0
# The question rewritten around the bridges (retrieve_ppr.REWRITE_BRIDGES), recall@5 / @2 of
# the whole dev set, spaCy and replayed graph: local +4.5 / +4.1 and +2.5 / -0.6 (first half
# up on both), global +1.9 / +2.5 and -2.5 / +1.1 (first half of the replayed graph -0.4):
# global's bridges come from loosely matched relations; it does not rewrite.
GLOBAL_REWRITE = False

ModeFn = Callable[[Keywords, QueryVectors, int, Timer], Ranked]


class ModeRunner:
    def __init__(self, retriever: Retriever, ppr: PPRRetriever, lexical: LexicalSearcher) -> None:
        self.retriever = retriever
        self.ppr_retriever = ppr
        self.lexical = lexical
        self.settings = retriever.settings

    def mode(self, name: str) -> ModeFn:
        return {
            "naive": self.naive,
            "local": self.local,
            "global": self.global_,
            "hybrid": self.hybrid,
            "mix": self.mix,
            "ppr": self.ppr,
        }[name]

    # ------------------------------------------------------------ channels
    def text_channels(self, qv: QueryVectors, top_k: int, timer: Timer) -> list[Channel]:
        """Dense similarity of the question, and BM25 when the lexical channel is on."""
        depth = max(top_k, FUSION_DEPTH)
        s = self.settings
        channels = [Channel("dense", self.retriever.chunk_hits(qv.question, depth, timer), 1.0)]
        if s.query_lexical and s.query_lexical_weight > 0 and qv.text:
            with timer("lexical"):
                channels.append(Channel("lexical", self.lexical.search(qv.text, depth), s.query_lexical_weight))
        return channels

    def _graph_channel(self, name: str, part: Ranked) -> Channel:
        share = GLOBAL_SHARE if name == "global" else 1.0
        return Channel(name, part.chunk_scores, self.settings.query_graph_weight * share)

    # ------------------------------------------------------------ modes
    def naive(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        channels = self.text_channels(qv, top_k, timer)
        if len(channels) == 1:
            return Ranked(chunk_scores=dict(list(channels[0].scores.items())[:top_k]))
        return Ranked(chunk_scores=fuse_chunks(channels, top_k))

    def _walk_from(
        self,
        part: Ranked,
        qv: QueryVectors,
        top_k: int,
        timer: Timer,
        prior_share: float | None = None,
        bridge: float | None = None,
        rewrite: bool | None = None,
    ) -> dict[str, float]:
        """Chunks by a PageRank walk from the mode's entities; the text channels when it
        found none."""
        seeds = {key: score for key, score in part.entity_scores.items() if score > 0}
        if not seeds:
            return self.naive(Keywords(), qv, top_k, timer).chunk_scores
        return dict(self.ppr_retriever.walk(seeds, qv, top_k, timer, prior_share, bridge, rewrite).chunks[:top_k])

    def local(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        part = self.retriever.local(keywords, qv, max(top_k, FUSION_DEPTH), timer)
        part.chunk_scores = self._walk_from(part, qv, top_k, timer)
        return part

    def global_(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        part = self.retriever.global_(keywords, qv, max(top_k, FUSION_DEPTH), timer)
        part.chunk_scores = self._walk_from(part, qv, top_k, timer, GLOBAL_PRIOR_SHARE, rewrite=GLOBAL_REWRITE)
        return part

    def _hybrid_parts(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> tuple[Ranked, list[Channel]]:
        depth = max(top_k, FUSION_DEPTH)
        local = self.retriever.local(keywords, qv, depth, timer)
        global_ = self.retriever.global_(keywords, qv, depth, timer)
        merged = merge_graph_parts([local, global_], self.settings)
        return merged, [self._graph_channel("local", local), self._graph_channel("global", global_)]

    def hybrid(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        merged, _ = self._hybrid_parts(keywords, qv, top_k, timer)
        merged.chunk_scores = self._walk_from(merged, qv, top_k, timer, HYBRID_PRIOR_SHARE, HYBRID_BRIDGE)
        return merged

    def mix(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        """Hybrid's entities and relations; chunks: PPR's ranking, which already restarts at
        the dense hits and at the entities the keywords match. With `query_mix_fusion`, PPR
        fused with the text channels and hybrid's graph evidence, PPR weighted highest: on a
        MuSiQue slice that ranked below PPR alone at every weight tried (recall@5 84-88 vs
        90), so it is off by default."""
        self._prefetch(qv, timer)
        merged, graph = self._hybrid_parts(keywords, qv, top_k, timer)
        s = self.settings
        if not s.query_mix_fusion:
            merged.chunk_scores = self.ppr_retriever.ppr(keywords, qv, top_k, timer).chunk_scores
            return merged
        ppr = self.ppr_retriever.ppr(keywords, qv, max(top_k, FUSION_DEPTH), timer)
        channels = [
            Channel("ppr", ppr.chunk_scores, s.query_mix_ppr_weight),
            *self.text_channels(qv, top_k, timer),
            *graph,
        ]
        merged.chunk_scores = fuse_chunks(channels, top_k)
        return merged

    def ppr(self, keywords: Keywords, qv: QueryVectors, top_k: int, timer: Timer) -> Ranked:
        return self.ppr_retriever.ppr(keywords, qv, top_k, timer)

    def _prefetch(self, qv: QueryVectors, timer: Timer) -> None:
        """mix searches both graph tables with the keywords (hybrid) and with the question
        (ppr): one pass over each table's vectors instead of two (MuSiQue dev workspace:
        mix's search time 60 -> 30 ms, a busy 2-core machine)."""
        s = self.settings
        searcher = self.retriever.searcher
        question = qv.question[None, :]
        with timer("search"):
            searcher.prefetch(
                ENTITIES_TABLE, np.vstack([qv.low, question]) if len(qv.low) else question,
                max(s.query_top_k_entities, SEEDS_PER_QUERY),
            )
            searcher.prefetch(
                RELATIONS_TABLE, np.vstack([qv.high, question]) if len(qv.high) else question,
                max(s.query_top_k_relations, FACT_SEEDS),
            )
