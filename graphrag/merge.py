"""Merge per-chunk extraction records into entities and relations (a polars group-by).

The result depends only on the *set* of (chunk id, extraction) records, never on their
order: that is what makes "delete == never indexed" and "any order == same graph" hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from graphrag.models import Extraction, normalize_name, relation_key

UNKNOWN_TYPE = "UNKNOWN"


@dataclass(frozen=True)
class MergedEntity:
    key: str
    name: str
    type: str
    fragments: tuple[str, ...]  # distinct descriptions, most frequent first
    source_ids: tuple[str, ...]


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
    cleaned = "_".join(raw.strip().upper().replace("-", " ").split())
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


def _entity_frame(records: Mapping[str, Extraction]) -> pl.DataFrame:
    rows: list[tuple[str, str, str, str, str]] = []
    for chunk_id, ext in records.items():
        for e in ext.entities:
            key = normalize_name(e.name)
            if key:
                rows.append((key, chunk_id, e.name.strip(), normalize_type(e.type), e.description.strip()))
        # An endpoint the extractor forgot to list is still an entity, with no type or description.
        for r in ext.relations:
            for name in (r.source, r.target):
                key = normalize_name(name)
                if key:
                    rows.append((key, chunk_id, name.strip(), UNKNOWN_TYPE, ""))
    return pl.DataFrame(
        rows, schema=["key", "chunk_id", "name", "type", "description"], orient="row"
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


def merge_entities(records: Mapping[str, Extraction], keys: Iterable[str] | None = None) -> dict[str, MergedEntity]:
    df = _entity_frame(records)
    if keys is not None:
        df = df.filter(pl.col("key").is_in(list(set(keys))))
    if df.is_empty():
        return {}
    names = _ranked(df, "key", "name")
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
    merged: dict[str, MergedEntity] = {}
    for row in table.sort("key").iter_rows(named=True):
        merged[row["key"]] = MergedEntity(
            key=row["key"],
            name=row["name"][0],
            type=(row["type"] or [UNKNOWN_TYPE])[0],
            fragments=tuple(row["description"] or ()),
            source_ids=tuple(row["chunk_id"]),
        )
    return merged


def merge_relations(
    records: Mapping[str, Extraction], keys: Iterable[str] | None = None
) -> dict[str, MergedRelation]:
    rows: list[tuple[str, str, str, str, list[str], str, float]] = []
    for chunk_id, ext in records.items():
        for r in ext.relations:
            s, t = normalize_name(r.source), normalize_name(r.target)
            if not s or not t or s == t:
                continue
            a, b = sorted((s, t))
            keywords = sorted({k.strip().lower() for k in r.keywords if k.strip()})
            rows.append((relation_key(a, b), chunk_id, a, b, keywords, r.description.strip(), float(r.weight)))
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
    if keys is not None:
        df = df.filter(pl.col("key").is_in(list(set(keys))))
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
