"""Every lookup by key or id is an index seek, whatever the statistics say.

Neo4j plans a query once and caches the plan until the statistics drift. Planned while the
database is small or was just emptied (a fresh server, the first batch of a run, after a
workspace was dropped), Neo4j used to look entities up through the workspace-only index and
filter by key, and even satisfied `USING INDEX` hints with a scan of the whole
(workspace, key) index: a scan per row, which made a first big write take 6-25 s instead
of 1.5 s (and a read of k keys cost k scans of the workspace). The queries now pin their
seeks with `USING INDEX SEEK`, so the plan no longer depends on the statistics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from graphrag.models import Chunk, DocumentRecord, Entity
from graphrag.stores import neo4j_queries as Q

# These read or drop a whole workspace: the workspace index is the right one for them.
WHOLE_WORKSPACE = {"ALL_CHUNKS", "ALL_DOCUMENTS", "DROP_NAMESPACE", "ENTITY_KEYS", "RELATION_KEYS", "STATS"}

ROW = {"key": "a|b", "id": "c1", "document_id": "d1", "source": "a", "target": "b", "description": "",
       "keywords": [], "weight": 1.0, "source_ids": ["c1"], "label": "Person", "name": "a", "type": "PERSON",
       "aliases": [], "alias_sources": [], "alias_text": "", "alias_keys": [], "query": '"a"'}


def _operators(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield plan["operatorType"].split("@")[0], str(plan.get("args", {}).get("Details", ""))
    for child in plan.get("children", []):
        yield from _operators(child)


def _queries() -> list[tuple[str, str]]:
    found = []
    for name in sorted(n for n in dir(Q) if n.isupper() and not n.startswith("_")):
        value = getattr(Q, name)
        found += [(f"{name}[{i}]" if isinstance(value, list) else name, text)
                  for i, text in enumerate(value if isinstance(value, list) else [value])]
    return found


@pytest.fixture(scope="module")
def small_workspace() -> Iterator[str]:
    """Entities just written and no relation yet, on statistics sampled before them: the
    state in which a fresh server plans the first relation batch of a run."""
    from graphrag.stores.neo4j_graph import Neo4jGraphStore
    from tests.neo4j_support import fresh_namespace, neo4j_test_uri

    store = Neo4jGraphStore(neo4j_test_uri(), namespace=fresh_namespace("plans"))
    try:
        # Index statistics as on a fresh server: sampled while this workspace was empty (the
        # planner then thinks a scan of the whole index costs nothing).
        store._read("CALL db.prepareForReplanning()", "resampling the indexes")
        store.upsert_documents([DocumentRecord(id="d1", source="d1.txt", title="d1", content_hash="h")])
        store.upsert_chunks([Chunk(id=f"c{i}", document_id="d1", text="t", order=i, n_tokens=1) for i in range(20)])
        store.upsert_entities([Entity(key=f"e{i}", name=f"e{i}", type="PERSON", description="", source_ids=("c1",))
                               for i in range(200)])
        yield store.uri
    finally:
        store.drop_namespace()
        store.close()


@pytest.mark.neo4j
@pytest.mark.parametrize(("name", "query"), _queries(), ids=[n for n, _ in _queries()])
def test_lookups_by_key_are_index_seeks(small_workspace: str, name: str, query: str) -> None:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(small_workspace, notifications_min_severity="OFF") as driver, driver.session() as s:
        plan = s.run("CYPHER replan=force EXPLAIN " + query, ws="plans-probe", rows=[ROW], keys=["a", "b"],
                     limit=10).consume().plan
    operators = list(_operators(plan))
    scans = [(op, d) for op, d in operators if "Scan" in op]
    assert not scans, f"{name} scans: {scans}"
    if name.split("[")[0] not in WHOLE_WORKSPACE:
        by_workspace = [(op, d) for op, d in operators if "Seek" in op and "(workspace)" in d]
        assert not by_workspace, f"{name} looks keys up through the workspace-only index: {by_workspace}"
