"""POST /query, /query/stream (server-sent events), /cypher and /query/cypher (text-to-Cypher)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from graphrag.api.app import ApiContext, get_ctx
from graphrag.api.models import (
    CypherRequest,
    CypherResponse,
    QueryRequest,
    TextToCypherRequest,
    TextToCypherResponse,
)
from graphrag.errors import GraphRAGError, StoreError

router = APIRouter(tags=["query"])

_CYPHER_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "refused (writes, admin commands), invalid Cypher, or the graph store is not Neo4j"},
}


@router.post("/query", summary="answer a question from the index, with references")
def query(body: QueryRequest, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    """The answer with its references, the ranked entities, relations and chunks, the
    context, timings and LLM usage (`llm`)."""
    result = ctx.rag.query(body.question, body.mode, body.top_k, only_context=body.only_context, history=body.history)
    return result.to_dict()


def _sse(event: str, data: Any) -> str:
    payload = json.dumps(data, ensure_ascii=False, default=str)
    return f"event: {event}\ndata: {payload}\n\n"


@router.post(
    "/query/stream",
    summary="the answer as server-sent events: references, then tokens, then the result",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "events `references` (the context's sources), `token` ({text}) "
                     "repeated, then `result` (the whole query result) or `error` ({detail})"}},
)
async def query_stream(body: QueryRequest, ctx: ApiContext = Depends(get_ctx)) -> StreamingResponse:
    return StreamingResponse(
        _stream(ctx, body), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(ctx: ApiContext, body: QueryRequest) -> AsyncIterator[str]:
    try:
        engine = await asyncio.to_thread(lambda: ctx.rag.query_engine)
        stream = engine.stream(
            body.question, body.mode, body.top_k, only_context=body.only_context, history=body.history
        )
        context = await stream.prepare()
        yield _sse("references", [asdict(r) for r in context.references])
        async for piece in stream:
            if piece:
                yield _sse("token", {"text": piece})
        assert stream.result is not None
        yield _sse("result", stream.result.to_dict())
    except GraphRAGError as exc:  # the status line is sent already: report in the stream
        yield _sse("error", {"detail": str(exc), "error": type(exc).__name__})


def _cypher_limit(ctx: ApiContext, limit: int | None) -> int:
    cap = ctx.settings.api_cypher_row_limit
    return min(limit, cap) if limit is not None else cap


def _store_error(exc: StoreError) -> HTTPException:
    """A query Neo4j rejects or stops is the client's (400); an unreachable server is ours (503)."""
    text = str(exc)
    return HTTPException(503 if "unreachable" in text else 400, text)


@router.post("/cypher", response_model=CypherResponse, summary="run a read-only Cypher query (Neo4j)",
             responses=_CYPHER_ERRORS)
def cypher(body: CypherRequest, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    """Read-only exactly like `graphrag cypher`: writes and admin commands are refused
    before they reach Neo4j, the query runs in a READ transaction with a timeout and a row
    limit (`truncated` says when rows were cut). `$workspace` is this workspace's namespace."""
    try:
        result = ctx.rag.cypher(body.query, body.params, timeout=ctx.settings.api_cypher_timeout,
                                row_limit=_cypher_limit(ctx, body.limit))
    except StoreError as exc:
        raise _store_error(exc) from exc
    return result.to_dict()


@router.post("/query/cypher", response_model=TextToCypherResponse,
             summary="natural language -> Cypher: the generated query and its rows",
             responses={**_CYPHER_ERRORS, 502: {"description": "the chat model failed"}})
async def query_cypher(body: TextToCypherRequest, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    """The chat model writes a query from the live schema; it must be read-only and pass
    EXPLAIN, with one retry given the error; then it runs like POST /cypher."""
    from graphrag.api.text_to_cypher import text_to_cypher

    try:
        result = await text_to_cypher(ctx.rag, body.question, timeout=ctx.settings.api_cypher_timeout,
                                      row_limit=_cypher_limit(ctx, body.limit))
    except StoreError as exc:
        raise _store_error(exc) from exc
    return result.to_dict()
