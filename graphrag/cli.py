"""The `graphrag` command: a thin shell over `GraphRAG`; `--json` for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graphrag.core import GraphRAG
from graphrag.errors import GraphRAGError
from graphrag.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="GraphRAG knowledge-graph indexing and querying.")
console = Console(stderr=True, soft_wrap=True)
out = Console()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="workspace directory (default ./.graphrag or GRAPHRAG_WORKSPACE)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]


def _settings(workspace: Path | None) -> Settings:
    return Settings(workspace=workspace) if workspace is not None else Settings()


@contextmanager
def _open(workspace: Path | None) -> Iterator[GraphRAG]:
    try:
        with GraphRAG(_settings(workspace)) as rag:
            yield rag
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    ) as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total or None)
            progress.update(tasks[stage], completed=done, total=total or None)

        yield update


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="files, folders or globs to index")],
    workspace: WorkspaceOpt = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="also delete indexed documents whose files are gone from PATHS")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Index documents: only new or changed content is extracted."""
    with _open(workspace) as rag, _progress(not as_json and console.is_terminal) as progress:
        report = rag.index(paths, progress=progress, prune=prune)
    summary = report.to_dict()
    if as_json:
        _print_json(summary)
        return
    table = Table(title="index", show_header=False)
    for key in ("documents_new", "documents_updated", "documents_unchanged", "documents_skipped",
                "documents_failed", "documents_removed", "chunks_extracted", "chunks_reused", "llm_calls", "entities",
                "relations", "seconds"):
        table.add_row(key, str(summary[key]))
    out.print(table)
    for failure in report.failures:
        console.print(f"[yellow]{failure['source']}[/yellow]: {failure['reason']}")


@app.command()
def status(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Documents with their status and errors."""
    with _open(workspace) as rag:
        records = rag.status()
    if as_json:
        _print_json([asdict(r) for r in records])
        return
    table = Table("status", "id", "source", "chunks", "error")
    for r in records:
        table.add_row(r.status, r.id[:16], r.source, str(r.n_chunks), r.error or "")
    out.print(table)


@app.command()
def delete(
    docs: Annotated[list[str], typer.Argument(help="document ids or source paths")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove documents and exactly their contributions to the graph (no re-extraction)."""
    with _open(workspace) as rag:
        removed = rag.delete(docs)
    if as_json:
        _print_json({"deleted": [{"id": r.id, "source": r.source} for r in removed]})
        return
    for r in removed:
        out.print(f"deleted {r.id} ({r.source})")


@app.command()
def stats(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of documents, chunks, entities and relations."""
    with _open(workspace) as rag:
        data = rag.stats()
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        out.print(f"{key}: {value}")


@app.command()
def query(
    question: Annotated[str, typer.Argument(help="the question to answer from the indexed documents")],
    mode: Annotated[
        str | None, typer.Option("--mode", "-m", help="naive | local | global | hybrid | mix | ppr (default: mix)")
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", min=1, help="chunks to retrieve (default 10)")] = None,
    only_context: Annotated[
        bool, typer.Option("--only-context", help="print the retrieved context instead of an answer")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the index, citing the chunks it comes from."""
    import asyncio

    with _open(workspace) as rag:
        if as_json or only_context or rag.chat is None or not out.is_terminal:
            result = rag.query(question, mode, top_k, only_context=only_context)
            if as_json:
                _print_json(result.to_dict())
                return
            out.print(result.context if only_context else result.answer, markup=False, highlight=False)
        else:
            stream = rag.query_stream(question, mode, top_k)

            async def show() -> None:
                async for piece in stream:
                    out.print(piece, end="", markup=False, highlight=False)
                out.print()

            asyncio.run(show())
            assert stream.result is not None
            result = stream.result
    if only_context:
        return
    for ref in result.references:
        console.print(f"[{ref.ref}] {ref.title or ref.source}  ({ref.chunk_id})", markup=False, highlight=False)
    timings = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.timings.items() if k in ("retrieval", "answer", "total"))
    console.print(f"mode {result.mode}; {len(result.chunks)} chunks; {timings}; LLM calls {result.llm['calls']}")


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="json | parquet | graphml")] = "json",
    out_path: Annotated[Path, typer.Option("--out", "-o", help="output file (parquet: a folder)")] = Path("graph.json"),
    workspace: WorkspaceOpt = None,
) -> None:
    """Export entities and relations."""
    if fmt not in ("json", "parquet", "graphml"):
        console.print(f"[red]error:[/red] unknown format {fmt!r}; use json, parquet or graphml")
        raise typer.Exit(code=2)
    with _open(workspace) as rag:
        written = rag.export(fmt, out_path)  # type: ignore[arg-type]
    for path in written:
        out.print(f"wrote {path}")


if __name__ == "__main__":
    app()
