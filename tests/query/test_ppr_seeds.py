"""Where ppr's walk restarts: the entities the question's keywords, closest facts and
closest entities match, each kind of match with its own share of the mass."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from graphrag.indexer import ENTITIES_TABLE, RELATIONS_TABLE
from graphrag.models import Relation, relation_key
from graphrag.query.ppr import EntityChunkGraph
from graphrag.query.result import Keywords
from graphrag.query.retrieve import QueryVectors, Timer
from graphrag.query.retrieve_ppr import PPRRetriever
from graphrag.settings import Settings
from graphrag.stores.base import VectorHit
from tests.query.test_ppr import entity


class _Searcher:
    def __init__(self, hits: dict[str, list[VectorHit]]) -> None:
        self.hits = hits

    def search(self, table: str, queries: np.ndarray, k: int) -> list[list[VectorHit]]:
        return [self.hits[table][:k] for _ in range(len(queries))]


class _Graph:
    def __init__(self, relations: list[Relation]) -> None:
        self.relations = {r.key: r for r in relations}

    def find_entities(self, names):
        return {}

    def get_relations(self, keys):
        return {k: self.relations[k] for k in keys if k in self.relations}


def test_the_questions_closest_fact_outweighs_its_loosely_matching_entities() -> None:
    """The endpoints of the fact closest to the question name its first hop; an entity whose
    name and description merely resemble the question (a date in a passage about snowfall)
    gets less of the walk's restart mass, though it matched as closely."""
    fact = Relation(relation_key("pearl jam", "brother"), "pearl jam", "brother", "", (), 1.0, ())
    base = SimpleNamespace(
        settings=Settings(),
        graph=_Graph([fact]),
        searcher=_Searcher(
            {
                ENTITIES_TABLE: [VectorHit("november to april", 0.6, "")],
                RELATIONS_TABLE: [VectorHit(fact.key, 0.6, "")],
            }
        ),
    )
    question = np.ones(4, dtype=np.float32) / 2
    qv = QueryVectors(question=question, low=np.zeros((0, 4), np.float32), high=np.zeros((0, 4), np.float32))
    seeds = PPRRetriever(base).seeds(Keywords(), qv, Timer())  # type: ignore[arg-type]
    assert seeds["pearl jam"] > seeds["november to april"]
    assert seeds["brother"] > seeds["november to april"]


def test_a_walk_at_an_entity_goes_to_the_passages_naming_it_first() -> None:
    """HippoRAG's next hop is a passage: from an entity, an edge to a chunk it occurs in
    weighs more than an edge to a related entity, so the walk reaches the passages about
    the entity before it spreads through co-occurring names."""
    g = EntityChunkGraph.build(
        [entity("s", "c_s"), entity("t", "c_t")],
        [Relation(relation_key("s", "t"), "s", "t", "", (), 1.0, ())],
    )
    s = g.entity_index["s"]
    edges = {int(d): float(w) for d, w in zip(g.csr_dst[g.indptr[s] : g.indptr[s + 1]], g.csr_transition[g.indptr[s] : g.indptr[s + 1]])}
    to_chunk = edges[len(g.entity_keys) + g.chunk_index["c_s"]]
    to_entity = edges[g.entity_index["t"]]
    assert to_chunk > 2 * to_entity
