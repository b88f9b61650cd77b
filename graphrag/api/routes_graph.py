"""Graph browsing: entity search, one entity with relations and sources, a subgraph for a
viewer, counts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from graphrag.api.deps import ApiContext, get_ctx
from graphrag.api.models import (
    ChunkInfo,
    EntityDetail,
    EntityInfo,
    EntityList,
    RelationInfo,
    Subgraph,
    SubgraphEdge,
    SubgraphNode,
)
from graphrag.models import Entity, Relation, normalize_name

router = APIRouter(prefix="/graph", tags=["graph"])


def _entity(e: Entity, degree: int | None = None) -> EntityInfo:
    return EntityInfo(key=e.key, name=e.name, type=e.type, description=e.description, degree=degree,
                      source_ids=list(e.source_ids), aliases=[a.name for a in e.aliases])


def _relation(r: Relation) -> RelationInfo:
    return RelationInfo(key=r.key, source=r.source, target=r.target, description=r.description,
                        keywords=list(r.keywords), weight=r.weight, source_ids=list(r.source_ids))


def _find(ctx: ApiContext, ref: str) -> Entity | None:
    """An entity by key, or by name (normalized to its key)."""
    graph = ctx.rag.graph
    found = graph.get_entities([ref])
    if ref in found:
        return found[ref]
    key = normalize_name(ref)
    return graph.find_entities([key]).get(key) if key else None  # by name or alias


@router.get("/entities", response_model=EntityList, summary="search entities by name and description")
def search_entities(
    q: str | None = Query(default=None, max_length=500, description="words in the name or description"),
    type: str | None = Query(default=None, max_length=100, description="entity type, e.g. person"),
    limit: int = Query(default=50, ge=1, le=1000),
    ctx: ApiContext = Depends(get_ctx),
) -> EntityList:
    """Name matches first (exact, then prefix, then contained), then description matches;
    ties by degree. Without `q`: the most connected entities."""
    needle = (q or "").strip().lower()
    wanted_type = type.strip().lower() if type else None
    if hasattr(ctx.rag.graph, "run_read_cypher"):
        return _search_neo4j(ctx, needle, wanted_type, limit)
    scored: list[tuple[tuple[int, int], Entity]] = []
    for e in ctx.rag.graph.iter_entities():
        if wanted_type and e.type.lower() != wanted_type:
            continue
        if needle:
            name = e.name.lower()
            if name == needle or e.key == needle:
                rank = 0
            elif name.startswith(needle):
                rank = 1
            elif needle in name:
                rank = 2
            elif needle in e.description.lower():
                rank = 3
            else:
                continue
        else:
            rank = 0
        scored.append(((rank, 0), e))
    degrees = ctx.rag.graph.degrees([e.key for _, e in scored]) if scored else {}
    scored.sort(key=lambda item: (item[0][0], -degrees.get(item[1].key, 0), item[1].key))
    top = scored[:limit]
    return EntityList(entities=[_entity(e, degrees.get(e.key)) for _, e in top], total=len(scored))


_SEARCH = """
MATCH (e:Entity {workspace: $workspace})
WHERE ($type IS NULL OR toLower(e.type) = $type)
  AND ($q = '' OR toLower(e.name) CONTAINS $q OR e.key = $q OR toLower(coalesce(e.description, '')) CONTAINS $q)
WITH e, CASE
    WHEN $q = '' OR toLower(e.name) = $q OR e.key = $q THEN 0
    WHEN toLower(e.name) STARTS WITH $q THEN 1
    WHEN toLower(e.name) CONTAINS $q THEN 2
    ELSE 3 END AS rank
WITH collect({e: e, rank: rank}) AS hits
UNWIND hits AS hit
WITH hit.e AS e, hit.rank AS rank, size(hits) AS total
RETURN e.key AS key, e.name AS name, e.type AS type, coalesce(e.description, '') AS description,
       e.degree AS degree, e.source_ids AS source_ids, total
ORDER BY rank, coalesce(e.degree, 0) DESC, e.key
LIMIT $limit
"""


def _search_neo4j(ctx: ApiContext, needle: str, wanted_type: str | None, limit: int) -> EntityList:
    """The same search as a server-side Cypher query, so a large graph is not streamed."""
    result = ctx.rag.cypher(_SEARCH, {"q": needle, "type": wanted_type, "limit": limit},
                            timeout=ctx.settings.api_cypher_timeout, row_limit=limit)
    entities = [EntityInfo(key=r["key"], name=r["name"] or r["key"], type=r["type"] or "", description=r["description"],
                           degree=r["degree"], source_ids=list(r["source_ids"] or [])) for r in result.rows]
    return EntityList(entities=entities, total=result.rows[0]["total"] if result.rows else 0)


@router.get("/entities/{key:path}", response_model=EntityDetail,
            summary="an entity with its relations and source chunks",
            responses={404: {"description": "no entity with this key or name"}})
def get_entity(key: str, chunks: int = Query(default=20, ge=0, le=500, description="source chunks to include"),
               ctx: ApiContext = Depends(get_ctx)) -> EntityDetail:
    entity = _find(ctx, key)
    if entity is None:
        raise HTTPException(404, f"no entity with key or name {key!r}; GET /graph/entities?q=... searches")
    rag = ctx.rag
    relations = sorted(rag.graph.neighbors([entity.key]).get(entity.key, []), key=lambda r: (-r.weight, r.key))
    degree = rag.graph.degrees([entity.key]).get(entity.key)
    chunk_ids = sorted(rag.state.chunks_for_entities([entity.key]).get(entity.key, set()) or entity.source_ids)
    found = rag.state.get_chunks(chunk_ids[:chunks]) if chunks else {}
    sources: dict[str, str] = {}
    out = []
    for cid in chunk_ids[:chunks]:
        c = found.get(cid)
        if c is None:
            continue
        if c.document_id not in sources:
            doc = rag.state.get_document(c.document_id)
            sources[c.document_id] = doc.source if doc else ""
        out.append(ChunkInfo(id=c.id, document_id=c.document_id, text=c.text, order=c.order,
                             source=sources[c.document_id]))
    return EntityDetail(entity=_entity(entity, degree), relations=[_relation(r) for r in relations], chunks=out)


@router.get("/subgraph", response_model=Subgraph, summary="nodes and edges around an entity, for a viewer",
            responses={404: {"description": "no entity with this key or name"}})
def subgraph(
    entity: str = Query(min_length=1, max_length=500, description="entity key or name"),
    depth: int = Query(default=1, ge=0, le=4),
    limit: int = Query(default=200, ge=1, le=5000, description="nodes at most"),
    ctx: ApiContext = Depends(get_ctx),
) -> Subgraph:
    center = _find(ctx, entity)
    if center is None:
        raise HTTPException(404, f"no entity with key or name {entity!r}; GET /graph/entities?q=... searches")
    graph = ctx.rag.graph
    entities, relations = graph.subgraph([center.key], depth=depth, limit=limit)
    degrees = graph.degrees([e.key for e in entities]) if entities else {}
    return Subgraph(
        center=center.key,
        nodes=[SubgraphNode(id=e.key, label=e.name, type=e.type, description=e.description,
                            degree=degrees.get(e.key)) for e in entities],
        edges=[SubgraphEdge(id=r.key, source=r.source, target=r.target, label=", ".join(r.keywords[:3]),
                            description=r.description, weight=r.weight) for r in relations],
    )


@router.get("/stats", summary="counts of documents, chunks, entities, relations and entity types")
def stats(ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    return ctx.rag.stats()
