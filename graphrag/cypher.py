"""User Cypher: the static read-only check and the result shape.

`check_read_only(query)` refuses anything that could write or administer the database
before it reaches Neo4j. It lexes the query the way Cypher does (string literals with their
escapes, `//` and `/* */` comments, backtick-quoted names), so a keyword inside a string is
just data while a write hidden after a comment or behind a string is still seen. It is one
of two guards: the query then runs in a READ access-mode transaction, which Neo4j itself
refuses to let write.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from graphrag.errors import CypherNotAllowedError

# Clauses and commands that write data or the schema, or administer the server.
_WRITE = {
    "CREATE": "CREATE writes data or schema",
    "MERGE": "MERGE writes data",
    "SET": "SET writes properties or labels",
    "DELETE": "DELETE removes data",
    "DETACH": "DETACH DELETE removes data",
    "REMOVE": "REMOVE writes properties or labels",
    "INSERT": "INSERT writes data",
    "FOREACH": "FOREACH only exists to write",
    "DROP": "DROP changes the schema or the server",
    "ALTER": "ALTER administers the server",
    "RENAME": "RENAME administers the server",
    "GRANT": "GRANT administers security",
    "DENY": "DENY administers security",
    "REVOKE": "REVOKE administers security",
    "ENABLE": "ENABLE administers the server",
    "DEALLOCATE": "DEALLOCATE administers the server",
    "REALLOCATE": "REALLOCATE administers the server",
    "TERMINATE": "TERMINATE administers the server",
    "SHOW": "SHOW commands are administration commands",
    "USE": "USE switches to another database",
    "LOAD": "LOAD CSV reads files and URLs from the server",
    "PERIODIC": "USING PERIODIC COMMIT is a batched write",
    "TRANSACTIONS": "CALL { ... } IN TRANSACTIONS is a batched write",
}

# START / STOP are only refused before these, so `(start)-->(stop)` stays a valid read.
_ADMIN_OBJECTS = {"DATABASE", "DATABASES", "SERVER", "SERVERS", "COMPOSITE", "ALIAS"}

# Procedures a read query may CALL; every other procedure (dbms.*, db.create*, ...) is refused.
ALLOWED_PROCEDURES = frozenset({
    "db.labels",
    "db.relationshipTypes",
    "db.propertyKeys",
    "db.schema.visualization",
    "db.schema.nodeTypeProperties",
    "db.schema.relTypeProperties",
    "db.index.fulltext.queryNodes",
    "db.index.fulltext.queryRelationships",
    "db.index.vector.queryNodes",
    "db.index.vector.queryRelationships",
})

_Kind = Literal["word", "name", "string", "param", "punct"]


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str


_WORD = re.compile(r"[^\W\d]\w*|\d[\w.]*", re.UNICODE)
_SPACE = re.compile(r"\s+", re.UNICODE)
_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def _tokens(query: str) -> list[_Token]:
    """Words, backtick-quoted names, string literals (as one opaque token), parameters and
    punctuation; comments and whitespace dropped."""
    out: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i = _SPACE.match(query, i).end()  # type: ignore[union-attr]
        elif query.startswith("//", i):
            # Ends at the first line break of any kind: ending too early only means
            # checking more text, ending too late could hide a clause.
            m = _LINE_BREAK.search(query, i)
            i = n if m is None else m.end()
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            if end < 0:
                raise CypherNotAllowedError("unterminated /* comment: the query cannot be checked")
            i = end + 2
        elif c in "'\"":
            j = i + 1
            while j < n and query[j] != c:
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise CypherNotAllowedError("unterminated string literal: the query cannot be checked")
            out.append(_Token("string", query[i + 1 : j]))
            i = j + 1
        elif c == "`":
            j = i + 1
            name = []
            while True:
                end = query.find("`", j)
                if end < 0:
                    raise CypherNotAllowedError("unterminated `name`: the query cannot be checked")
                name.append(query[j:end])
                if query.startswith("``", end):  # `` inside a quoted name is a literal backtick
                    name.append("`")
                    j = end + 2
                    continue
                i = end + 1
                break
            out.append(_Token("name", "".join(name)))
        elif c == "$":
            m = _WORD.match(query, i + 1)
            if m is None:
                out.append(_Token("punct", c))
                i += 1
            else:
                out.append(_Token("param", m.group()))
                i = m.end()
        else:
            m = _WORD.match(query, i)
            if m is not None:
                out.append(_Token("word", m.group()))
                i = m.end()
            else:
                out.append(_Token("punct", c))
                i += 1
    return out


def _refuse(reason: str) -> None:
    raise CypherNotAllowedError(
        f"refused: {reason}. `graphrag cypher` runs read-only queries (MATCH ... RETURN); "
        "the graph is written by `graphrag index` / `graphrag delete` only"
    )


def check_read_only(query: str) -> None:
    """Raises CypherNotAllowedError unless `query` is one read-only statement."""
    tokens = _tokens(query)
    if not any(t.kind == "word" for t in tokens):
        raise CypherNotAllowedError("empty query: give a Cypher statement such as MATCH (n) RETURN n LIMIT 5")
    for i, t in enumerate(tokens):
        before = tokens[i - 1] if i > 0 else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if t.kind == "punct" and t.text == ";" and any(x.kind != "punct" or x.text != ";" for x in tokens[i + 1 :]):
            _refuse("several statements separated by ';'; send one statement")
        if t.kind != "word":
            continue
        word = t.text.upper()
        if before is not None and before.kind == "punct" and before.text in ".:":
            continue  # a property key (n.set) or a label / relationship type (:Delete)
        if (
            after is not None and after.kind == "punct" and after.text == ":"
            and before is not None and before.kind == "punct" and before.text in "{,("
        ):
            continue  # a map key ({set: 1}) or a variable with a label ((create:Person))
        if word in _WRITE:
            _refuse(_WRITE[word])
        if word in ("START", "STOP") and after is not None and after.kind == "word" and (
            after.text.upper() in _ADMIN_OBJECTS
        ):
            _refuse(f"{word} {after.text.upper()} administers the server")
        if word == "CALL":
            _check_call(tokens, i)


def _check_call(tokens: list[_Token], i: int) -> None:
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is None:
        _refuse("CALL without a procedure")
    if nxt.kind == "punct" and nxt.text in "{(":
        return  # a subquery: its clauses are checked like the rest of the query
    parts: list[str] = []
    j = i + 1
    while j < len(tokens) and tokens[j].kind in ("word", "name"):
        parts.append(tokens[j].text)
        if j + 1 < len(tokens) and tokens[j + 1].kind == "punct" and tokens[j + 1].text == ".":
            j += 2
            continue
        break
    name = ".".join(parts)
    if name not in ALLOWED_PROCEDURES:
        allowed = ", ".join(sorted(ALLOWED_PROCEDURES))
        _refuse(f"procedure {name or '?'!r} is not on the read-only list ({allowed})")


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
