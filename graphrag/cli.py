"""The `graphrag` command: a thin shell over `GraphRAG`; `--json` for scripts."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from graphrag import exit_codes
from graphrag.cli_help import FlagsWithoutTypes
from graphrag.cli_reextract import reextract
from graphrag.cli_tables import document_table, documents_table, stats_tables
from graphrag.core import GraphRAG
from graphrag.cost import format_cost
from graphrag.doc_refs import resolve_document_refs
from graphrag.dry_run import estimate_settings
from graphrag.errors import AmbiguousDocumentError, ConfigError, DocumentNotFoundError, GraphRAGError, IncompleteRunError, SourceNotFoundError
from graphrag.index_plan import check_sources
from graphrag.ingest.skipped import describe_skipped, skipped_by_extension
from graphrag.model_loader import warm_up
from graphrag.progress import configure_logging, progress_reporter
from graphrag.serve_guard import check_bind
from graphrag.settings import Settings
from graphrag.workspace_guard import require_indexed_chunks, require_workspace

app = typer.Typer(
    cls=FlagsWithoutTypes, add_completion=False, no_args_is_help=True,
    help="GraphRAG knowledge-graph indexing and querying.",
)
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


def _settings(workspace: Path | None) -> Settings:
    return Settings(workspace=workspace) if workspace is not None else Settings()


AllowPartialOpt = Annotated[
    bool, typer.Option("--allow-partial", help="exit 0 even if some documents failed (default: exit 3)")
]


def _exit_code(exc: GraphRAGError) -> int:
    usage = (SourceNotFoundError, DocumentNotFoundError, AmbiguousDocumentError)
    return exit_codes.USAGE if isinstance(exc, usage) else exit_codes.ERROR


@contextmanager
def _open(workspace: Path | None, *, existing: bool = False) -> Iterator[GraphRAG]:
    """`existing`: the command reads an index, so a workspace without one is an error
    (nothing is created)."""
    try:
        settings = _settings(workspace)
        if existing:
            require_workspace(settings)
        with GraphRAG(settings) as rag:
            yield rag
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=_exit_code(exc)) from None


def _exit_if_partial(failed: int, allow_partial: bool) -> None:
    if failed and not allow_partial:
        console.print(f"[red]{failed} document(s) failed[/red] (exit {exit_codes.PARTIAL}; --allow-partial accepts)")
        raise typer.Exit(code=exit_codes.PARTIAL)


def _progress(workspace: Path | None = None) -> Any:
    """Bars on a terminal, periodic log lines otherwise (see `--log-format`)."""
    interval = _settings(workspace).progress_interval
    return progress_reporter(console, interval=interval)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


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
            with estimate_settings(_settings(workspace)) as settings, GraphRAG(settings) as rag:
                estimate = rag.estimate(paths)
        except GraphRAGError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=_exit_code(exc)) from None
        _print_estimate({**estimate.to_dict(), "files_skipped_by_type": dict(skipped)}, as_json)
        _note_skipped(skipped, as_json)
        return
    with _open(workspace) as rag, _progress(workspace) as progress:
        report = rag.index(paths, progress=progress, prune=prune, max_tokens=max_tokens)
    summary = {**report.to_dict(), "files_skipped_by_type": dict(skipped)}
    _note_skipped(skipped, as_json)
    if as_json:
        _print_json(summary)
        _exit_if_partial(report.documents_failed, allow_partial)
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
    _exit_if_partial(report.documents_failed, allow_partial)


def _note_skipped(skipped: Any, as_json: bool) -> None:
    message = describe_skipped(skipped)
    if message and not as_json:
        console.print(f"[yellow]{message}[/yellow]", highlight=False)


def _print_estimate(estimate: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(estimate)
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
    with _open(workspace, existing=True) as rag:
        records = rag.status()
        if docs:
            records = resolve_document_refs(records, docs)
    if as_json:
        _print_json([asdict(r) for r in records])
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
    with _open(workspace, existing=True) as rag, _progress(workspace) as progress:
        refs, misses = _delete_refs(rag, docs)
        try:
            removed = rag.delete(refs, progress=progress)
        except DocumentNotFoundError as exc:
            # The resolver's message says what a reference may be; the store's only that it is unknown.
            raise next((m for ref, m in misses.items() if repr(ref) in str(exc)), exc) from None
    if as_json:
        _print_json({"deleted": [{"id": r.id, "source": r.source} for r in removed]})
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


@app.command()
def stats(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of documents, chunks, entities and relations."""
    with _open(workspace, existing=True) as rag:
        data = rag.stats()
    if as_json:
        _print_json(data)
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
    with _open(workspace, existing=True) as rag:
        require_indexed_chunks(rag.settings, rag.state)
        warm_up(rag, mode)  # loads spaCy, the embedder and the tables side by side
        if as_json or only_context or rag.chat is None or not out.is_terminal:
            result = rag.query(question, mode, top_k, only_context=only_context, history=history)
            if as_json:
                _print_json(result.to_dict())
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
    with _open(workspace, existing=True) as rag:
        written = rag.export(fmt, out_path)  # type: ignore[arg-type]
    for path in written:
        out.print(f"wrote {path}")


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


@app.command()
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
    with _open(workspace) as rag:
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
        _print_json({**generated, **result.to_dict()})
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


@app.command()
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
        raise typer.Exit(code=_exit_code(exc)) from None
    if as_json:
        _print_json(summary)
    else:
        out.print(to_text(summary), markup=False, highlight=False)
    if failed:
        _exit_if_partial(summary.get("documents", {}).get("failed", 1) or 1, allow_partial)


@app.command()
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


def _csv(value: str, what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise typer.BadParameter(f"give at least one {what}, comma-separated")
    return items


@app.command("eval")
def eval_(
    dataset_dir: Annotated[Path, typer.Argument(help="folder with corpus.jsonl and questions.jsonl (MuSiQue dev format)")],
    modes: Annotated[str, typer.Option("--modes", help="query modes to score, comma-separated")] = "naive,local,global,hybrid,mix,ppr,auto",
    ks: Annotated[str, typer.Option("--k", help="cut-offs of recall@k, all@k and NDCG@k, comma-separated")] = "2,5,10",
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="passages ranked per question (MRR counts within them)")] = 20,
    extractor: Annotated[
        str | None, typer.Option("--extractor", help="spacy | llm | replay:PATH (HippoRAG OpenIE jsonl); default from settings")
    ] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", help="local | local-torch | openai | hashing; default from settings")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="only the first N questions")] = None,
    max_passages: Annotated[
        int | None, typer.Option("--max-passages", min=1, help="corpus: the gold passages of the questions plus others up to N")
    ] = None,
    bm25: Annotated[bool, typer.Option("--bm25/--no-bm25", help="also rank with BM25 (LanceDB full-text search)")] = True,
    answers: Annotated[
        bool | None, typer.Option("--answers/--no-answers", help="generate and score answers (default: when a chat model is set)")
    ] = None,
    judge: Annotated[bool, typer.Option("--judge", help="LLM-judged faithfulness, answer and context relevance")] = False,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="keep the index here and reuse it (default: a temporary one)")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="embeddings, extractions and LLM responses kept across runs (default ~/.cache/graphrag/eval)")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="compute everything again")] = False,
    lexical: Annotated[
        bool | None, typer.Option("--lexical/--no-lexical", help="fuse BM25 into every mode (default: GRAPHRAG_QUERY_LEXICAL)")
    ] = None,
    expansion: Annotated[
        str | None, typer.Option("--expansion", help="none | multi | hyde (needs a chat model); default from settings")
    ] = None,
    rerank: Annotated[str | None, typer.Option("--rerank", help="none | llm (needs a chat model); default from settings")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="write results.json and results.md here (default eval-results/<dataset>-<extractor>)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score retrieval (recall@k, all@k, MRR, NDCG@k per mode, BM25 alongside) and, with a
    chat model, answers (EM, F1) on a multi-hop QA dataset, indexed into a fresh workspace."""
    from graphrag.eval.dataset import load_dataset
    from graphrag.eval.report import markdown_report, write_results
    from graphrag.eval.run import EvalOptions, run_eval

    try:
        k_values = [int(k) for k in _csv(ks, "k")]
    except ValueError:
        raise typer.BadParameter(f"{ks!r}: use integers, e.g. 2,5,10", param_hint="--k") from None
    mode_list = [] if modes.strip().lower() == "none" else _csv(modes, "mode")
    try:
        overrides: dict[str, Any] = {}
        if extractor:
            overrides["extractor"] = extractor
        if embedder:
            overrides["embedder"] = embedder
        if lexical is not None:
            overrides["query_lexical"] = lexical
        if expansion:
            overrides["query_expansion"] = expansion
        if rerank:
            overrides["query_rerank"] = rerank
        settings = Settings(**overrides)
        dataset = load_dataset(dataset_dir).sliced(limit, max_passages)
        options = EvalOptions(
            modes=mode_list, ks=k_values, top_k=top_k, bm25=bm25, answers=answers, judge=judge,
            workspace=workspace, cache_dir=cache_dir, use_cache=not no_cache,
        )
        with _progress() as progress:
            result = run_eval(dataset, settings, options, progress=progress)
    except (GraphRAGError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    label = settings.resolved_extractor.split(":", 1)[0]
    if label == "replay":
        label += "-" + Path(settings.resolved_extractor.split(":", 1)[1]).stem
    written = write_results(result, out_dir or Path("eval-results") / f"{dataset.name}-{label}")
    if as_json:
        _print_json(result)
    else:
        sys.stdout.write(markdown_report(result))
    for path in written:
        console.print(f"wrote {path}")


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
    """Serve the HTTP API (queries, Cypher, text-to-Cypher, documents, graph); docs at /docs.
    Set GRAPHRAG_API_KEY to require an X-API-Key header (required off loopback)."""
    import uvicorn

    from graphrag.api import create_app

    try:
        settings = _settings(workspace)
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
