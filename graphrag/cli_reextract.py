"""`graphrag reextract`: extract documents again with fresh model answers (the way back
from extractions that are wrong, and the way to move a workspace to another model or
prompt). Its own module so that cli.py stays a list of small commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from graphrag import exit_codes
from graphrag.core import GraphRAG
from graphrag.errors import DocumentNotFoundError, GraphRAGError
from graphrag.settings import Settings

console = Console(stderr=True, soft_wrap=True)
out = Console()


def reextract(
    docs: Annotated[list[str] | None, typer.Argument(help="document ids or source paths (or --all)")] = None,
    all_docs: Annotated[bool, typer.Option("--all", help="every indexed document")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only estimate chunks, LLM calls and tokens: nothing is sent or changed")
    ] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="exit 0 even if some documents failed (default: exit 3)")
    ] = False,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="workspace directory (default ./.graphrag or GRAPHRAG_WORKSPACE)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")] = False,
) -> None:
    """Extract documents again, bypassing the stored records and cached answers, and rebuild
    their graph. `--all` also moves the workspace to a changed model or prompt. Exit 0: all
    done; 3: some documents failed (they keep their previous graph); 2: unknown document."""
    if bool(docs) == all_docs:
        console.print("[red]error:[/red] name documents (ids or source paths) or give --all, not both")
        raise typer.Exit(code=exit_codes.USAGE)
    try:
        with GraphRAG(Settings(workspace=workspace) if workspace else Settings()) as rag:
            report = rag.reextract(None if all_docs else list(docs or []), dry_run=dry_run)
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        code = exit_codes.USAGE if isinstance(exc, DocumentNotFoundError) else exit_codes.ERROR
        raise typer.Exit(code=code) from None
    summary = report.to_dict()
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        title = "reextract (dry run: nothing sent, nothing changed)" if dry_run else "reextract"
        table = Table(title=title, show_header=False)
        rows = ["documents", "chunks", "extractor"]
        rows += [] if dry_run else ["documents_reextracted", "documents_failed", "chunks_extracted", "llm_calls"]
        for key in rows:
            table.add_row(key, str(summary[key]))
        for key, value in summary["estimate"].items():
            table.add_row(key, f"{value:,}")
        out.print(table)
        for failure in report.failures:
            console.print(f"[yellow]{failure['source']}[/yellow]: {failure['reason']}")
    if report.documents_failed and not allow_partial:
        console.print(f"[red]{report.documents_failed} document(s) failed[/red] (exit {exit_codes.PARTIAL})")
        raise typer.Exit(code=exit_codes.PARTIAL)
