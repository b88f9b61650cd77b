"""Merge per-chunk extraction records into entities and relations (a polars group-by).

The result depends only on the *set* of (chunk id, extraction) records and the resolution
mapping (name key -> entity key), never on their order: that is what makes "delete ==
never indexed" and "any order == same graph" hold. Names, types and keywords are cleaned
of control and bidi characters here, whatever the extractor let through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from graphrag.models import Alias, Extraction, clean_text, normalize_name, relation_key

Canonical = Callable[[str], str]  # name key -> the key of the entity it resolved to


def _identity(key: str) -> str:
    return key

UNKNOWN_TYPE = "UNKNOWN"


@dataclass(frozen=True)
class MergedEntity:
    key: str
    name: str
    type: str
    fragments: tuple[str, ...]  # distinct descriptions, most frequent first
    source_ids: tuple[str, ...]
    aliases: tuple[Alias, ...] = ()  # the other names resolved to this entity


@dataclass(frozen=True)
class MergedRelation:
    key: str
    source: str
    target: str
    keywords: tuple[str, ...]
    fragments: tuple[str, ...]
    weight: float
    source_ids: tuple[str, ...]


def normalize_type(raw: str) -> str:
    cleaned = "_".join(clean_text(raw).upper().replace("-", " ").split())
    return cleaned or UNKNOWN_TYPE


def record_keys(extraction: Extraction) -> tuple[set[str], set[str]]:
    """Entity and relation keys one chunk's extraction supports (relation endpoints included)."""
    entity_keys = {k for k in (normalize_name(e.name) for e in extraction.entities) if k}
    relation_keys: set[str] = set()
    for r in extraction.relations:
        s, t = normalize_name(r.source), normalize_name(r.target)
        if s and t and s != t:
            entity_keys.update((s, t))
            relation_keys.add(relation_key(s, t))
    return entity_keys, relation_keys


def _entity_frame(records: Mapping[str, Extraction], canonical: Canonical, keys: set[str] | None) -> pl.DataFrame:
    # Rows of other entities are dropped before cleaning: a hub's chunks name thousands.
    rows: list[tuple[str, str, str, str, str, str]] = []
    for chunk_id, ext in records.items():
        for e in ext.entities:
            surface = normalize_name(e.name)
            if surface and (keys is None or canonical(surface) in keys):
                name = clean_text(e.name)
                description = clean_text(e.description, single_line=False).strip()
                rows.append((canonical(surface), surface, chunk_id, name, normalize_type(e.type), description))
        # An endpoint the extractor forgot to list is still an entity, with no type or description.
        for r in ext.relations:
            for name in (r.source, r.target):
                surface = normalize_name(name)
                if surface and (keys is None or canonical(surface) in keys):
                    rows.append((canonical(surface), surface, chunk_id, clean_text(name), UNKNOWN_TYPE, ""))
    return pl.DataFrame(
        rows, schema=["key", "surface", "chunk_id", "name", "type", "description"], orient="row"
    )


def _ranked(df: pl.DataFrame, group: str, column: str) -> pl.DataFrame:
    """Per group, the distinct values of `column` by frequency desc, then value asc."""
    return (
        df.group_by([group, column])
        .agg(pl.len().alias("n"))
        .sort([group, "n", column], descending=[False, True, False])
        .group_by(group, maintain_order=True)
        .agg(pl.col(column))
    )


def merge_entities(
    records: Mapping[str, Extraction],
    keys: Iterable[str] | None = None,
    canonical: Canonical | None = None,
) -> dict[str, MergedEntity]:
    """Entities by key; with `canonical`, every name is merged into the entity it resolved
    to, whose name is the canonical name's most frequent spelling and whose aliases are the
    other names (each with its chunks)."""
    wanted = None if keys is None else set(keys)
    df = _entity_frame(records, canonical or _identity, wanted)
    if df.is_empty():
        return {}
    # The canonical name's own spellings rank first; other names only if it has none.
    df = df.with_columns((pl.col("surface") != pl.col("key")).cast(pl.Int8).alias("alias_rank"))
    names = (
        df.group_by(["key", "alias_rank", "name"])
        .agg(pl.len().alias("n"))
        .sort(["key", "alias_rank", "n", "name"], descending=[False, False, True, False])
        .group_by("key", maintain_order=True)
        .agg(pl.col("name"))
    )
    # UNKNOWN only wins when no extraction gave a real type.
    typed = df.with_columns(
        pl.when(pl.col("type") == UNKNOWN_TYPE).then(pl.lit(None)).otherwise(pl.col("type")).alias("type")
    ).drop_nulls("type")
    types = _ranked(typed, "key", "type")
    descriptions = _ranked(df.filter(pl.col("description") != ""), "key", "description")
    sources = df.group_by("key").agg(pl.col("chunk_id").unique().sort())
    table = (
        sources.join(names, on="key", how="left")
        .join(types, on="key", how="left")
        .join(descriptions, on="key", how="left")
    )
    aliases = _aliases(df.filter(pl.col("surface") != pl.col("key")))
    merged: dict[str, MergedEntity] = {}
    for row in table.sort("key").iter_rows(named=True):
        merged[row["key"]] = MergedEntity(
            key=row["key"],
            name=row["name"][0],
            type=(row["type"] or [UNKNOWN_TYPE])[0],
            fragments=tuple(row["description"] or ()),
            source_ids=tuple(row["chunk_id"]),
            aliases=aliases.get(row["key"], ()),
        )
    return merged


def _aliases(df: pl.DataFrame) -> dict[str, tuple[Alias, ...]]:
    """Per entity, one alias per other name key: its most frequent spelling and its chunks."""
    if df.is_empty():
        return {}
    spelled = _ranked(df, "surface", "name")
    sources = df.group_by(["key", "surface"]).agg(pl.col("chunk_id").unique().sort())
    out: dict[str, list[Alias]] = {}
    for row in sources.join(spelled, on="surface").sort(["key", "surface"]).iter_rows(named=True):
        out.setdefault(row["key"], []).append(Alias(name=row["name"][0], source_ids=tuple(row["chunk_id"])))
    return {k: tuple(sorted(v, key=lambda a: (a.name.casefold(), a.name))) for k, v in out.items()}


def merge_relations(
    records: Mapping[str, Extraction],
    keys: Iterable[str] | None = None,
    canonical: Canonical | None = None,
    endpoints: Iterable[str] | None = None,
) -> dict[str, MergedRelation]:
    """Relations by key, between the entities their endpoints resolved to (a relation
    between two names of one entity disappears); `keys` or `endpoints` (entity keys) select."""
    canon = canonical or _identity
    wanted_keys = None if keys is None else set(keys)
    wanted_ends = None if endpoints is None else set(endpoints)
    rows: list[tuple[str, str, str, str, list[str], str, float]] = []
    for chunk_id, ext in records.items():
        for r in ext.relations:
            s, t = normalize_name(r.source), normalize_name(r.target)
            if not s or not t:
                continue
            s, t = canon(s), canon(t)
            if s == t:
                continue
            # Relations not asked for are dropped before cleaning (a hub's chunks hold many).
            if wanted_ends is not None and s not in wanted_ends and t not in wanted_ends:
                continue
            a, b = sorted((s, t))
            if wanted_keys is not None and relation_key(a, b) not in wanted_keys:
                continue
            keywords = sorted({k for k in (clean_text(k).lower() for k in r.keywords) if k})
            description = clean_text(r.description, single_line=False).strip()
            rows.append((relation_key(a, b), chunk_id, a, b, keywords, description, float(r.weight)))
    df = pl.DataFrame(
        rows,
        schema={
            "key": pl.String,
            "chunk_id": pl.String,
            "source": pl.String,
            "target": pl.String,
            "keywords": pl.List(pl.String),
            "description": pl.String,
            "weight": pl.Float64,
        },
        orient="row",
    )
    if df.is_empty():
        return {}
    base = df.group_by("key").agg(
        pl.col("source").first(),
        pl.col("target").first(),
        pl.col("weight").sum(),
        pl.col("chunk_id").unique().sort(),
    )
    keywords = _ranked(df.explode("keywords").drop_nulls("keywords"), "key", "keywords")
    descriptions = _ranked(df.filter(pl.col("description") != ""), "key", "description")
    table = base.join(keywords, on="key", how="left").join(descriptions, on="key", how="left")
    merged: dict[str, MergedRelation] = {}
    for row in table.sort("key").iter_rows(named=True):
        merged[row["key"]] = MergedRelation(
            key=row["key"],
            source=row["source"],
            target=row["target"],
            keywords=tuple(row["keywords"] or ()),
            fragments=tuple(row["description"] or ()),
            # Rounded so float summation order cannot make two equal graphs differ.
            weight=round(row["weight"], 6),
            source_ids=tuple(row["chunk_id"]),
        )
    return merged
