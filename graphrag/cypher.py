"""User Cypher: the result shape, and the names the rest of the code imports.

The guard itself lives in graphrag.cypher_guard (Neo4j's EXPLAIN decides what is read-only;
graphrag.cypher_lexer reads the text as Neo4j does; graphrag.cypher_tenancy confines a query
to one workspace); graphrag.stores.neo4j_user_cypher runs it.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphrag.cypher_guard import ALLOWED_PROCEDURES, SCHEMA_PROCEDURES, check_read_only

__all__ = ["ALLOWED_PROCEDURES", "SCHEMA_PROCEDURES", "CypherResult", "check_read_only", "to_jsonable"]


# --- results

@dataclass(frozen=True)
class CypherResult:
    """Rows of a read query as JSON-ready dicts; `truncated` when the row limit cut it."""

    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    row_limit: int
    notifications: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "truncated": self.truncated,
            "row_limit": self.row_limit,
            "notifications": self.notifications,
        }


def to_jsonable(value: Any) -> Any:
    """Neo4j values as JSON: nodes and relationships become their properties plus `_id`,
    `_labels` / `_type`, `_start`, `_end`; paths their nodes and relationships; temporal
    values ISO strings; bytes base64."""
    from neo4j.graph import Node, Path, Relationship

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Node):
        return {"_id": value.element_id, "_labels": sorted(value.labels),
                **{k: to_jsonable(v) for k, v in value.items()}}
    if isinstance(value, Relationship):
        return {
            "_id": value.element_id,
            "_type": value.type,
            "_start": value.start_node.element_id if value.start_node is not None else None,
            "_end": value.end_node.element_id if value.end_node is not None else None,
            **{k: to_jsonable(v) for k, v in value.items()},
        }
    if isinstance(value, Path):
        return {"nodes": [to_jsonable(n) for n in value.nodes],
                "relationships": [to_jsonable(r) for r in value.relationships]}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    iso = getattr(value, "iso_format", None) or getattr(value, "isoformat", None)
    if callable(iso):
        return iso()
    return str(value)
