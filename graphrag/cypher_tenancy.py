"""Confining a user's Cypher query to one workspace, whatever it says.

Every node pattern of the query is rewritten to require `workspace = $workspace` (the
server sets that parameter; a caller cannot). `(e:Entity)` becomes
`(e:Entity {workspace: $workspace})`, `(e {key: 'x'})` gets the property added to its map,
`(e $props)` gets `WHERE e.workspace = $workspace`. Relationships need no rewrite: our
writers only ever link two nodes of the same workspace, so a relationship whose end is
confined is confined.

What counts as a node pattern is decided on the lexer's tokens (graphrag.cypher_lexer,
which reads escapes, strings and comments exactly as Neo4j does). It errs towards rewriting:
a `(` is left alone only when it opens the arguments of a known function or procedure, a
`CALL (...)` import list, or an expression that cannot be a node (`(a.x > 1)`, `(1 + 2)`).
A parenthesised expression that looks like a node, such as `RETURN (x)`, is rewritten and
Neo4j then refuses the query: a false refusal, never a leak. Rows are checked afterwards as
a second layer (`foreign_values`): a node or relationship of another workspace anywhere in a
row refuses the whole result.

Limits (also in the README): schema metadata (label names, relationship types, property
keys) is shared by the database and visible to every workspace; procedures that yield nodes
(fulltext and vector index queries) are refused for a confined query; timing is not hidden.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from graphrag.cypher_lexer import Token
from graphrag.errors import CypherNotAllowedError

PARAM = "workspace"
_BIND_MAP = f"{PARAM}: ${PARAM}"
_OPEN = {"(": ")", "[": "]", "{": "}"}
# Words that are function names but also path selectors before a pattern (`MATCH ANY
# SHORTEST (a)-->+(b)`, `MATCH ALL (a)...`); as functions their arguments (`x IN list ...`)
# are never node-shaped, so treating them as keywords costs nothing.
_PATTERN_WORDS = {"any", "all", "none", "single", "shortest", "path", "paths", "group", "groups"}


def _closing(tokens: list[Token], i: int) -> int:
    """Index of the token closing the bracket at `i`."""
    stack = [_OPEN[tokens[i].text]]
    for j in range(i + 1, len(tokens)):
        t = tokens[j]
        if t.kind != "punct":
            continue
        if t.text in _OPEN:
            stack.append(_OPEN[t.text])
        elif t.text in ")]}":
            if t.text != stack[-1]:
                raise CypherNotAllowedError(f"unbalanced {t.text!r} in the query")
            stack.pop()
            if not stack:
                return j
    raise CypherNotAllowedError(f"unclosed {tokens[i].text!r} in the query")


def _is_call_paren(tokens: list[Token], i: int, functions: Collection[str]) -> bool:
    """The `(` at i opens arguments (f(x), ns.f(x), CALL p(), CALL (x) {...}), not a pattern."""
    if i == 0:
        return False
    before = tokens[i - 1]
    if before.kind not in ("word", "name"):
        return False
    if before.kind == "word" and before.upper == "CALL":
        return True
    if i >= 2 and tokens[i - 2].is_punct("."):
        return True  # a namespaced function or procedure: db.labels(, point.distance(
    word = before.text.lower()
    return word in functions and word not in _PATTERN_WORDS


def _node_shape(tokens: list[Token], i: int, end: int) -> tuple[bool, int | None]:
    """(whether the group i..end can be a node pattern, index of its variable or None)."""
    first = i + 1
    if first == end:
        return True, None  # ()
    t = tokens[first]
    # `($x ...)` is an expression: a map parameter cannot start a node pattern of a read.
    if t.is_punct(":{") or t.is_word("WHERE", "IS"):
        return True, None
    if t.kind in ("word", "name"):
        nxt = tokens[first + 1]
        if first + 1 == end or nxt.kind == "param" or nxt.is_punct(":{") or nxt.is_word("WHERE", "IS"):
            return True, first
    return False, None


def confine(query: str, tokens: list[Token], functions: Collection[str]) -> str:
    """`query` with every node pattern bound to `$workspace` (see the module docstring)."""
    inserts: list[tuple[int, str]] = []
    for i, t in enumerate(tokens):
        if not t.is_punct("(") or _is_call_paren(tokens, i, functions):
            continue
        end = _closing(tokens, i)
        node, var = _node_shape(tokens, i, end)
        if not node:
            continue
        inserts.extend(_bind(tokens, i, end, var))
    out = query
    for pos, text in sorted(inserts, key=lambda x: x[0], reverse=True):
        out = out[:pos] + text + out[pos:]
    return out


def _bind(tokens: list[Token], i: int, end: int, var: int | None) -> list[tuple[int, str]]:
    """The insertions that bind the node pattern tokens[i..end] to the workspace."""
    props: int | None = None
    where: int | None = None
    j = i + 1
    while j < end:
        t = tokens[j]
        if t.is_punct("{") and props is None and where is None:
            props = j
            j = _closing(tokens, j) + 1
            continue
        if t.kind == "param" and props is None and where is None and j != var:
            props = j
        elif t.is_word("WHERE") and where is None:
            where = j
            break
        elif t.is_punct("([") and where is None:
            j = _closing(tokens, j) + 1  # a parenthesised label expression
            continue
        j += 1
    if props is None:
        at = tokens[where].start if where is not None else tokens[end].start
        return [(at, " {" + _BIND_MAP + "} ")]
    if tokens[props].is_punct("{"):
        close = _closing(tokens, props)
        empty = close == props + 1
        return [(tokens[close].start, (" " if empty else ", ") + _BIND_MAP + " ")]
    # `(n $props)`: a map parameter cannot be extended, so a WHERE is added.
    if var is None:
        raise CypherNotAllowedError(
            "a node pattern with a map parameter and no variable cannot be confined to the workspace: "
            "name the node, e.g. (n $props)"
        )
    name = "`" + tokens[var].text.replace("`", "``") + "`"
    condition = f"{name}.{PARAM} = ${PARAM}"
    if where is None:
        return [(tokens[end].start, f" WHERE {condition} ")]
    return [(tokens[where].end, " ("), (tokens[end].start, f") AND {condition} ")]


def foreign_values(value: Any, workspace: str) -> int:
    """How many nodes and relationships in `value` (a row value, nested in lists, maps and
    paths) do not belong to `workspace`."""
    from neo4j.graph import Node, Path, Relationship

    if isinstance(value, Node):
        return 0 if value.get(PARAM) == workspace else 1
    if isinstance(value, Relationship):
        # HAS_CHUNK and MENTIONS carry no workspace: their ends do (when the driver has them).
        if PARAM in value:
            return 0 if value[PARAM] == workspace else 1
        ends = [n for n in (value.start_node, value.end_node) if n is not None and PARAM in n]
        return sum(0 if n[PARAM] == workspace else 1 for n in ends)
    if isinstance(value, Path):
        return sum(foreign_values(x, workspace) for x in (*value.nodes, *value.relationships))
    if isinstance(value, Mapping):
        return sum(foreign_values(v, workspace) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(foreign_values(v, workspace) for v in value)
    return 0
