"""Export the graph as JSON, Parquet or GraphML."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import networkx as nx
import polars as pl

from graphrag.stores.base import GraphStore

ExportFormat = Literal["json", "parquet", "graphml"]


def graph_rows(graph: GraphStore) -> tuple[list[dict], list[dict]]:
    entities = [asdict(e) for e in graph.iter_entities()]
    relations = [asdict(r) for r in graph.iter_relations()]
    degrees = graph.degrees(e["key"] for e in entities)
    for e in entities:
        e["source_ids"] = list(e["source_ids"])
        e["aliases"] = [{"name": a["name"], "source_ids": list(a["source_ids"])} for a in e.get("aliases", ())]
        e["degree"] = degrees.get(e["key"], 0)
    for r in relations:
        r["source_ids"] = list(r["source_ids"])
        r["keywords"] = list(r["keywords"])
    return entities, relations


def export_graph(graph: GraphStore, fmt: ExportFormat, out: Path) -> list[Path]:
    """Writes the export; returns the files written. Parquet writes two tables (see
    `parquet_paths`)."""
    entities, relations = graph_rows(graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps({"entities": entities, "relations": relations}, ensure_ascii=False, indent=1))
        return [out]
    if fmt == "parquet":
        paths = parquet_paths(out)
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        entity_schema = {"key": pl.String, "name": pl.String, "type": pl.String, "description": pl.String,
                         "source_ids": pl.List(pl.String),
                         "aliases": pl.List(pl.Struct({"name": pl.String, "source_ids": pl.List(pl.String)})),
                         "degree": pl.Int64}
        relation_schema = {"key": pl.String, "source": pl.String, "target": pl.String, "description": pl.String,
                           "keywords": pl.List(pl.String), "weight": pl.Float64, "source_ids": pl.List(pl.String)}
        pl.DataFrame(entities, schema=entity_schema).write_parquet(paths[0])
        pl.DataFrame(relations, schema=relation_schema).write_parquet(paths[1])
        return paths
    if fmt == "graphml":
        g = nx.Graph()
        for e in entities:
            g.add_node(e["key"], **{k: _scalar(v) for k, v in e.items() if k != "key"})
        for r in relations:
            g.add_edge(r["source"], r["target"], **{k: _scalar(v) for k, v in r.items() if k not in ("source", "target")})
        nx.write_graphml(g, out)
        return [out]
    raise ValueError(f"unknown export format {fmt!r}; use json, parquet or graphml")


def parquet_paths(out: Path) -> list[Path]:
    """Parquet holds one table per file: `graph.parquet` becomes `graph.entities.parquet`
    and `graph.relations.parquet` beside it; any other path is a folder that gets
    `entities.parquet` and `relations.parquet`."""
    if out.suffix == ".parquet" and not out.is_dir():
        return [out.with_name(f"{out.stem}.entities.parquet"), out.with_name(f"{out.stem}.relations.parquet")]
    return [out / "entities.parquet", out / "relations.parquet"]


def _scalar(value: object) -> object:
    # GraphML attributes are scalars: lists become one separated string (aliases: their names).
    if isinstance(value, list):
        return "|".join(v["name"] if isinstance(v, dict) else v for v in value)
    return value
