"""`graphrag ingest` and `graphrag schedule`: the Prefect flows from the command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from graphrag.errors import GraphRAGError, IncompleteRunError
from graphrag.index_plan import check_sources
from graphrag.cli_common import AllowPartialOpt, DryRunOpt, JsonOpt, MaxTokensOpt, PruneOpt, WorkspaceOpt, exit_code_for, exit_if_partial, print_json, console, out


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files, folders or globs to ingest")],
    workspace: WorkspaceOpt = None,
    prune: PruneOpt = False,
    dry_run: DryRunOpt = False,
    max_tokens: MaxTokensOpt = None,
    allow_partial: AllowPartialOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest with the Prefect flow: its runs, logs and report show in the Prefect UI.
    Exit codes as for `index`; the flow run ends Failed when documents failed."""
    from flows.ingest import run_ingest
    from flows.report import to_text, without_summary_echo

    failed = 0
    for handler in logging.getLogger().handlers:  # Prefect's console: the summary is printed below
        handler.addFilter(without_summary_echo)
    try:
        check_sources([str(p) for p in paths])  # before a flow run is even created
        summary = run_ingest(
            [str(p) for p in paths], workspace=str(workspace) if workspace else None,
            prune=prune, dry_run=dry_run, max_tokens=max_tokens, allow_partial=allow_partial,
        )
    except IncompleteRunError as exc:
        summary, failed = exc.summary, 1
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=exit_code_for(exc)) from None
    if as_json:
        print_json(summary)
    else:
        out.print(to_text(summary), markup=False, highlight=False)
    if failed:
        exit_if_partial(summary.get("documents", {}).get("failed", 1) or 1, allow_partial)


def schedule(
    paths: Annotated[list[Path], typer.Argument(help="files, folders or globs to ingest")],
    cron: Annotated[str | None, typer.Option("--cron", help='cron schedule, e.g. "*/15 * * * *"')] = None,
    interval: Annotated[float | None, typer.Option("--interval", help="seconds between runs")] = None,
    workspace: WorkspaceOpt = None,
    prune: PruneOpt = False,
    max_tokens: MaxTokensOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="deployment name (default ingest-<workspace>)")] = None,
) -> None:
    """Serve the ingest flow on a schedule until interrupted (needs a Prefect server)."""
    from flows.schedule import serve_ingest

    try:
        serve_ingest(
            [str(p) for p in paths], cron=cron, interval=interval, workspace=workspace,
            prune=prune, max_tokens=max_tokens, name=name,
        )
    except (GraphRAGError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
