"""The graph explorer: the page at `/` (static files of graphrag.explorer, no network at run
time) and the reads it needs beyond the rest of the API: what this server is (`/explore/info`,
open, says whether a key is needed; `/explore/server`, store kind and workspaces), entity
search with counts, weight-sampled neighbourhoods, an entity with its provenance, one chunk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from graphrag import __version__
from graphrag.api.deps import WORKSPACE_HEADER, ApiContext, Principal, get_ctx, get_principal
from graphrag.explorer import STATIC_DIR
from graphrag.explorer.neighbourhood import sample_neighbourhood
from graphrag.explorer.provenance import (
    ExploreChunk,
    Provenance,
    chunk_detail,
    entity_provenance,
    relation_provenance,
)
from graphrag.explorer.search import EntityFacts, EntityHit, search_entities
from graphrag.models import Entity, normalize_name

public = APIRouter(tags=["explorer"])
router = APIRouter(prefix="/explore", tags=["explorer"])

_CHUNKS = Query(default=20, ge=0, le=200, description="provenance chunks at most")
_MODES = ["auto", "mix", "ppr", "local", "global", "hybrid", "naive"]


@dataclass
class ExploreInfo:
    version: str
    auth_required: bool
    key_header: str = "X-API-Key"
    workspace_header: str = WORKSPACE_HEADER


@dataclass
class ExploreServer:
    workspace: str  # the name of this request's workspace
    workspaces: list[str]  # those this key may use
    graph_store: str
    cypher: bool  # POST /cypher works here (Neo4j store)
    role: str
    modes: list[str]
    default_mode: str
    counts: dict[str, int]
    entity_types: dict[str, int]


@dataclass
class ExploreSearch:
    query: str
    type: str | None
    total: int
    types: dict[str, int]
    entities: list[EntityHit]


@dataclass
class ExploreNode:
    id: str
    label: str
    type: str
    description: str
    degree: int
    level: int
    hidden: int  # relations of this entity not drawn


@dataclass
class ExploreEdge:
    id: str
    source: str
    target: str
    label: str  # the first keywords
    keywords: list[str]
    description: str
    weight: float


@dataclass
class ExploreNeighbourhood:
    centres: list[str]
    depth: int
    limit: int
    nodes: list[ExploreNode]
    edges: list[ExploreEdge]
    omitted: int  # entities within the depth that were left out (the weakest)


@dataclass
class ExploreRelation:
    key: str
    other: str  # the other entity's key
    other_name: str
    other_type: str
    keywords: list[str]
    description: str
    weight: float


@dataclass
class ExploreEntity(EntityFacts):
    relations: list[ExploreRelation] = field(default_factory=list)
    relations_total: int = 0
    provenance: Provenance | None = None


@public.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@public.get("/explorer", include_in_schema=False)
def page_redirect() -> RedirectResponse:
    return RedirectResponse("/")


@public.get("/explore/info", response_model=ExploreInfo, summary="what the explorer needs before a key: is one required")
def info(request: Request) -> ExploreInfo:
    return ExploreInfo(version=__version__, auth_required=bool(request.app.state.api_keys))


def mount_static(app: FastAPI) -> None:
    app.mount("/explorer/static", StaticFiles(directory=STATIC_DIR), name="explorer-static")


@router.get("/server", response_model=ExploreServer, summary="the store, the workspaces this key may use, counts")
def server(request: Request, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(get_principal)) -> ExploreServer:
    names = request.app.state.workspaces.names()
    stats = ctx.rag.graph.stats()
    return ExploreServer(
        workspace=ctx.name,
        workspaces=[n for n in names if principal.covers(n)],
        graph_store=ctx.settings.graph_store,
        cypher=hasattr(ctx.rag.graph, "run_read_cypher"),
        role=principal.role,
        modes=_MODES,
        default_mode=ctx.settings.query_mode,
        counts={"documents": len(ctx.rag.state.list_documents()), "chunks": ctx.rag.state.count_chunks(),
                "entities": stats.entities, "relations": stats.relations},
        entity_types=dict(stats.entity_types),
    )


@router.get("/search", response_model=ExploreSearch, summary="entities by name, alias or description, with counts")
def search(
    q: str = Query(default="", max_length=500, description="words in the name, an alias or the description"),
    type: str | None = Query(default=None, max_length=100, description="only this entity type"),
    limit: int = Query(default=30, ge=1, le=500),
    ctx: ApiContext = Depends(get_ctx),
) -> ExploreSearch:
    """`total` counts the matches of the query and type; `types` the matches per type."""
    found = search_entities(ctx.rag, q, type, limit)
    return ExploreSearch(query=q, type=type, total=found.total, types=found.types, entities=found.hits)


def _find(ctx: ApiContext, ref: str) -> Entity:
    graph = ctx.rag.graph
    found = graph.get_entities([ref])
    if ref in found:
        return found[ref]
    key = normalize_name(ref)
    entity = graph.find_entities([key]).get(key) if key else None
    if entity is None:
        raise HTTPException(404, f"no entity with key or name {ref!r}; GET /explore/search?q=... finds one")
    return entity


@router.get("/neighbourhood", response_model=ExploreNeighbourhood,
            summary="entities around some entities, sampled by relation weight, with what was left out",
            responses={404: {"description": "none of the entities exists"}})
def neighbourhood(
    entity: list[str] = Query(min_length=1, max_length=200, description="entity keys or names (repeat)"),
    depth: int = Query(default=1, ge=0, le=3),
    limit: int = Query(default=60, ge=1, le=1000, description="entities at most"),
    ctx: ApiContext = Depends(get_ctx),
) -> ExploreNeighbourhood:
    """Depth 0: the entities themselves and the relations among them (e.g. a query's context)."""
    keys: list[str] = []
    for ref in entity:
        try:
            keys.append(_find(ctx, ref).key)
        except HTTPException:
            if len(entity) == 1:
                raise
    if not keys:
        raise HTTPException(404, "none of these entities exists; GET /explore/search?q=... finds them")
    hood = sample_neighbourhood(ctx.rag.graph, keys, depth=depth, limit=max(limit, len(keys)))
    return ExploreNeighbourhood(
        centres=keys, depth=depth, limit=limit, omitted=hood.omitted,
        nodes=[ExploreNode(id=e.key, label=e.name, type=e.type, description=e.description,
                    degree=hood.degrees.get(e.key, 0), level=hood.levels[e.key], hidden=hood.hidden.get(e.key, 0))
               for e in hood.entities],
        edges=[ExploreEdge(id=r.key, source=r.source, target=r.target, label=", ".join(r.keywords[:2]),
                    keywords=list(r.keywords), description=r.description, weight=r.weight)
               for r in hood.relations],
    )


@router.get("/entities/{key:path}", response_model=ExploreEntity,
            summary="an entity: description, aliases, degree, relations and provenance (chunks and documents)",
            responses={404: {"description": "no entity with this key or name"}})
def entity_detail(
    key: str,
    chunks: int = _CHUNKS,
    relations: int = Query(default=100, ge=0, le=2000, description="relations at most, strongest first"),
    ctx: ApiContext = Depends(get_ctx),
) -> ExploreEntity:
    entity = _find(ctx, key)
    graph = ctx.rag.graph
    incident = sorted(graph.neighbors([entity.key]).get(entity.key, []), key=lambda r: (-r.weight, r.key))
    shown = incident[:relations]
    others = graph.get_entities({r.target if r.source == entity.key else r.source for r in shown})
    rows = []
    for r in shown:
        other = r.target if r.source == entity.key else r.source
        found = others.get(other)
        rows.append(ExploreRelation(key=r.key, other=other, other_name=found.name if found else other,
                             other_type=found.type if found else "", keywords=list(r.keywords),
                             description=r.description, weight=r.weight))
    return ExploreEntity(
        key=entity.key, name=entity.name, type=entity.type, description=entity.description,
        aliases=[a.name for a in entity.aliases], degree=graph.degrees([entity.key]).get(entity.key, 0),
        relations=rows, relations_total=len(incident), provenance=entity_provenance(ctx.rag, entity, chunks),
    )


@dataclass
class ExploreRelationView:
    key: str
    source: EntityFacts
    target: EntityFacts
    keywords: list[str]
    description: str
    weight: float
    provenance: Provenance


@router.get("/relations/{key:path}", response_model=ExploreRelationView,
            summary="a relation: its two entities, keywords, description, weight and provenance",
            responses={404: {"description": "no relation with this key"}})
def relation_detail(
    key: str,
    chunks: int = _CHUNKS,
    ctx: ApiContext = Depends(get_ctx),
) -> ExploreRelationView:
    graph = ctx.rag.graph
    relation = graph.get_relations([key]).get(key)
    if relation is None:
        raise HTTPException(404, f"no relation with key {key!r}; relation keys are '<entity key>|<entity key>'")
    ends = graph.get_entities([relation.source, relation.target])
    degrees = graph.degrees(list(ends))

    def facts(k: str) -> EntityFacts:
        e = ends.get(k)
        if e is None:  # an end removed meanwhile
            return EntityFacts(key=k, name=k, type="", description="", aliases=[], degree=0)
        return EntityFacts(key=k, name=e.name, type=e.type, description=e.description,
                           aliases=[a.name for a in e.aliases], degree=degrees.get(k, 0))

    return ExploreRelationView(
        key=relation.key, source=facts(relation.source), target=facts(relation.target),
        keywords=list(relation.keywords), description=relation.description, weight=relation.weight,
        provenance=relation_provenance(ctx.rag, relation, list(ends.values()), chunks),
    )


@router.get("/chunks/{chunk_id}", response_model=ExploreChunk, summary="one chunk with its document and entities",
            responses={404: {"description": "no chunk with this id"}})
def chunk(chunk_id: str, ctx: ApiContext = Depends(get_ctx)) -> Any:
    found = chunk_detail(ctx.rag, chunk_id)
    if found is None:
        raise HTTPException(404, f"no chunk with id {chunk_id!r} (it may belong to a deleted document)")
    return found
