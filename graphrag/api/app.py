"""`create_app()`: the FastAPI application over one `GraphRAG` per process.

Reads run in the request (FastAPI's thread pool for blocking work); writes (ingestion,
deletion) go to a single background worker (`jobs.JobQueue`) that holds the workspace
lock, so a request never waits minutes and two writes never race.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphrag import __version__
from graphrag.api.auth import require_api_key
from graphrag.api.jobs import JobQueue
from graphrag.core import GraphRAG
from graphrag.errors import (
    BackendNotSupportedError,
    ConfigError,
    CypherNotAllowedError,
    DocumentNotFoundError,
    EntityNotFoundError,
    GraphRAGError,
    LLMError,
    LoadError,
    StoreError,
    WorkspaceLockedError,
)
from graphrag.settings import Settings

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[GraphRAGError], int]] = [
    (DocumentNotFoundError, 404),
    (EntityNotFoundError, 404),
    (CypherNotAllowedError, 400),
    (BackendNotSupportedError, 400),
    (ConfigError, 400),
    (LoadError, 422),
    (WorkspaceLockedError, 409),
    (LLMError, 502),
    (StoreError, 503),
]


def status_of(exc: GraphRAGError) -> int:
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 400


@dataclass
class ApiContext:
    rag: GraphRAG
    jobs: JobQueue
    owns_rag: bool

    @property
    def settings(self) -> Settings:
        return self.rag.settings

    @property
    def upload_dir(self) -> Path:
        return self.settings.workspace / "uploads"


def get_ctx(request: Request) -> ApiContext:
    return request.app.state.ctx


class BodyLimit:
    """413 for a request body larger than `limit` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.limit:
                    await self._refuse(send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"request body larger than {self.limit:,} bytes (GRAPHRAG_API_MAX_BODY_BYTES)"

    async def _refuse(self, send: Send) -> None:
        await JSONResponse({"detail": self._detail()}, status_code=413)({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - the response never reads
    return {"type": "http.disconnect"}


def create_app(target: Settings | GraphRAG | None = None, *, api_key: str | None = None) -> FastAPI:
    """The API over `target` (a GraphRAG, or the Settings to build one; default: the
    environment). `api_key` overrides GRAPHRAG_API_KEY; an empty key means no auth."""
    if isinstance(target, GraphRAG):
        rag, owns = target, False
    else:
        rag, owns = GraphRAG(target or Settings()), True
    key = api_key if api_key is not None else (
        rag.settings.api_key.get_secret_value() if rag.settings.api_key is not None else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx: ApiContext = app.state.ctx
        ctx.jobs.close()
        if ctx.owns_rag:
            ctx.rag.close()

    app = FastAPI(
        title="graphrag",
        version=__version__,
        description="Natural-language and Cypher queries, text-to-Cypher, documents and graph browsing "
        "over a GraphRAG knowledge graph. Send the API key in `X-API-Key` when the server has one.",
        lifespan=lifespan,
        responses={
            401: {"description": "missing or wrong API key"},
            413: {"description": "request body too large"},
        },
    )
    app.state.ctx = ApiContext(rag=rag, jobs=JobQueue(), owns_rag=owns)
    app.state.api_key = key or None
    app.add_middleware(BodyLimit, limit=rag.settings.api_max_body_bytes)

    @app.exception_handler(GraphRAGError)
    async def _graphrag_error(request: Request, exc: GraphRAGError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _jsonable_errors(exc.errors())
        message = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors
        )
        return JSONResponse({"detail": message or "invalid request", "errors": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    from graphrag.api import routes_documents, routes_entities, routes_graph, routes_query, routes_system

    secured = [Depends(require_api_key)]
    app.include_router(routes_system.public)
    app.include_router(routes_system.router, dependencies=secured)
    app.include_router(routes_query.router, dependencies=secured)
    app.include_router(routes_documents.router, dependencies=secured)
    app.include_router(routes_graph.router, dependencies=secured)
    app.include_router(routes_entities.router, dependencies=secured)
    return app


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        item = {k: v for k, v in dict(e).items() if k in ("loc", "msg", "type")}
        item["loc"] = [p if isinstance(p, (int, str)) else str(p) for p in item.get("loc", ())]
        out.append(item)
    return out
