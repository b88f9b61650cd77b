"""Running a user's Cypher query on Neo4j through the guard (graphrag.cypher_guard).

One READ transaction with a server-side timeout: EXPLAIN the query, check the plan, then
run the very same text, fetch at most `row_limit + 1` rows, and check that no row carries a
node or relationship of another workspace.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import neo4j
from neo4j import READ_ACCESS, unit_of_work
from neo4j.exceptions import ClientError, DriverError, Neo4jError, ServiceUnavailable

from graphrag.cypher import CypherResult, to_jsonable
from graphrag.cypher_guard import check_plan, prepare
from graphrag.cypher_tenancy import foreign_values
from graphrag.errors import CypherNotAllowedError, StoreError

if TYPE_CHECKING:
    from graphrag.stores.neo4j_graph import Neo4jGraphStore

_FUNCTIONS_QUERY = "SHOW FUNCTIONS YIELD name, isBuiltIn RETURN toLower(name) AS name, isBuiltIn"
_functions_lock = threading.Lock()


def server_functions(store: "Neo4jGraphStore") -> tuple[frozenset[str], frozenset[str]]:
    """(every function name, the user-defined ones), lower case, asked once per store."""
    cached = store.__dict__.get("_cypher_functions")
    if cached is not None:
        return cached
    with _functions_lock:
        with store._errors("listing the server's functions"), store._session(default_access_mode=READ_ACCESS) as s:
            rows = s.execute_read(lambda tx: [r.data() for r in tx.run(_FUNCTIONS_QUERY)])
        names = frozenset(r["name"] for r in rows)
        udfs = frozenset(r["name"] for r in rows if not r["isBuiltIn"])
        store.__dict__["_cypher_functions"] = (names, udfs)
        return names, udfs


def run_user_cypher(
    store: "Neo4jGraphStore",
    query: str,
    params: dict[str, Any] | None = None,
    *,
    workspace: str | None,
    timeout: float = 30.0,
    row_limit: int = 1000,
) -> CypherResult:
    """`query` read-only, confined to `workspace` (None: every workspace)."""
    if row_limit < 1:
        raise StoreError("row_limit must be at least 1")
    functions, udfs = server_functions(store)
    guarded = prepare(query, params, workspace=workspace, default_workspace=store.namespace,
                      functions=functions, user_functions=udfs)

    @unit_of_work(timeout=timeout)
    def work(tx: neo4j.ManagedTransaction) -> tuple[list[str], list[neo4j.Record], Any]:
        plan = tx.run("EXPLAIN " + guarded.text, guarded.params).consume()
        check_plan(plan.query_type, plan.plan, database=plan.database, procedures=guarded.procedures)
        result = tx.run(guarded.text, guarded.params)
        keys = list(result.keys())
        records = result.fetch(row_limit + 1)
        return keys, records, result.consume()

    try:
        with store._session(default_access_mode=READ_ACCESS, notifications_min_severity="WARNING") as session:
            keys, records, summary = session.execute_read(work)
    except ClientError as e:
        code = e.code or ""
        if "AccessMode" in code:
            raise CypherNotAllowedError(
                f"refused by Neo4j: the query tries to write ({e.message}); `graphrag cypher` runs read-only queries"
            ) from e
        if "TransactionTimedOut" in code or "Transaction.Terminated" in code:
            raise StoreError(f"the query ran longer than {timeout:g} s and was stopped; "
                             "narrow it (LIMIT, a label, a key) or raise --timeout") from e
        raise StoreError(f"Neo4j could not run the query: {e.message} ({code})") from e
    except ServiceUnavailable as e:
        raise StoreError(f"Neo4j at {store.uri} is unreachable: {e}; check that it runs") from e
    except (OverflowError, TypeError, ValueError) as e:  # the driver could not encode a parameter
        raise CypherNotAllowedError(
            f"a parameter cannot be sent to Neo4j: {e} (integers must fit in 64 bits)"
        ) from e
    except (Neo4jError, DriverError) as e:
        raise StoreError(f"Neo4j could not run the query: {e}") from e
    if guarded.workspace is not None:
        foreign = sum(foreign_values(v, guarded.workspace) for rec in records for v in rec.values())
        if foreign:
            raise CypherNotAllowedError(
                f"refused: the result holds {foreign} node(s) or relationship(s) of another workspace; "
                f"bind every node to this workspace ({{workspace: $workspace}})"
            )
    truncated = len(records) > row_limit
    rows = [{k: to_jsonable(v) for k, v in zip(keys, rec.values())} for rec in records[:row_limit]]
    notifications = [
        status.status_description
        for status in (getattr(summary, "gql_status_objects", None) or [])
        if getattr(status, "is_notification", False)
    ]
    return CypherResult(columns=keys, rows=rows, truncated=truncated, row_limit=row_limit,
                        notifications=notifications)
