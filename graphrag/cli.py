"""The `graphrag` command: a thin shell over `GraphRAG`; `--json` for scripts."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from graphrag.cli_help import FlagsWithoutTypes
from graphrag.cli_reextract import reextract
from graphrag.cli_tables import document_table, documents_table, stats_tables
from graphrag.core import GraphRAG
from graphrag.cost import format_cost
from graphrag.doc_refs import resolve_document_refs
from graphrag.dry_run import estimate_settings
from graphrag.errors import ConfigError, DocumentNotFoundError, GraphRAGError
from graphrag.ingest.skipped import describe_skipped, skipped_by_extension
from graphrag.model_loader import warm_up
from graphrag.progress import configure_logging
from graphrag.serve_guard import check_bind
from graphrag.workspace_guard import require_indexed_chunks
from graphrag.cli_common import AllowPartialOpt, DryRunOpt, JsonOpt, MaxTokensOpt, PruneOpt, WorkspaceOpt, exit_code_for, exit_if_partial, open_workspace, print_json, progress_for, settings_for, console, out
from graphrag.cli_cypher import cypher
from graphrag.cli_eval import eval_
from graphrag.cli_flows import ingest, schedule

app = typer.Typer(
    cls=FlagsWithoutTypes, add_completion=False, no_args_is_help=True,
    help="GraphRAG knowledge-graph indexing and querying.",
)
def _show_version(value: bool) -> None:
    if value:
        from graphrag import __version__

        out.print(f"graphrag {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="print the version and exit")
    ] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="text | json: log lines (and progress when not on a terminal) on stderr")
    ] = "text",
) -> None:
    """GraphRAG knowledge-graph indexing and querying."""
    if log_format not in ("text", "json"):
        raise typer.BadParameter(f"{log_format!r}: use text or json", param_hint="--log-format")
    configure_logging(log_format)  # type: ignore[arg-type]
    # LanceDB's Rust logger prints WARN lines ("No existing dataset at ...") into the output;
    # errors still show. Set before lancedb is imported; LANCEDB_LOG=warn brings them back.
    os.environ.setdefault("LANCEDB_LOG", "error")


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="files, folders or globs to index")],
    workspace: WorkspaceOpt = None,
    prune: PruneOpt = False,
    dry_run: DryRunOpt = False,
    max_tokens: MaxTokensOpt = None,
    allow_partial: AllowPartialOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Index documents: only new or changed content is extracted. Exit 0: all done;
    3: some documents failed; 2: a path does not exist; 1: could not run."""
    skipped = skipped_by_extension(paths)
    if dry_run:
        try:
            with estimate_settings(settings_for(workspace)) as settings, GraphRAG(settings) as rag:
                estimate = rag.estimate(paths)
        except GraphRAGError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=exit_code_for(exc)) from None
        _print_estimate({**estimate.to_dict(), "files_skipped_by_type": dict(skipped)}, as_json)
        _note_skipped(skipped, as_json)
        return
    with open_workspace(workspace) as rag, progress_for(workspace) as progress:
        report = rag.index(paths, progress=progress, prune=prune, max_tokens=max_tokens)
    summary = {**report.to_dict(), "files_skipped_by_type": dict(skipped)}
    _note_skipped(skipped, as_json)
    if as_json:
        print_json(summary)
        exit_if_partial(report.documents_failed, allow_partial)
        return
    table = Table(title="index", show_header=False)
    for key in ("documents_new", "documents_updated", "documents_unchanged", "documents_skipped",
                "documents_failed", "documents_removed", "documents_pending", "chunks_extracted", "chunks_reused",
                "llm_calls", "entities", "relations", "seconds"):
        table.add_row(key, str(summary[key]))
    out.print(table)
    for failure in report.failures:
        console.print(f"[yellow]{failure['source']}[/yellow]: {failure['reason']}")
    if report.budget.get("stopped"):
        console.print(f"[yellow]{report.budget['stopped']}[/yellow]")
    exit_if_partial(report.documents_failed, allow_partial)


def _note_skipped(skipped: Any, as_json: bool) -> None:
    message = describe_skipped(skipped)
    if message and not as_json:
        console.print(f"[yellow]{message}[/yellow]", highlight=False)


def _print_estimate(estimate: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(estimate)
        return
    table = Table(title="dry run: nothing sent, nothing indexed", show_header=False)
    for key in ("documents_to_index", "documents_unchanged", "documents_unloadable", "documents_gone", "chunks",
                "chunks_reused", "chunks_to_extract", "llm_calls", "prompt_tokens", "completion_tokens", "tokens"):
        table.add_row(key, f"{estimate[key]:,}")
    table.add_row("cost", format_cost(estimate["cost"], estimate["currency"]))
    out.print(table)
    for note in estimate["notes"]:
        console.print(note)


@app.command()
def status(
    docs: Annotated[
        list[str] | None,
        typer.Argument(help="only these documents: id, id prefix (8+ characters), path or file name"),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Documents with their status and errors; the ids and paths shown are what `delete` takes."""
    with open_workspace(workspace, existing=True) as rag:
        records = rag.status()
        if docs:
            records = resolve_document_refs(records, docs)
    if as_json:
        print_json([asdict(r) for r in records])
        return
    if docs:
        for r in records:
            out.print(document_table(r))
        return
    out.print(documents_table(records))


@app.command()
def delete(
    docs: Annotated[
        list[str], typer.Argument(help="documents: id, id prefix (8+ characters), path or file name (as `status` shows)")
    ],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove documents and exactly their contributions to the graph (no re-extraction)."""
    with open_workspace(workspace, existing=True) as rag, progress_for(workspace) as progress:
        refs, misses = _delete_refs(rag, docs)
        try:
            removed = rag.delete(refs, progress=progress)
        except DocumentNotFoundError as exc:
            # The resolver's message says what a reference may be; the store's only that it is unknown.
            raise next((m for ref, m in misses.items() if repr(ref) in str(exc)), exc) from None
    if as_json:
        print_json({"deleted": [{"id": r.id, "source": r.source} for r in removed]})
        return
    for r in removed:
        out.print(f"deleted {r.id} ({r.source})")


def _delete_refs(rag: GraphRAG, docs: list[str]) -> tuple[list[str], dict[str, DocumentNotFoundError]]:
    """Ids for what `status` shows (prefixes, file names). A reference no indexed document
    has goes to `delete` as given, which finishes a removal a killed run left behind; its
    resolver error is kept for the message if `delete` does not know it either."""
    records = rag.status()
    refs: list[str] = []
    misses: dict[str, DocumentNotFoundError] = {}
    for doc in docs:
        try:
            refs.extend(r.id for r in resolve_document_refs(records, [doc]))
        except DocumentNotFoundError as exc:
            refs.append(doc)
            misses[doc] = exc
    return refs, misses


app.command()(reextract)
app.command()(cypher)
app.command()(ingest)
app.command()(schedule)
app.command("eval")(eval_)


@app.command()
def stats(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of documents, chunks, entities and relations."""
    with open_workspace(workspace, existing=True) as rag:
        data = rag.stats()
    if as_json:
        print_json(data)
        return
    for table in stats_tables(data):
        out.print(table)


@app.command()
def query(
    question: Annotated[str, typer.Argument(help="the question to answer from the indexed documents")],
    mode: Annotated[
        str | None,
        typer.Option("--mode", "-m", help="naive | local | global | hybrid | mix | ppr | auto (default: mix)"),
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", min=1, help="chunks to retrieve (default 10)")] = None,
    only_context: Annotated[
        bool, typer.Option("--only-context", help="print the retrieved context instead of an answer")
    ] = False,
    history_file: Annotated[
        Path | None,
        typer.Option(
            "--history", help='JSON file of earlier turns, [{"role": "user"|"assistant", "content": "..."}], oldest first'
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the index, citing the chunks it comes from."""
    import asyncio

    history = _read_history(history_file) if history_file is not None else None
    with open_workspace(workspace, existing=True) as rag:
        require_indexed_chunks(rag.settings, rag.state)
        warm_up(rag, mode)  # loads spaCy, the embedder and the tables side by side
        if as_json or only_context or rag.chat is None or not out.is_terminal:
            result = rag.query(question, mode, top_k, only_context=only_context, history=history)
            if as_json:
                print_json(result.to_dict())
                return
            out.print(result.context if only_context else result.answer, markup=False, highlight=False)
        else:
            stream = rag.query_stream(question, mode, top_k, history=history)

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
    route = result.retrieval.route
    shown_mode = f"auto -> {route['mode']} ({route['kind']})" if route else result.mode
    console.print(f"mode {shown_mode}; {len(result.chunks)} chunks; {timings}; LLM calls {result.llm['calls']}")
    if result.retrieval.standalone_question:
        console.print(f"searched as: {result.retrieval.standalone_question}", markup=False, highlight=False)


def _read_history(path: Path) -> list[Any]:
    from graphrag.query.conversation import parse_history

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot read the history file {path}: {exc.strerror or exc}")
        raise typer.Exit(code=2) from None
    except json.JSONDecodeError as exc:
        console.print(f"[red]error:[/red] {path} is not JSON ({exc.msg} at line {exc.lineno})")
        raise typer.Exit(code=2) from None
    try:
        return parse_history(raw)
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {path}: {exc}")
        raise typer.Exit(code=2) from None


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="json | parquet | graphml")] = "json",
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="output file (default graph.json, graph.graphml); parquet: X.parquet "
                     "writes X.entities.parquet and X.relations.parquet, any other path is a folder for both"),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Export entities and relations."""
    if fmt not in ("json", "parquet", "graphml"):
        console.print(f"[red]error:[/red] unknown format {fmt!r}; use json, parquet or graphml")
        raise typer.Exit(code=2)
    out_path = out_path or Path(f"graph.{fmt}")
    with open_workspace(workspace, existing=True) as rag:
        written = rag.export(fmt, out_path)  # type: ignore[arg-type]
    for path in written:
        out.print(f"wrote {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="interface to listen on (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port")] = 8000,
    workspace: WorkspaceOpt = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level")] = "info",
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="serve a non-loopback address without GRAPHRAG_API_KEY anyway")
    ] = False,
) -> None:
    """Serve the HTTP API (queries, Cypher, text-to-Cypher, documents, graph) and the graph
    explorer at / (open it in a browser); API docs at /docs.
    Set GRAPHRAG_API_KEY to require an X-API-Key header (required off loopback)."""
    import uvicorn

    from graphrag.api import create_app

    try:
        settings = settings_for(workspace)
        try:
            check_bind(host, settings, insecure_no_auth=insecure_no_auth)
        except ConfigError as exc:  # a usage error: exit code 2, like a bad option
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=2) from None
        api = create_app(settings)
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    logging.getLogger("graphrag").setLevel(log_level.upper())  # warm-up and ready lines beside uvicorn's
    uvicorn.run(api, host=host, port=port, log_level=log_level)


from graphrag.cli_entities import app as _entities_app  # noqa: E402

app.add_typer(_entities_app, name="entities")

if __name__ == "__main__":
    app()
