"""`graphrag eval`: retrieval (and answer) quality on a multi-hop QA dataset."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from graphrag.errors import GraphRAGError
from graphrag.settings import Settings
from graphrag.cli_common import JsonOpt, print_json, progress_for, console


def _csv(value: str, what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise typer.BadParameter(f"give at least one {what}, comma-separated")
    return items


def eval_(
    dataset_dir: Annotated[Path, typer.Argument(help="folder with corpus.jsonl and questions.jsonl (MuSiQue dev format)")],
    modes: Annotated[str, typer.Option("--modes", help="query modes to score, comma-separated")] = "naive,local,global,hybrid,mix,ppr,auto",
    ks: Annotated[str, typer.Option("--k", help="cut-offs of recall@k, all@k and NDCG@k, comma-separated")] = "2,5,10",
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="passages ranked per question (MRR counts within them)")] = 20,
    extractor: Annotated[
        str | None, typer.Option("--extractor", help="spacy | llm | replay:PATH (HippoRAG OpenIE jsonl); default from settings")
    ] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", help="local | local-int8 | local-torch | openai | hashing; default from settings")] = None,
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
        with progress_for() as progress:
            result = run_eval(dataset, settings, options, progress=progress)
    except (GraphRAGError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    label = settings.resolved_extractor.split(":", 1)[0]
    if label == "replay":
        label += "-" + Path(settings.resolved_extractor.split(":", 1)[1]).stem
    written = write_results(result, out_dir or Path("eval-results") / f"{dataset.name}-{label}")
    if as_json:
        print_json(result)
    else:
        sys.stdout.write(markdown_report(result))
    for path in written:
        console.print(f"wrote {path}")
