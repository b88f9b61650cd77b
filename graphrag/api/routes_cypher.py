"""POST /cypher (read-only Cypher) and /query/cypher (text-to-Cypher), both through the one
guard (graphrag.cypher_guard) and confined to the request's workspace unless an admin of
every workspace asks for `all_workspaces`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status

from graphrag.api.deps import ApiContext, Principal, get_ctx, get_principal
from graphrag.api.models import CypherRequest, CypherResponse, TextToCypherRequest, TextToCypherResponse
from graphrag.errors import StoreError

router = APIRouter(tags=["query"])

_CYPHER_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "refused (writes, admin commands), invalid Cypher, or the graph store is not Neo4j"},
    403: {"description": "all_workspaces needs an admin key of every workspace"},
}


def _cypher_limit(ctx: ApiContext, limit: int | None) -> int:
    cap = ctx.settings.api_cypher_row_limit
    return min(limit, cap) if limit is not None else cap


def _store_error(exc: StoreError) -> HTTPException:
    """A query Neo4j rejects or stops is the client's (400); an unreachable server is ours (503)."""
    text = str(exc)
    return HTTPException(503 if "unreachable" in text else 400, text)


def _check_scope(all_workspaces: bool, principal: Principal) -> None:
    if all_workspaces and not principal.admin_everywhere:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "all_workspaces needs an admin API key for every workspace (workspaces: [\"*\"])")


@router.post("/cypher", response_model=CypherResponse, summary="run a read-only Cypher query (Neo4j)",
             responses=_CYPHER_ERRORS)
def cypher(body: CypherRequest, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(get_principal)) -> dict[str, Any]:
    """Read-only exactly like `graphrag cypher`: Neo4j's EXPLAIN must call it a read, with no
    LOAD CSV, SHOW, TERMINATE, USE or procedure outside the allow-list; it runs in a READ
    transaction with a timeout and a row limit (`truncated` says when rows were cut). Every
    node pattern is bound to this request's workspace (`$workspace`, set by the server)."""
    _check_scope(body.all_workspaces, principal)
    try:
        result = ctx.rag.cypher(body.query, body.params, timeout=ctx.settings.api_cypher_timeout,
                                row_limit=_cypher_limit(ctx, body.limit), all_workspaces=body.all_workspaces)
    except StoreError as exc:
        raise _store_error(exc) from exc
    return result.to_dict()


@router.post("/query/cypher", response_model=TextToCypherResponse,
             summary="natural language -> Cypher: the generated query and its rows",
             responses={**_CYPHER_ERRORS, 502: {"description": "the chat model failed"}})
async def query_cypher(body: TextToCypherRequest, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    """The chat model writes a query from the live schema; it must pass the guard (Neo4j's
    EXPLAIN), with one retry given the error; then it runs like POST /cypher, confined to this
    request's workspace."""
    from graphrag.text_to_cypher import text_to_cypher

    try:
        result = await text_to_cypher(ctx.rag, body.question, timeout=ctx.settings.api_cypher_timeout,
                                      row_limit=_cypher_limit(ctx, body.limit))
    except StoreError as exc:
        raise _store_error(exc) from exc
    return result.to_dict()
