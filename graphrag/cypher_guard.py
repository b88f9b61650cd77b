"""The one guard every user Cypher query passes (CLI, `POST /cypher`, text-to-Cypher).

Read-only-ness is decided on what Neo4j itself will run: the query is EXPLAINed in the READ
transaction it then runs in, and accepted only when Neo4j calls it a read query (query type
`r`) and its plan has no operator that reaches outside the data: no LOAD CSV, SHOW,
TERMINATE, administration command, `CALL ... IN TRANSACTIONS`, no procedure outside the
read-only allow-list, no operator on another database (`USE`). A lexer
(graphrag.cypher_lexer, escapes decoded as Neo4j decodes them) adds the checks a plan cannot
show — user-defined functions, EXPLAIN/PROFILE wrappers — and a clearer message for the
common refusals; it is a second layer, not the decision.

`prepare()` also confines the query to a workspace (graphrag.cypher_tenancy) unless the
caller may read every workspace.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from graphrag.cypher_lexer import Token, lex
from graphrag.cypher_tenancy import PARAM, confine
from graphrag.errors import CypherNotAllowedError

# Procedures a confined query may call: schema metadata only (shared by the database).
SCHEMA_PROCEDURES = frozenset({
    "db.labels",
    "db.relationshipTypes",
    "db.propertyKeys",
    "db.schema.nodeTypeProperties",
    "db.schema.relTypeProperties",
})
# Read-only procedures an unconfined (admin) query may also call: they return nodes of
# every workspace, so a confined query cannot use them.
ALLOWED_PROCEDURES = SCHEMA_PROCEDURES | frozenset({
    "db.schema.visualization",
    "db.index.fulltext.queryNodes",
    "db.index.fulltext.queryRelationships",
    "db.index.vector.queryNodes",
    "db.index.vector.queryRelationships",
})

# Plan operators of a read-typed query that still reach outside the data.
_DENIED_OPERATORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"LoadCSV"), "LOAD CSV reads files and URLs from the server"),
    (re.compile(r"Show"), "SHOW commands are administration commands"),
    (re.compile(r"Terminate"), "TERMINATE stops other clients' transactions"),
    (re.compile(r"Administration|System"), "administration commands are not queries"),
    (re.compile(r"^Transaction"), "CALL { ... } IN TRANSACTIONS is a batched write"),
]
_QUERY_TYPES = {
    "w": "Neo4j plans it as a write",
    "rw": "Neo4j plans it as a read-write query",
    "s": "Neo4j plans it as a schema or administration command",
}
_PROCEDURE_NAME = re.compile(r"^\s*([^\s(]+)\s*\(")


def refuse(reason: str) -> CypherNotAllowedError:
    return CypherNotAllowedError(
        f"refused: {reason}. `graphrag cypher` and POST /cypher run read-only queries (MATCH ... RETURN); "
        "the graph is written by `graphrag index` / `graphrag delete` only"
    )


@dataclass(frozen=True)
class GuardedQuery:
    """What Neo4j runs for a user's query: the (confined) text and the parameters."""

    text: str
    params: dict[str, Any]
    workspace: str | None  # None: the query may read every workspace
    procedures: frozenset[str] = ALLOWED_PROCEDURES


def prepare(
    query: str,
    params: Mapping[str, Any] | None,
    *,
    workspace: str | None,
    default_workspace: str | None = None,
    functions: Collection[str] = (),
    user_functions: Collection[str] = (),
) -> GuardedQuery:
    """Lexical checks, then confinement to `workspace` (None: every workspace, for admins;
    `$workspace` then defaults to `default_workspace`). `functions` are the server's function
    names (lower case) and `user_functions` those that are not built in (refused)."""
    tokens = lex(query)
    _check_statement_start(query, tokens)
    confined = workspace is not None
    procedures = SCHEMA_PROCEDURES if confined else ALLOWED_PROCEDURES
    check_tokens(tokens, procedures=procedures, user_functions=user_functions)
    values = dict(params or {})
    if confined:
        if PARAM in values:
            raise CypherNotAllowedError(
                f"the ${PARAM} parameter is set by the server (the workspace this request is for) "
                "and cannot be given; remove it from params"
            )
        values[PARAM] = workspace
        return GuardedQuery(confine(query, tokens, functions), values, workspace, procedures)
    if default_workspace is not None:
        values.setdefault(PARAM, default_workspace)
    return GuardedQuery(query, values, None, procedures)


def check_read_only(query: str) -> None:
    """The lexical checks alone (no server): raises CypherNotAllowedError for an empty query,
    several statements, EXPLAIN/PROFILE, USE, LOAD CSV, SHOW, TERMINATE or a procedure
    outside the allow-list. Read-only-ness itself is decided on the plan (check_plan)."""
    tokens = lex(query)
    _check_statement_start(query, tokens)
    check_tokens(tokens, procedures=ALLOWED_PROCEDURES, user_functions=())


def _check_statement_start(query: str, tokens: list[Token]) -> None:
    """Neo4j 5.26 misreads an escape that is the first character of the statement (after
    `CYPHER` options): `\\u004CALL` runs as `CALL`, `\\u004dATCH` fails as `dATCH`. Our
    reading would differ there, so such a query is refused."""
    i = 0
    if tokens and tokens[0].is_word("CYPHER") and query[tokens[0].start] != "\\":
        i = 1
        while i < len(tokens) and (tokens[i].text[:1].isdigit() or tokens[i].is_punct("=.")
                                   or (i + 1 < len(tokens) and tokens[i + 1].is_punct("="))
                                   or tokens[i - 1].is_punct("=")):
            i += 1
    if i < len(tokens) and query[tokens[i].start] == "\\":
        raise refuse("a statement may not begin with a \\u escape (Neo4j reads that first character "
                     "differently); write it plainly")


def _keyword_at(tokens: list[Token], i: int) -> bool:
    """tokens[i] is used as a keyword: not a property key, label, map key or parameter."""
    before = tokens[i - 1] if i > 0 else None
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    if before is not None and before.is_punct(".:"):
        return False
    if after is not None and after.is_punct(":") and before is not None and before.is_punct("{,("):
        return False
    return True


def check_tokens(tokens: list[Token], *, procedures: Collection[str], user_functions: Collection[str]) -> None:
    if not any(t.kind in ("word", "name", "string", "param") for t in tokens):
        raise CypherNotAllowedError("empty query: give a Cypher statement such as MATCH (n) RETURN n LIMIT 5")
    lowered_udfs = {f.lower() for f in user_functions}
    for i, t in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if t.is_punct(";") and any(not x.is_punct(";") for x in tokens[i + 1 :]):
            raise refuse("several statements separated by ';'; send one statement")
        if t.kind == "word" and _keyword_at(tokens, i):
            word = t.upper
            followed_by_word = after is not None and after.kind in ("word", "name") and not after.is_word("AS")
            if word in ("EXPLAIN", "PROFILE"):
                raise refuse(f"{word} is added by the server; send the query itself")
            if word == "USE" and followed_by_word and _clause_start(tokens, i):
                raise refuse("USE switches to another database")
            if word == "LOAD" and after is not None and after.is_word("CSV"):
                raise refuse("LOAD CSV reads files and URLs from the server")
            if word in ("SHOW", "TERMINATE") and followed_by_word:
                raise refuse(f"{word} commands are administration commands")
            if word == "CALL":
                _check_call(tokens, i, procedures)
        if lowered_udfs and t.kind in ("word", "name") and after is not None and after.is_punct("("):
            name = _dotted_name_ending_at(tokens, i)
            if name.lower() in lowered_udfs:
                raise refuse(f"user-defined function {name!r} is not a built-in read-only function")


def _clause_start(tokens: list[Token], i: int) -> bool:
    """tokens[i] stands where a USE clause can: first, first in a subquery, after UNION, or
    anywhere in a query that starts with pre-parser options (CYPHER ...)."""
    if i == 0 or tokens[0].is_word("CYPHER"):
        return True
    before = tokens[i - 1]
    return before.is_punct("{") or before.is_word("UNION", "ALL", "DISTINCT")


def _dotted_name_ending_at(tokens: list[Token], i: int) -> str:
    parts = [tokens[i].text]
    j = i
    while j >= 2 and tokens[j - 1].is_punct(".") and tokens[j - 2].kind in ("word", "name"):
        parts.insert(0, tokens[j - 2].text)
        j -= 2
    return ".".join(parts)


def _check_call(tokens: list[Token], i: int, procedures: Collection[str]) -> None:
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is None:
        raise refuse("CALL without a procedure")
    if nxt.is_punct("{("):
        return  # a subquery: its clauses are checked like the rest of the query
    parts: list[str] = []
    j = i + 1
    while j < len(tokens) and tokens[j].kind in ("word", "name"):
        parts.append(tokens[j].text)
        if j + 1 < len(tokens) and tokens[j + 1].is_punct("."):
            j += 2
            continue
        break
    _check_procedure(".".join(parts), procedures)


def _check_procedure(name: str, procedures: Collection[str]) -> None:
    if name not in procedures:
        allowed = ", ".join(sorted(procedures))
        raise refuse(f"procedure {name or '?'!r} is not on the read-only list here ({allowed})")


def check_plan(query_type: Any, plan: Mapping[str, Any] | None, *, database: str | None,
               procedures: Collection[str]) -> None:
    """Raises CypherNotAllowedError unless Neo4j's EXPLAIN says the query only reads data."""
    kind = getattr(query_type, "value", query_type)
    if kind != "r":
        raise refuse(_QUERY_TYPES.get(str(kind), f"Neo4j gives it query type {kind!r}, not a read"))
    if plan is None:
        raise refuse("Neo4j returned no plan for it, so it cannot be checked")
    stack = [plan]
    while stack:
        op = stack.pop()
        stack.extend(op.get("children") or [])
        operator, _, on = str(op.get("operatorType", "")).partition("@")
        if on and database and on != database:
            raise refuse(f"it runs on database {on!r}, not {database!r} (USE)")
        if operator == "ProcedureCall":
            details = str((op.get("args") or {}).get("Details", ""))
            m = _PROCEDURE_NAME.match(details)
            _check_procedure(m.group(1).replace("`", "") if m else "", procedures)
            continue
        if "Procedure" in operator:
            raise refuse(f"plan operator {operator} calls a procedure")
        for pattern, reason in _DENIED_OPERATORS:
            if pattern.search(operator):
                raise refuse(f"{reason} (plan operator {operator})")
