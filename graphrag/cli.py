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
    prune: PruneOpt = False,
    dry_run: DryRunOpt = False,
    max_tokens: MaxTokensOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Index documents: only new or changed content is extracted."""
    if dry_run:
        with _open(workspace) as rag:
            estimate = rag.estimate(paths)
        _print_estimate(estimate.to_dict(), as_json)
        return
    with _open(workspace) as rag, _progress(not as_json and console.is_terminal) as progress:
        report = rag.index(paths, progress=progress, prune=prune, max_tokens=max_tokens)
    summary = report.to_dict()
    if as_json:
        _print_json(summary)
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


def _print_estimate(estimate: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(estimate)
        return
    table = Table(title="dry run: nothing sent, nothing indexed", show_header=False)
    for key in ("documents_to_index", "documents_unchanged", "documents_unloadable", "documents_gone", "chunks",
                "chunks_reused", "chunks_to_extract", "llm_calls", "prompt_tokens", "completion_tokens", "tokens"):
        table.add_row(key, f"{estimate[key]:,}")
    table.add_row("cost", "no prices configured" if estimate["cost"] is None else f"{estimate['cost']:,.4f}")
    out.print(table)
    for note in estimate["notes"]:
        console.print(note)


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
    query: Annotated[str, typer.Argument(help="a read-only Cypher query, e.g. \"MATCH (e:Entity) RETURN e.name LIMIT 5\"")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="query parameter name=value (value parsed as JSON if it can be); repeatable"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="return at most this many rows")] = 1000,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="seconds before the query is stopped")] = 30.0,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a read-only Cypher query on the Neo4j graph ($workspace = this workspace's namespace).
    Writes and admin commands are refused."""
    params = _parse_params(param or [])
    with _open(workspace) as rag:
        result = rag.cypher(query, params, timeout=timeout, row_limit=limit)
    if as_json:
        _print_json(result.to_dict())
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
    as_json: JsonOpt = False,
) -> None:
    """Ingest with the Prefect flow: its runs, logs and report show in the Prefect UI."""
    from flows.ingest import run_ingest
    from flows.report import to_text

    try:
        summary = run_ingest(
            [str(p) for p in paths], workspace=str(workspace) if workspace else None,
            prune=prune, dry_run=dry_run, max_tokens=max_tokens,
        )
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    if as_json:
        _print_json(summary)
    else:
        out.print(to_text(summary), markup=False, highlight=False)


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
    modes: Annotated[str, typer.Option("--modes", help="query modes to score, comma-separated")] = "naive,local,global,hybrid,mix,ppr",
    ks: Annotated[str, typer.Option("--k", help="cut-offs of recall@k, all@k and NDCG@k, comma-separated")] = "2,5,10",
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="passages ranked per question (MRR counts within them)")] = 20,
    extractor: Annotated[
        str | None, typer.Option("--extractor", help="spacy | llm | replay:PATH (HippoRAG OpenIE jsonl); default from settings")
    ] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", help="local | openai | hashing; default from settings")] = None,
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
        settings = Settings(**overrides)
        dataset = load_dataset(dataset_dir).sliced(limit, max_passages)
        options = EvalOptions(
            modes=mode_list, ks=k_values, top_k=top_k, bm25=bm25, answers=answers, judge=judge,
            workspace=workspace, cache_dir=cache_dir, use_cache=not no_cache,
        )
        with _progress(console.is_terminal) as progress:
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
) -> None:
    """Serve the HTTP API (queries, Cypher, text-to-Cypher, documents, graph); docs at /docs.
    Set GRAPHRAG_API_KEY to require an X-API-Key header."""
    import uvicorn

    from graphrag.api import create_app

    try:
        api = create_app(_settings(workspace))
    except GraphRAGError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    uvicorn.run(api, host=host, port=port, log_level=log_level)


from graphrag.cli_entities import app as _entities_app  # noqa: E402

app.add_typer(_entities_app, name="entities")

if __name__ == "__main__":
    app()
