"""`create_app()`: the FastAPI application over one `GraphRAG` per served workspace.

Reads run in the request (FastAPI's thread pool for blocking work); writes (ingestion,
deletion) go to one background worker per workspace (`jobs.JobQueue`) that holds the
workspace lock, so a request never waits minutes and two writes never race. Which workspace
a request is for, and what its key may do there, is decided in `api/deps.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphrag import __version__, model_loader
from graphrag.api.deps import ApiContext, WorkspaceRegistry, authorize, durable_job_queue, key_table
from graphrag.api.metrics import ApiMetrics, MetricsMiddleware
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
from graphrag.tracing import configure_tracing

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


def create_app(
    target: Settings | GraphRAG | None = None,
    *,
    api_key: str | None = None,
    workspaces: dict[str, GraphRAG] | None = None,
    warm_up: bool | None = None,
) -> FastAPI:
    """The API over `target` (a GraphRAG, or the Settings to build one; default: the
    environment), its default workspace. `api_key` overrides GRAPHRAG_API_KEY (an admin key
    of that workspace; empty: none); GRAPHRAG_API_KEYS adds scoped keys. Further workspaces
    come from GRAPHRAG_API_WORKSPACES, or ready-made in `workspaces` (name: GraphRAG).
    `warm_up`: load the query models and tables of the default workspace in the background
    at start-up, `/health` answering 503 `warming` until done (default: when the app builds
    its own GraphRAG)."""
    if isinstance(target, GraphRAG):
        rag, owns = target, False
    else:
        rag, owns = GraphRAG(target or Settings()), True
    configure_tracing(rag.settings.otel_exporter)
    warm = owns if warm_up is None else warm_up
    key = api_key if api_key is not None else (
        rag.settings.api_key.get_secret_value() if rag.settings.api_key is not None else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            threading.Thread(target=_warm_up, args=(app,), name="graphrag-warm-up", daemon=True).start()
        yield
        app.state.workspaces.close()

    # Swagger UI and ReDoc assets come from the fastapi-offline package, not a CDN, so /docs
    # and /redoc work on a machine with no network.
    app = FastAPIOffline(
        title="graphrag",
        version=__version__,
        description="Natural-language and Cypher queries, text-to-Cypher, documents and graph browsing "
        "over a GraphRAG knowledge graph. Send the API key in `X-API-Key` when the server has one.",
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},  # the badge would call validator.swagger.io
        responses={
            401: {"description": "missing or wrong API key"},
            403: {"description": "the API key does not cover this workspace or this kind of request"},
            413: {"description": "request body too large"},
        },
    )
    default = ApiContext(rag=rag, jobs=durable_job_queue(rag), owns_rag=owns, name=rag.settings.resolved_graph_namespace)
    app.state.ctx = default
    app.state.workspaces = WorkspaceRegistry(default, rag.settings.api_workspaces, workspaces)
    app.state.api_keys = key_table(rag.settings, key or None)
    app.state.ready = threading.Event()
    if not warm:
        app.state.ready.set()
    app.add_middleware(BodyLimit, limit=rag.settings.api_max_body_bytes)
    app.state.metrics = ApiMetrics(lambda: app.state.ctx)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: counts 413s too

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

    from graphrag.api import (
        routes_cypher,
        routes_documents,
        routes_entities,
        routes_explore,
        routes_graph,
        routes_query,
        routes_system,
    )

    secured = [Depends(authorize)]
    app.include_router(routes_system.public)
    app.include_router(routes_system.router, dependencies=secured)
    app.include_router(routes_query.router, dependencies=secured)
    app.include_router(routes_cypher.router, dependencies=secured)
    app.include_router(routes_documents.router, dependencies=secured)
    app.include_router(routes_graph.router, dependencies=secured)
    app.include_router(routes_entities.router, dependencies=secured)
    app.include_router(routes_explore.public)
    app.include_router(routes_explore.router, dependencies=secured)
    routes_explore.mount_static(app)
    return app


def _warm_up(app: FastAPI) -> None:
    ctx: ApiContext = app.state.ctx
    log.info("warming up: loading the query models, vector tables and graph of %s", ctx.settings.workspace)
    try:
        timings = model_loader.warm_up(ctx.rag)
        text_view = getattr(ctx.rag.graph, "entity_text_view", None)
        if text_view is not None:  # the explorer's search index (~1 s at 100k entities), not on the first search
            started = time.perf_counter()
            text_view()
            timings["search"] = round(time.perf_counter() - started, 3)
            timings["total"] += timings["search"]
        log.info("ready: warm-up took %.1f s (%s)", timings.pop("total"),
                 ", ".join(f"{part} {sec:.1f} s" for part, sec in timings.items()))
    finally:
        app.state.ready.set()


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        item = {k: v for k, v in dict(e).items() if k in ("loc", "msg", "type")}
        item["loc"] = [p if isinstance(p, (int, str)) else str(p) for p in item.get("loc", ())]
        out.append(item)
    return out
