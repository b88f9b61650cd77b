"""`graphrag cypher`: read-only Cypher (or a question turned into Cypher) on the Neo4j store."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from graphrag.cli_common import JsonOpt, WorkspaceOpt, open_workspace, print_json, console, out


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    """`k=v` pairs; v is JSON when it parses (5, true, [1, 2], "5"), a plain string otherwise."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r}: use --param name=value", param_hint="--param")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


def cypher(
    query: Annotated[
        str | None,
        typer.Argument(help="a read-only Cypher query, e.g. \"MATCH (e:Entity) RETURN e.name LIMIT 5\""),
    ] = None,
    ask: Annotated[
        str | None,
        typer.Option("--ask", help="a question in plain language: the chat model writes the query (shown), then it runs"),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="query parameter name=value (value parsed as JSON if it can be); repeatable"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="return at most this many rows")] = 1000,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="seconds before the query is stopped")] = 30.0,
    all_workspaces: Annotated[
        bool,
        typer.Option("--all-workspaces", help="read every workspace of the database, not only this one"),
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a read-only Cypher query on the Neo4j graph, confined to this workspace (every node
    pattern is bound to $workspace). Writes, admin commands, LOAD CSV, SHOW and TERMINATE are
    refused; Neo4j's own EXPLAIN decides."""
    if (query is None) == (ask is None):
        raise typer.BadParameter("give either a QUERY or --ask \"QUESTION\"", param_hint="QUERY / --ask")
    if ask is not None and (param or all_workspaces):
        raise typer.BadParameter("--ask takes neither --param nor --all-workspaces", param_hint="--ask")
    params = _parse_params(param or [])
    generated: dict[str, Any] = {}
    with open_workspace(workspace) as rag:
        if ask is not None:
            import asyncio

            from graphrag.text_to_cypher import text_to_cypher

            answer = asyncio.run(text_to_cypher(rag, ask, timeout=timeout, row_limit=limit))
            result = answer.result
            generated = {"question": ask, "cypher": answer.cypher, "attempts": answer.attempts,
                         "errors": answer.errors}
            from rich.markup import escape

            console.print(f"[bold]cypher:[/bold] {escape(answer.cypher)}", highlight=False)
        else:
            result = rag.cypher(query or "", params, timeout=timeout, row_limit=limit,
                                all_workspaces=all_workspaces)
    if as_json:
        print_json({**generated, **result.to_dict()})
    else:
        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
                            for v in row.values()))
        out.print(table)
        for note in result.notifications:
            console.print(f"[yellow]neo4j:[/yellow] {note}")
    if result.truncated:
        console.print(f"[yellow]truncated:[/yellow] showing the first {result.row_limit} rows; "
                      "add LIMIT to the query or raise --limit")
