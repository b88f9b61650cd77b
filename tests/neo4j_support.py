"""Access to the test Neo4j server that scripts/run-tests starts (scripts/neo4j-test-server).

`neo4j_test_uri()` returns its Bolt URI, or skips the calling test with the reason (fails it
when GRAPHRAG_REQUIRE_NEO4J=1, as in CI, so a missing server can never pass silently).
"""

from __future__ import annotations

import os
import uuid
from functools import lru_cache

import pytest

URI_ENV = "GRAPHRAG_TEST_NEO4J_URI"
REQUIRE_ENV = "GRAPHRAG_REQUIRE_NEO4J"


@lru_cache(maxsize=None)
def _probe(uri: str) -> str | None:
    """None if a Bolt server answers at `uri`, else why not."""
    from neo4j import GraphDatabase

    try:
        with GraphDatabase.driver(uri, auth=None, connection_timeout=5.0) as driver:
            driver.verify_connectivity()
    except Exception as e:  # noqa: BLE001 - any failure means "no usable server"
        return f"the test Neo4j at {uri} does not answer: {type(e).__name__}: {e}"
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def neo4j_test_uri() -> str:
    uri = os.environ.get(URI_ENV, "").strip()
    if not uri:
        _unavailable(
            f"{URI_ENV} is not set: run the tests through scripts/run-tests (make test), or "
            f"`scripts/neo4j-test-server start` and export {URI_ENV}=bolt://127.0.0.1:7687"
        )
    reason = _probe(uri)
    if reason is not None:
        _unavailable(reason + "; start it with scripts/neo4j-test-server start")
    return uri


def fresh_namespace(prefix: str = "test") -> str:
    """A workspace name no other test uses, so tests share the server without interfering."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
