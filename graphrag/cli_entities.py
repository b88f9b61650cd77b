"""`graphrag entities ...`: look at an entity's names, merge, split, review candidate pairs."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from graphrag.cli_common import JsonOpt, WorkspaceOpt, console, open_workspace, out

app = typer.Typer(no_args_is_help=True, help="Entity resolution: show, merge, split and review entities.")
NoteOpt = Annotated[str, typer.Option("--note", help="why: kept with the decision")]


def _emit(data: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    entities = data if isinstance(data, list) else [data.get("entity", data), data.get("split")]
    for e in (x for x in entities if x):
        names = ", ".join(a["name"] for a in e["aliases"]) or "-"
        out.print(f"{e['name']} [{e['type']}] key={e['key']!r}  aliases: {names}")


@app.command()
def show(name: Annotated[str, typer.Argument(help="an entity's key, name or alias")],
         workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The entity a name belongs to, with all its aliases."""
    with open_workspace(workspace, existing=True) as rag:
        _emit(rag.entities.entity(name), as_json)


@app.command()
def merge(a: Annotated[str, typer.Argument(help="a name or alias of the first entity")],
          b: Annotated[str, typer.Argument(help="a name or alias of the second entity")],
          note: NoteOpt = "", workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Make two entities one. Kept as a decision: it survives re-indexing and deletes."""
    with open_workspace(workspace, existing=True) as rag:
        _emit(rag.entities.merge(a, b, note), as_json)


@app.command()
def split(key: Annotated[str, typer.Argument(help="the entity (its key or any of its names)")],
          alias: Annotated[str, typer.Argument(help="the alias to take off it")],
          note: NoteOpt = "", workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Take an alias off an entity and keep the two apart from now on."""
    with open_workspace(workspace, existing=True) as rag:
        _emit(rag.entities.split(key, alias, note), as_json)


@app.command()
def review(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="pairs to show")] = 20,
    interactive: Annotated[bool, typer.Option("--interactive", "-i", help="accept (y) or reject (n) each pair")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Candidate pairs just under the merge threshold, for a person to accept or reject."""
    with open_workspace(workspace, existing=True) as rag:
        pairs = rag.entities.review(limit)
        if as_json:
            _emit(pairs, True)
            return
        table = Table("#", "name", "name", "score", "why", "mentions")
        for i, p in enumerate(pairs, 1):
            table.add_row(str(i), p["a_name"], p["b_name"], f"{p['score']:.2f}", p["method"],
                          f"{p['a_mentions']} / {p['b_mentions']}")
        out.print(table if pairs else "no candidate pairs to review")
        if not interactive:
            return
        for p in pairs:
            answer = typer.prompt(f"same entity: {p['a_name']!r} and {p['b_name']!r}? [y/n/s(kip)/q(uit)]", default="s")
            if answer.lower().startswith("q"):
                break
            if answer.lower().startswith("y"):
                rag.entities.merge(p["a"], p["b"], "accepted in review")
            elif answer.lower().startswith("n"):
                rag.entities.keep_apart(p["a"], p["b"], "rejected in review")


@app.command("keep-apart")
def keep_apart(a: Annotated[str, typer.Argument(help="a name")], b: Annotated[str, typer.Argument(help="another name")],
               note: NoteOpt = "", workspace: WorkspaceOpt = None) -> None:
    """Reject a candidate pair: the two names are never put in one entity."""
    with open_workspace(workspace, existing=True) as rag:
        rag.entities.keep_apart(a, b, note)


@app.command()
def forget(a: Annotated[str, typer.Argument(help="a name")], b: Annotated[str, typer.Argument(help="another name")],
           workspace: WorkspaceOpt = None) -> None:
    """Drop a manual decision between two names: resolution decides for them again."""
    with open_workspace(workspace, existing=True) as rag:
        if not rag.entities.forget(a, b):
            console.print(f"no decision between {a!r} and {b!r}")
            raise typer.Exit(code=1)


@app.command()
def decisions(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every manual merge and split, oldest first."""
    with open_workspace(workspace, existing=True) as rag:
        rows = rag.entities.decisions()
    if as_json:
        _emit(rows, True)
        return
    for r in rows:
        out.print(f"{r['decision']:<6} {r['a']!r} {r['b']!r}  {r['note']}")
