"""POST /query and /query/stream (server-sent events); Cypher is in routes_cypher."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from graphrag.api.deps import ApiContext, get_ctx
from graphrag.api.models import QueryRequest
from graphrag.errors import GraphRAGError

router = APIRouter(tags=["query"])

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
