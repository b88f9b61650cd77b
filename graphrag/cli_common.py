"""What the `graphrag` commands share: the consoles, the common options, opening a workspace
with errors turned into exit codes, progress and JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from graphrag import exit_codes
from graphrag.core import GraphRAG
from graphrag.errors import AmbiguousDocumentError, DocumentNotFoundError, GraphRAGError, SourceNotFoundError
from graphrag.progress import progress_reporter
from graphrag.settings import Settings
from graphrag.tracing import configure_tracing
from graphrag.workspace_guard import require_workspace

console = Console(stderr=True, soft_wrap=True)
out = Console()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="workspace directory (default ./.graphrag or GRAPHRAG_WORKSPACE)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
PruneOpt = Annotated[
    bool, typer.Option("--prune", help="also delete indexed documents whose files are gone from PATHS")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="only estimate chunks, LLM calls, tokens and cost: nothing is sent or indexed")
]
MaxTokensOpt = Annotated[
    int | None,
    typer.Option("--max-tokens", min=0, help="stop once the next batch would exceed N LLM tokens; the rest stays pending"),
]


def settings_for(workspace: Path | None) -> Settings:
    return Settings(workspace=workspace) if workspace is not None else Settings()


AllowPartialOpt = Annotated[
    bool, typer.Option("--allow-partial", help="exit 0 even if some documents failed (default: exit 3)")
]


def exit_code_for(exc: GraphRAGError) -> int:
    usage = (SourceNotFoundError, DocumentNotFoundError, AmbiguousDocumentError)
    return exit_codes.USAGE if isinstance(exc, usage) else exit_codes.ERROR


@contextmanager
def open_workspace(workspace: Path | None, *, existing: bool = False) -> Iterator[GraphRAG]:
    """`existing`: the command reads an index, so a workspace without one is an error
    (nothing is created)."""
    try:
        settings = settings_for(workspace)
        configure_tracing(settings.otel_exporter)
        if existing:
            require_workspace(settings)
        with GraphRAG(settings) as rag:
            yield rag
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=exit_code_for(exc)) from None


def exit_if_partial(failed: int, allow_partial: bool) -> None:
    if failed and not allow_partial:
        console.print(f"[red]{failed} document(s) failed[/red] (exit {exit_codes.PARTIAL}; --allow-partial accepts)")
        raise typer.Exit(code=exit_codes.PARTIAL)


def progress_for(workspace: Path | None = None) -> Any:
    """Bars on a terminal, periodic log lines otherwise (see `--log-format`)."""
    interval = settings_for(workspace).progress_interval
    return progress_reporter(console, interval=interval)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
