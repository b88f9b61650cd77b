"""Entity search for the explorer: name, aliases and description, an optional type, with
the number of matches in all and per type (so the page can show counts beside the filter).

Rank: the name or key itself, an alias itself, a name prefix, a name containing the words,
an alias containing them, then the description; ties by degree. On Neo4j the search is one
server-side query per answer (through the read-only, workspace-confined Cypher route), so a
large graph is never streamed to the API; on the in-memory stores it scans the store's text
view (`graphrag.stores.entity_text_view`) and reads only the entities it returns.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphrag.models import normalize_name
from graphrag.stores.entity_text_view import EntityTextView

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


def _rank(name: str, aliases: tuple[str, ...], key: str, needle: str, needle_key: str) -> int:
    """The tier of a row that matched somewhere (lower is better; see the module docstring);
    lower-cased input."""
    if name == needle or key == needle_key:
        return 1
    if needle in aliases or any(normalize_name(a) == needle_key for a in aliases):
        return 2
    if name.startswith(needle):
        return 3
    if needle in name:
        return 4
    if any(needle in a for a in aliases):
        return 5
    return 6  # the description


def search_entities(rag: "GraphRAG", q: str | None, type_: str | None, limit: int) -> SearchResult:
    needle = " ".join((q or "").lower().split())
    wanted = type_.strip().lower() if type_ and type_.strip() else None
    if hasattr(rag.graph, "run_read_cypher"):
        return _search_cypher(rag, needle, wanted, limit)
    return _search_view(rag.graph, needle, wanted, limit)


def _search_view(graph: Any, needle: str, wanted: str | None, limit: int) -> SearchResult:
    """The in-memory stores: substring scans of the store's text view, then the tiers of the
    matching rows only; entities are read for the page alone."""
    view: EntityTextView = graph.entity_text_view()
    if not needle:  # everything, the most connected first: no tiers to compute
        ranked = [(0, i) for i, t in enumerate(view.types) if wanted is None or t.lower() == wanted]
        return _page(graph, view, ranked, limit, dict(Counter(view.types)), "all")
    needle_key = normalize_name(needle)
    rows = set(view.containing(needle, "name")) | set(view.containing(needle, "alias"))
    rows |= set(view.containing(needle, "description"))
    rows.update(view.rows_of_key.get(needle_key, ()))
    types: dict[str, int] = {}
    ranked: list[tuple[int, int]] = []  # (tier, row)
    for i in rows:
        t = view.types[i]
        types[t] = types.get(t, 0) + 1
        if wanted is None or t.lower() == wanted:
            ranked.append((_rank(view.names[i], view.aliases[i], view.keys[i], needle, needle_key), i))
    return _page(graph, view, ranked, limit, types, None)


def _page(
    graph: Any, view: EntityTextView, ranked: list[tuple[int, int]], limit: int, types: dict[str, int], matched: str | None
) -> SearchResult:
    degrees = graph.degrees([view.keys[i] for _, i in ranked]) if ranked else {}
    top = heapq.nsmallest(limit, ranked, key=lambda r: (r[0], -degrees.get(view.keys[r[1]], 0), view.keys[r[1]]))
    entities = graph.get_entities([view.keys[i] for _, i in top])
    hits = [
        EntityHit(e.key, e.name, e.type, e.description, [a.name for a in e.aliases], degrees.get(e.key, 0),
                  matched or _MATCHED[tier])
        for tier, i in top
        if (e := entities.get(view.keys[i])) is not None
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
