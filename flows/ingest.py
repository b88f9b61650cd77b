"""The `ingest` Prefect flow: incremental, resumable ingestion of a source into a workspace.

    python -m flows.ingest SOURCE... [--workspace DIR] [--prune] [--dry-run] [--max-tokens N]

Thin orchestration over `graphrag.indexer.Indexer`, whose steps become tasks:

    plan                  load the sources, diff them against the state store
    prune                 (--prune) remove documents whose source file is gone
    index <document>      one task per new or changed document: chunk, extract the chunk
                          texts never extracted, commit to the state (journaled)
    merge-summarize-upsert rebuild what the journal names in the graph and vector stores
    finish                mark the committed documents processed

Document tasks run concurrently, in batches, in the flow's event loop, so the chat model's
own limit (`llm_concurrency`) bounds the requests in flight across all of them. Transient
LLM errors are retried with backoff by the chat client; a document that still fails is
retried by its task (`retries`, exponential backoff) and then ends `failed` with its
reason while the others go on. The flow holds the workspace lock for the whole run.

Killing the process at any point is safe: extraction records and LLM responses are stored
as they arrive, and the journal makes the next run finish what was started.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from flows.report import SUMMARY_RECORD, artifact_key, dry_run_summary, ingest_summary, merge_report, to_markdown, to_text
from graphrag.budget import TokenBudget, batch_chunks_for, defer_documents, document_costs, run_in_batches
from graphrag import exit_codes
from graphrag.core import GraphRAG
from graphrag.cost import CostEstimate, estimator_for
from graphrag.dry_run import estimate_settings
from graphrag.errors import DocumentNotFoundError, GraphRAGError, IncompleteRunError, SourceNotFoundError
from graphrag.index_plan import check_sources
from graphrag.indexer import Indexer, IndexPlan, IndexReport
from graphrag.models import Document, DocumentRecord
from graphrag.settings import Settings
from graphrag.workspace_lock import workspace_lock

# Arguments are live objects (stores, clients): nothing to hash or persist.
_TASK = {"cache_policy": NO_CACHE, "persist_result": False}


class DocumentFailed(Exception):
    """A document's extraction failed; raised so that Prefect retries its task."""


@task(name="plan", **_TASK)
async def plan_sources(indexer: Indexer, paths: list[str]) -> tuple[IndexPlan, IndexReport]:
    """Loads the sources and sorts their documents into new or changed, unchanged,
    unloadable (recorded as failed or skipped) and gone."""
    plan = indexer.plan(paths)
    report = IndexReport()
    indexer.record_plan(plan, report)
    return plan, report


@task(name="prune", retries=2, retry_delay_seconds=exponential_backoff(1), **_TASK)
async def prune_documents(indexer: Indexer, document_ids: list[str]) -> None:
    """Removes documents whose source is gone (journaled; the graph follows at merge)."""
    indexer.remove_documents(document_ids)


@task(name="index", task_run_name="index {doc.title}", **_TASK)
async def index_document(indexer: Indexer, doc: Document) -> IndexReport:
    """Chunk, extract and commit one document. Retried as a whole: texts already extracted
    are stored, so a retry sends only what failed."""
    report = IndexReport()
    await indexer.process([doc], report)
    if report.documents_failed:
        raise DocumentFailed(report.failures[0]["reason"])
    return report


@task(name="merge-summarize-upsert", retries=2, retry_delay_seconds=exponential_backoff(1), **_TASK)
async def reconcile(indexer: Indexer) -> None:
    """Merges the stored extraction records of every journaled key, summarizes long
    descriptions, and upserts the graph and vector stores."""
    await indexer.areconcile()


@task(name="finish", **_TASK)
async def finish(indexer: Indexer, docs: list[Document]) -> None:
    indexer.finish(docs)


@task(name="estimate", **_TASK)
async def estimate_cost(rag: GraphRAG, paths: list[str]) -> CostEstimate:
    """The dry run: what indexing would send to the LLM (a workspace that does not exist
    yet is not created)."""
    with estimate_settings(rag.settings) as settings:
        if settings is rag.settings:
            return rag.estimate(paths)
        with GraphRAG(settings) as scratch:
            return scratch.estimate(paths)


@flow(name="graphrag-ingest", description="Incremental GraphRAG ingestion of a folder, glob or list of files.")
async def ingest(
    source: str | list[str],
    workspace: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    max_tokens: int | None = None,
    settings: dict[str, Any] | None = None,
    retries: int = 2,
    retry_delay_seconds: float = 2.0,
    allow_partial: bool = False,
) -> dict[str, Any]:
    """Ingests `source` (a folder, a glob, a file, or a list of them) into `workspace`.

    prune: also remove indexed documents whose source file is gone (off by default).
    dry_run: only estimate chunks, LLM calls, tokens and cost; nothing is sent or written.
    max_tokens: stop extracting once the next batch would exceed this many LLM tokens;
        documents not reached stay `pending` for the next run.
    settings: overrides of graphrag settings (GRAPHRAG_* variables and graphrag.toml apply too).
    retries, retry_delay_seconds: per-document retries, with exponential backoff.
    allow_partial: end Completed even if some documents failed (by default the run then
        ends Failed, raising IncompleteRunError, whose `summary` is the run summary).
    Returns the run summary, also published as a markdown artifact.
    """
    logger = get_run_logger()
    paths = [source] if isinstance(source, str) else list(source)
    check_sources(paths)
    config = Settings(**{**(settings or {}), **({"workspace": workspace} if workspace else {})})
    rag = GraphRAG(config)
    try:
        if dry_run:
            summary = dry_run_summary(await estimate_cost(rag, paths), settings=config, sources=paths)
        else:
            with workspace_lock(config.workspace, config.lock_timeout):
                report, gone = await _ingest(
                    rag, paths, prune=prune, max_tokens=max_tokens, retries=retries, retry_delay=retry_delay_seconds
                )
            summary = ingest_summary(report, settings=config, sources=paths, prune=prune, gone=gone)
        summary["flow_run"] = {"id": flow_run.id, "name": flow_run.name, "ui_url": flow_run.ui_url}
        await acreate_markdown_artifact(
            to_markdown(summary),
            key=artifact_key(config),
            description=f"graphrag {'dry run' if dry_run else 'ingestion'} of {', '.join(paths)}",
        )
        logger.info("%s", to_text(summary), extra={SUMMARY_RECORD: True})  # the CLI prints it itself
        failed = 0 if dry_run else report.documents_failed
        if failed and not allow_partial:
            raise IncompleteRunError(
                f"{failed} document(s) failed; see the run summary (pass allow_partial to accept)", summary
            )
        return summary
    finally:
        chat = rag.__dict__.get("chat")
        if chat is not None:
            await chat.aclose()
        rag.close()


async def _ingest(
    rag: GraphRAG, paths: list[str], *, prune: bool, max_tokens: int | None, retries: int, retry_delay: float
) -> tuple[IndexReport, int]:
    logger = get_run_logger()
    started = time.perf_counter()
    indexer = rag.indexer()
    calls_before = indexer.usage.calls
    stages: dict[str, float] = {}
    with _stage(stages, "load"):
        plan, report = await plan_sources(indexer, paths)
    report.stage_seconds = stages
    logger.info(
        "%d new or changed, %d unchanged, %d unloadable, %d gone",
        len(plan.todo), len(plan.unchanged), len(plan.unloadable), len(plan.removed),
    )
    if prune and plan.removed:
        with _stage(stages, "prune"):
            await prune_documents(indexer, plan.removed)
        report.documents_removed = len(plan.removed)

    budget = TokenBudget(max_tokens, indexer.usage) if max_tokens is not None else None
    document_task = index_document.with_options(
        retries=retries, retry_delay_seconds=exponential_backoff(retry_delay) if retries else 0, retry_jitter_factor=0.5
    )

    async def run(batch: list[Document]) -> None:
        outcomes = await asyncio.gather(*(document_task(indexer, doc) for doc in batch), return_exceptions=True)
        for doc, outcome in zip(batch, outcomes):
            if isinstance(outcome, IndexReport):
                merge_report(report, outcome)
            elif isinstance(outcome, Exception):
                _record_failure(indexer, doc, str(outcome) or type(outcome).__name__, report)
                logger.warning("%s failed: %s", doc.source, outcome)
            else:
                raise outcome  # cancellation or interrupt

    with _stage(stages, "extract"):
        deferred = await run_in_batches(
            plan.todo, cost=document_costs(indexer.chunks_to_extract, estimator_for(indexer) if budget else None),
            run=run, budget=budget, batch_chunks=batch_chunks_for(indexer.settings),
        )
    if deferred:
        assert budget is not None
        defer_documents(indexer.state, deferred, budget.stopped or "token budget reached")
        report.documents_pending = len(deferred)
        logger.warning("%s; %d document(s) left pending", budget.stopped, len(deferred))
    with _stage(stages, "merge"):
        await reconcile(indexer)
    with _stage(stages, "finish"):
        await finish(indexer, plan.todo)
    indexer.summarize_report(report, calls_before, started)
    if budget is not None:
        report.budget = budget.to_dict()  # summaries made while merging count too
    return report, len(plan.removed)


def _record_failure(indexer: Indexer, doc: Document, reason: str, report: IndexReport) -> None:
    """A document whose task failed for good is `failed` with its reason, even if it was
    half committed: `finish` then leaves it alone and the next run redoes it."""
    try:
        indexer.state.set_document_status(doc.id, "failed", reason)
    except DocumentNotFoundError:
        indexer.state.upsert_document(
            DocumentRecord(
                id=doc.id, source=doc.source, title=doc.title,
                content_hash=doc.id.removeprefix("doc-"), status="failed", error=reason,
            )
        )
    report.documents_failed += 1
    report.failures.append({"source": doc.source, "reason": reason})


@contextmanager
def _stage(seconds: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - start, 3)


def run_ingest(
    source: Sequence[str],
    *,
    workspace: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    max_tokens: int | None = None,
    settings: dict[str, Any] | None = None,
    allow_partial: bool = False,
) -> dict[str, Any]:
    """Runs the flow in this process (against PREFECT_API_URL, or a temporary local server)."""
    return asyncio.run(
        ingest(
            source=list(source), workspace=workspace, prune=prune, dry_run=dry_run,
            max_tokens=max_tokens, settings=settings, allow_partial=allow_partial,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    import json

    parser = argparse.ArgumentParser(prog="python -m flows.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="+", help="folders, files or globs to ingest")
    parser.add_argument("--workspace", "-w", help="workspace directory (default ./.graphrag or GRAPHRAG_WORKSPACE)")
    parser.add_argument("--prune", action="store_true", help="remove indexed documents whose files are gone")
    parser.add_argument("--dry-run", action="store_true", help="estimate chunks, LLM calls, tokens and cost only")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="stop once the next batch would exceed N LLM tokens")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")
    parser.add_argument("--allow-partial", action="store_true", help="exit 0 even if some documents failed")
    args = parser.parse_args(argv)
    code = exit_codes.OK
    try:
        summary = run_ingest(
            args.source, workspace=args.workspace, prune=args.prune, dry_run=args.dry_run,
            max_tokens=args.max_tokens, allow_partial=args.allow_partial,
        )
    except IncompleteRunError as exc:
        summary, code = exc.summary, exit_codes.PARTIAL
    except SourceNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except GraphRAGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_codes.ERROR
    print(json.dumps(summary, indent=2, default=str) if args.json else to_text(summary))
    return code


if __name__ == "__main__":
    sys.exit(main())
