"""Entity search for the explorer: name, aliases and description, an optional type, with
the number of matches in all and per type (so the page can show counts beside the filter).

Rank: the name or key itself, an alias itself, a name prefix, a name containing the words,
an alias containing them, then the description; ties by degree. On Neo4j the search is one
server-side query per answer (through the read-only, workspace-confined Cypher route), so a
large graph is never streamed to the API; on NetworkX it walks the in-memory entities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphrag.models import Entity, normalize_name

if TYPE_CHECKING:
    from graphrag.core import GraphRAG


@dataclass
class EntityFacts:
    """What the explorer shows of any entity."""

    key: str
    name: str
    type: str
    description: str
    aliases: list[str]
    degree: int


@dataclass
class EntityHit(EntityFacts):
    matched: str  # name | alias | description | all


@dataclass
class SearchResult:
    hits: list[EntityHit]
    total: int  # matches of the query and the type
    types: dict[str, int] = field(default_factory=dict)  # matches of the query per type


_MATCHED = ["all", "name", "alias", "name", "name", "alias", "description"]


def _rank(e: Entity, needle: str, key: str) -> int | None:
    if not needle:
        return 0
    name = e.name.lower()
    aliases = [a.name.lower() for a in e.aliases]
    if name == needle or e.key == key:
        return 1
    if needle in aliases or any(normalize_name(a) == key for a in aliases):
        return 2
    if name.startswith(needle):
        return 3
    if needle in name:
        return 4
    if any(needle in a for a in aliases):
        return 5
    if needle in e.description.lower():
        return 6
    return None


def search_entities(rag: "GraphRAG", q: str | None, type_: str | None, limit: int) -> SearchResult:
    needle = " ".join((q or "").lower().split())
    wanted = type_.strip().lower() if type_ and type_.strip() else None
    if hasattr(rag.graph, "run_read_cypher"):
        return _search_cypher(rag, needle, wanted, limit)
    key = normalize_name(needle)
    ranked: list[tuple[int, Entity]] = []
    types: dict[str, int] = {}
    for e in rag.graph.iter_entities():
        rank = _rank(e, needle, key)
        if rank is None:
            continue
        types[e.type] = types.get(e.type, 0) + 1
        if wanted is None or e.type.lower() == wanted:
            ranked.append((rank, e))
    degrees = rag.graph.degrees([e.key for _, e in ranked]) if ranked else {}
    ranked.sort(key=lambda item: (item[0], -degrees.get(item[1].key, 0), item[1].key))
    hits = [
        EntityHit(e.key, e.name, e.type, e.description, [a.name for a in e.aliases], degrees.get(e.key, 0),
                  _MATCHED[rank] if needle else "all")
        for rank, e in ranked[:limit]
    ]
    return SearchResult(hits=hits, total=len(ranked), types=types)


_MATCH = """
MATCH (e:Entity {workspace: $workspace})
WHERE ($q = '' OR e.key = $key OR toLower(e.name) CONTAINS $q
   OR toLower(coalesce(e.alias_text, '')) CONTAINS $q OR toLower(coalesce(e.description, '')) CONTAINS $q)
"""

_TYPES = _MATCH + "RETURN e.type AS type, count(*) AS n"

_PAGE = _MATCH + """
  AND ($type IS NULL OR toLower(e.type) = $type)
WITH e, [a IN coalesce(e.aliases, []) | toLower(a)] AS aliases
WITH e, aliases, CASE
    WHEN $q = '' THEN 0
    WHEN toLower(e.name) = $q OR e.key = $key THEN 1
    WHEN $q IN aliases OR $key IN coalesce(e.alias_keys, []) THEN 2
    WHEN toLower(e.name) STARTS WITH $q THEN 3
    WHEN toLower(e.name) CONTAINS $q THEN 4
    WHEN any(a IN aliases WHERE a CONTAINS $q) THEN 5
    ELSE 6 END AS rank
RETURN e.key AS key, e.name AS name, e.type AS type, coalesce(e.description, '') AS description,
       coalesce(e.aliases, []) AS aliases, rank
ORDER BY rank, coalesce(e.degree, 0) DESC, e.key
LIMIT $limit
"""


def _search_cypher(rag: "GraphRAG", needle: str, wanted: str | None, limit: int) -> SearchResult:
    timeout = rag.settings.api_cypher_timeout
    params = {"q": needle, "key": normalize_name(needle), "type": wanted, "limit": limit}
    counted = rag.cypher(_TYPES, params, timeout=timeout, row_limit=10_000).rows
    types = {r["type"] or "": int(r["n"]) for r in counted}
    total = sum(n for t, n in types.items() if wanted is None or t.lower() == wanted)
    rows = rag.cypher(_PAGE, params, timeout=timeout, row_limit=limit).rows
    degrees = rag.graph.degrees([r["key"] for r in rows]) if rows else {}
    hits = [
        EntityHit(r["key"], r["name"] or r["key"], r["type"] or "", r["description"], list(r["aliases"]),
                  degrees.get(r["key"], 0), _MATCHED[int(r["rank"])] if needle else "all")
        for r in rows
    ]
    return SearchResult(hits=hits, total=total, types=types)
