"""Run summaries of the ingest flow: a JSON-able dict (the flow's return value), the
markdown of its Prefect artifact, and plain text for the command line."""

from __future__ import annotations

import logging
import re
from typing import Any

from graphrag.cost import CostEstimate, format_cost, price
from graphrag.indexer import IndexReport
from graphrag.settings import Settings

# Marks the log record of the run summary, which `graphrag ingest` prints itself.
SUMMARY_RECORD = "graphrag_summary"


def without_summary_echo(record: logging.LogRecord) -> bool:
    """A console-handler filter: drops the run summary's log line (it stays in the Prefect
    UI's logs), so a run started from the command line shows the summary once."""
    return not getattr(record, SUMMARY_RECORD, False)


_COUNTED = (
    "documents_new", "documents_updated", "documents_failed", "documents_skipped", "documents_pending",
    "chunks_extracted", "chunks_reused",
)


def merge_report(total: IndexReport, part: IndexReport) -> None:
    """Adds one document task's counts to the run's report."""
    for name in _COUNTED:
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.failures.extend(part.failures)


def artifact_key(settings: Settings) -> str:
    """Artifact keys allow lowercase letters, digits and dashes; one key per workspace
    keeps the history of its runs together in the UI."""
    slug = re.sub(r"[^a-z0-9]+", "-", settings.resolved_graph_namespace.lower()).strip("-") or "default"
    return f"graphrag-ingest-{slug}"


def ingest_summary(
    report: IndexReport, *, settings: Settings, sources: list[str], prune: bool, gone: int
) -> dict[str, Any]:
    usage = report.usage or {}
    if prune:
        prune_note = f"prune on: {report.documents_removed} document(s) whose source is gone were removed"
    elif gone:
        prune_note = f"prune off: {gone} indexed document(s) whose source is gone were kept; run with --prune to remove them"
    else:
        prune_note = "prune off (no indexed document's source is gone)"
    return {
        "kind": "ingest",
        "workspace": str(settings.workspace.resolve()),
        "graph_store": settings.graph_store,
        "sources": sources,
        "documents": {
            "new": report.documents_new,
            "updated": report.documents_updated,
            "unchanged": report.documents_unchanged,
            "failed": report.documents_failed,
            "skipped": report.documents_skipped,
            "removed": report.documents_removed,
            "pending": report.documents_pending,
        },
        "prune": {"enabled": prune, "gone": gone, "note": prune_note},
        "chunks": {"extracted": report.chunks_extracted, "reused": report.chunks_reused},
        "llm": {
            "calls": usage.get("calls", 0),
            "cache_hits": usage.get("cache_hits", 0),
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
            "by_purpose": usage.get("by_purpose", {}),
        },
        "cost": price(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), settings),
        "currency": settings.price_currency,
        "budget": report.budget or None,
        "graph": {"entities": report.entities, "relations": report.relations},
        "stage_seconds": report.stage_seconds,
        "seconds": report.seconds,
        "failures": report.failures,
    }


def dry_run_summary(estimate: CostEstimate, *, settings: Settings, sources: list[str]) -> dict[str, Any]:
    return {
        "kind": "dry_run",
        "workspace": str(settings.workspace.resolve()),
        "sources": sources,
        "estimate": estimate.to_dict(),
    }


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(summary: dict[str, Any]) -> str:
    if summary["kind"] == "dry_run":
        return _dry_run_markdown(summary)
    docs, llm = summary["documents"], summary["llm"]
    parts = [
        f"# Ingestion into `{summary['workspace']}` ({summary['graph_store']})",
        f"Sources: {', '.join(f'`{s}`' for s in summary['sources'])}",
        "## Documents",
        _table(("outcome", "documents"), [(k, v) for k, v in docs.items()]),
        summary["prune"]["note"],
        "## Chunks and LLM",
        f"Chunks extracted: {summary['chunks']['extracted']:,}; reused from stored extractions: "
        f"{summary['chunks']['reused']:,}. LLM calls: {llm['calls']:,}, cache hits: {llm['cache_hits']:,}, "
        f"tokens: {llm['prompt_tokens']:,} prompt + {llm['completion_tokens']:,} completion.",
        _table(
            ("purpose", "calls", "cache hits", "prompt tokens", "completion tokens", "failures"),
            [
                (p, u["calls"], u["cache_hits"], u["prompt_tokens"], u["completion_tokens"], u["failures"])
                for p, u in llm["by_purpose"].items()
            ],
        ),
        "Estimated cost: " + format_cost(summary["cost"], summary.get("currency", "USD")),
    ]
    if summary["budget"]:
        b = summary["budget"]
        parts.append(f"Token budget: {b['used']:,} of {b['max_tokens']:,} used. {b['stopped'] or ''}".strip())
    parts += [
        "## Time",
        _table(("stage", "seconds"), list(summary["stage_seconds"].items()) + [("total", summary["seconds"])]),
        f"Graph: {summary['graph']['entities']:,} entities, {summary['graph']['relations']:,} relations.",
    ]
    if summary["failures"]:
        parts += ["## Failures", _table(("source", "reason"), [(f["source"], f["reason"]) for f in summary["failures"]])]
    return "\n\n".join(parts) + "\n"


def _dry_run_markdown(summary: dict[str, Any]) -> str:
    e = summary["estimate"]
    parts = [
        f"# Dry run for `{summary['workspace']}`: nothing was sent or indexed",
        _table(
            ("", ""),
            [
                ("documents to index (new or changed)", e["documents_to_index"]),
                ("documents unchanged", e["documents_unchanged"]),
                ("documents unloadable", e["documents_unloadable"]),
                ("indexed documents whose source is gone", e["documents_gone"]),
                ("chunks", e["chunks"]),
                ("chunks with a stored extraction", e["chunks_reused"]),
                ("chunk texts to extract", e["chunks_to_extract"]),
                ("LLM calls", e["llm_calls"]),
                ("prompt tokens", e["prompt_tokens"]),
                ("completion tokens (estimated)", e["completion_tokens"]),
                ("cost", format_cost(e["cost"], e.get("currency", "USD"))),
            ],
        ),
    ]
    if e["by_purpose"]:
        parts.append(
            _table(
                ("purpose", "calls", "prompt tokens", "completion tokens"),
                [(p, u["calls"], u["prompt_tokens"], u["completion_tokens"]) for p, u in e["by_purpose"].items()],
            )
        )
    parts += [f"- {note}" for note in e["notes"]]
    return "\n\n".join(parts) + "\n"


def to_text(summary: dict[str, Any]) -> str:
    """A few lines for a terminal."""
    if summary["kind"] == "dry_run":
        e = summary["estimate"]
        lines = [
            f"dry run ({summary['workspace']}): nothing sent, nothing indexed",
            f"documents: {e['documents_to_index']} to index, {e['documents_unchanged']} unchanged, "
            f"{e['documents_unloadable']} unloadable, {e['documents_gone']} gone",
            f"chunks: {e['chunks']} ({e['chunks_reused']} with stored extractions); to extract: {e['chunks_to_extract']}",
            f"LLM calls: {e['llm_calls']:,}; tokens: {e['prompt_tokens']:,} prompt + {e['completion_tokens']:,} "
            f"completion = {e['tokens']:,}",
            "cost: " + format_cost(e["cost"], e.get("currency", "USD")),
            *e["notes"],
        ]
        return "\n".join(lines)
    docs, llm = summary["documents"], summary["llm"]
    lines = [
        f"ingested into {summary['workspace']} in {summary['seconds']:.1f} s",
        "documents: " + ", ".join(f"{v} {k}" for k, v in docs.items()),
        summary["prune"]["note"],
        f"chunks: {summary['chunks']['extracted']} extracted, {summary['chunks']['reused']} reused",
        f"LLM: {llm['calls']} calls, {llm['cache_hits']} cache hits, "
        f"{llm['prompt_tokens']:,} prompt + {llm['completion_tokens']:,} completion tokens"
        + (f", cost {format_cost(summary['cost'], summary.get('currency', 'USD'))}" if summary["cost"] is not None else ""),
        f"graph: {summary['graph']['entities']} entities, {summary['graph']['relations']} relations",
    ]
    if summary["budget"]:
        b = summary["budget"]
        lines.append(f"token budget: {b['used']:,} of {b['max_tokens']:,} used" + (f"; {b['stopped']}" if b["stopped"] else ""))
    lines += [f"failed: {f['source']}: {f['reason']}" for f in summary["failures"]]
    run = summary.get("flow_run") or {}
    if str(run.get("ui_url") or "").startswith("http"):  # no UI link from a temporary server
        lines.append(f"Prefect flow run {run['name']}: {run['ui_url']}")
    return "\n".join(lines)
