"""Retrieval goes through the store protocols only, so Neo4j and NetworkX give the same
rankings for the same index."""

from __future__ import annotations

import pytest

from graphrag.core import GraphRAG
from graphrag.query.result import QUERY_MODES
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder

QUESTIONS = ["Who is Scrooge?", "What did the Ghost show?", "Where is the counting-house?"]


@pytest.mark.parametrize("graph_backend", [pytest.param("neo4j", marks=pytest.mark.neo4j)], indirect=True)
def test_every_mode_ranks_the_same_on_neo4j_and_networkx(
    graph_backend: str, make_rag, make_settings, write_docs, sample_texts
) -> None:
    paths = write_docs(sample_texts)
    on_neo4j = make_rag("neo4j")
    assert on_neo4j.settings.graph_store == "neo4j"
    on_networkx = GraphRAG(make_settings("nx", extractor="llm"), chat=ScriptedChatModel(derived_extraction_responder))
    try:
        for rag in (on_neo4j, on_networkx):
            rag.index(paths)
        for question in QUESTIONS:
            for mode in QUERY_MODES:
                a = on_neo4j.retrieve(question, mode=mode, top_k=5)
                b = on_networkx.retrieve(question, mode=mode, top_k=5)
                assert a.chunk_ids == b.chunk_ids, (question, mode)
                assert [e.key for e in a.entities] == [e.key for e in b.entities], (question, mode)
                assert {r.key for r in a.relations} == {r.key for r in b.relations}, (question, mode)
        result = on_neo4j.query(QUESTIONS[0], mode="mix")
        chunks = on_neo4j.state.get_chunks([r.chunk_id for r in result.references])
        assert result.references and all(r.chunk_id in chunks for r in result.references)
    finally:
        on_networkx.close()
