"""GET /health (open, for probes) and the background jobs (GET /jobs, /jobs/{track_id})."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from graphrag import __version__
from graphrag.api.deps import ApiContext, get_ctx
from graphrag.api.metrics import CONTENT_TYPE
from graphrag.api.models import Health, JobInfo

public = APIRouter(tags=["system"])
router = APIRouter(tags=["system"])


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


@public.get("/health", response_model=Health, summary="stores reachable, versions; 503 while warming up",
            responses={503: {"model": Health, "description": "warming up: the query models are still loading"}})
def health(request: Request, response: Response, ctx: ApiContext = Depends(get_ctx)) -> Health:
    rag = ctx.rag
    stores: dict[str, str] = {}
    checks = {
        "state": lambda: rag.state.count_chunks(),
        "graph": lambda: rag.graph.stats(),
        "vectors": lambda: rag.vectors.count("chunks"),
    }
    for name, check in checks.items():
        try:
            check()
            stores[name] = "ok"
        except Exception as exc:  # a probe reports, it does not fail
            stores[name] = f"error: {type(exc).__name__}: {exc}"
    versions = {
        "graphrag": __version__,
        "python": platform.python_version(),
        "fastapi": _version("fastapi"),
        "lancedb": _version("lancedb"),
    }
    if ctx.settings.graph_store == "neo4j":
        versions["neo4j_driver"] = _version("neo4j")
        driver = getattr(rag.__dict__.get("graph"), "_driver", None)
        if driver is not None:
            try:
                versions["neo4j_server"] = str(driver.get_server_info().agent)
            except Exception as exc:
                stores["graph"] = f"error: {type(exc).__name__}: {exc}"
    else:
        versions["networkx"] = _version("networkx")
    ok = all(v == "ok" for v in stores.values())
    warming = not request.app.state.ready.is_set()
    if warming:
        response.status_code = 503  # a readiness probe waits until the models are loaded
    return Health(
        status="warming" if warming else "ok" if ok else "degraded",
        stores=stores,
        versions=versions,
        workspace=str(ctx.settings.workspace),
        graph_store=ctx.settings.graph_store,
    )


@router.get("/metrics", summary="Prometheus metrics: requests, latency, LLM calls and tokens, index runs, queue",
            response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/jobs", response_model=list[JobInfo], summary="background jobs (ingestion, deletion), newest last")
def jobs(ctx: ApiContext = Depends(get_ctx)) -> list[JobInfo]:
    return [JobInfo(**j.to_dict()) for j in ctx.jobs.list()]


@router.get("/jobs/{track_id}", response_model=JobInfo, summary="one background job, by its track id",
            responses={404: {"description": "unknown track id"}})
def job(track_id: str, ctx: ApiContext = Depends(get_ctx)) -> JobInfo:
    found = ctx.jobs.get(track_id)
    if found is None:
        raise HTTPException(404, f"no job with track id {track_id!r} (jobs are kept in memory until a restart)")
    return JobInfo(**found.to_dict())
