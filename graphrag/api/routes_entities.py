"""Entity resolution over HTTP: an entity's names, merge, split, keep apart, review, decisions.
Each write takes the workspace lock (409 while another writer holds it) and rebuilds only
the entities involved."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from graphrag.api.deps import ApiContext, get_ctx

router = APIRouter(prefix="/entities", tags=["entities"])


class PairBody(BaseModel):
    a: str = Field(min_length=1, max_length=500, description="a name, alias or key")
    b: str = Field(min_length=1, max_length=500, description="another name, alias or key")
    note: str = Field(default="", max_length=2000, description="why: kept with the decision")


class SplitBody(BaseModel):
    entity: str = Field(min_length=1, max_length=500, description="the entity: its key or any of its names")
    alias: str = Field(min_length=1, max_length=500, description="the alias to take off it")
    note: str = Field(default="", max_length=2000)


@router.get("/review", summary="candidate pairs under the merge threshold, for a person to accept or reject")
def review(limit: int = Query(default=20, ge=1, le=500), ctx: ApiContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    return ctx.rag.entities.review(limit)


@router.get("/decisions", summary="every manual merge and split")
def decisions(ctx: ApiContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    return ctx.rag.entities.decisions()


@router.post("/merge", summary="make the entities of two names one (a decision that survives re-indexing)",
             responses={404: {"description": "no entity has that name"}})
def merge(body: PairBody, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    return ctx.rag.entities.merge(body.a, body.b, body.note)


@router.post("/split", summary="take an alias off an entity and keep them apart",
             responses={404: {"description": "no entity has that name"}})
def split(body: SplitBody, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    return ctx.rag.entities.split(body.entity, body.alias, body.note)


@router.post("/keep-apart", status_code=204, summary="reject a candidate pair: never one entity")
def keep_apart(body: PairBody, ctx: ApiContext = Depends(get_ctx)) -> None:
    ctx.rag.entities.keep_apart(body.a, body.b, body.note)


@router.get("/{name}", summary="the entity a name belongs to, with its aliases",
            responses={404: {"description": "no entity has that name"}})
def show(name: str, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    return ctx.rag.entities.entity(name)
