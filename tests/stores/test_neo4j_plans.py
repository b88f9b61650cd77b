"""The batched relation write has one plan whatever the statistics say.

Planned while the database is small (a fresh server, the first batch of a run; the plan is
then cached for later batches), Neo4j used to find relation endpoints and the reversed
relation through the workspace-only indexes and filter by key: a scan of the workspace per
row, which made the first big write 5-25x slower than the next one. The query now pins the
(workspace, key) index and finds the reversed relation between its two endpoints.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.stores import neo4j_queries as Q


def _operators(plan: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(plan["operatorType"], str(plan.get("args", {}).get("Details", "")))]
    for child in plan.get("children", []):
        found += _operators(child)
    return found


@pytest.mark.neo4j
@pytest.mark.parametrize("query", ["UPSERT_RELATIONS", "VALIDATE_RELATIONS"])
def test_relation_writes_never_scan_a_workspace_per_row(query: str) -> None:
    from neo4j import GraphDatabase

    from tests.neo4j_support import neo4j_test_uri

    row = {"key": "a|b", "source": "a", "target": "b", "description": "", "keywords": [], "weight": 1.0,
           "source_ids": []}
    with GraphDatabase.driver(neo4j_test_uri(), notifications_min_severity="OFF") as driver, driver.session() as s:
        summary = s.run("CYPHER replan=force EXPLAIN " + getattr(Q, query), ws="plan-test", rows=[row],
                        keys=["a", "b"]).consume()
    operators = _operators(summary.plan)
    seeks = [details for op, details in operators if "Seek" in op or "Scan" in op]
    assert seeks, operators
    assert not [d for d in seeks if "(workspace)" in d], seeks  # the workspace-only indexes
    assert all("(workspace, key)" in d for d in seeks), seeks
