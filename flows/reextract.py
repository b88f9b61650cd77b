"""The `reextract` Prefect flow: `graphrag reextract` as a flow run, for deployments and the
Prefect UI (its report is a markdown artifact; the run ends Failed when documents failed).

    python -m flows.reextract (DOC... | --all) [--workspace DIR] [--dry-run]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run

from flows.report import artifact_key
from graphrag import exit_codes
from graphrag.core import GraphRAG
from graphrag.errors import DocumentNotFoundError, GraphRAGError, IncompleteRunError
from graphrag.settings import Settings


@flow(name="graphrag-reextract", description="Extract documents again with fresh model answers.")
async def reextract(
    documents: list[str] | None = None,
    workspace: str | None = None,
    dry_run: bool = False,
    settings: dict[str, Any] | None = None,
    allow_partial: bool = False,
) -> dict[str, Any]:
    """Re-extracts `documents` (ids or source paths; None: every indexed document) in
    `workspace`. dry_run: only estimate. allow_partial: end Completed even if some
    documents failed (by default the run then ends Failed with IncompleteRunError)."""
    logger = get_run_logger()
    config = Settings(**{**(settings or {}), **({"workspace": workspace} if workspace else {})})
    with GraphRAG(config) as rag:
        # The library runs its own event loop for the extraction: give it a thread.
        report = await asyncio.to_thread(rag.reextract, documents, dry_run=dry_run)
    summary = {**report.to_dict(), "flow_run": {"id": flow_run.id, "name": flow_run.name}}
    lines = [f"# graphrag reextract{' (dry run)' if dry_run else ''}", ""]
    lines += [f"- **{k}**: {v}" for k, v in report.to_dict().items() if k not in ("failures", "estimate")]
    lines += [f"- **{k}**: {v:,}" for k, v in report.estimate.items()]
    lines += [f"- failed: `{f['source']}`: {f['reason']}" for f in report.failures]
    await acreate_markdown_artifact("\n".join(lines), key=artifact_key(config).replace("ingest", "reextract"),
                                    description="graphrag reextract")
    logger.info("reextract: %s", json.dumps({k: v for k, v in summary.items() if k != "failures"}, default=str))
    if report.documents_failed and not allow_partial:
        raise IncompleteRunError(f"{report.documents_failed} document(s) failed; see the run summary", summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.reextract", description=__doc__.split("\n\n")[0])
    parser.add_argument("documents", nargs="*", help="document ids or source paths")
    parser.add_argument("--all", action="store_true", help="every indexed document")
    parser.add_argument("--workspace", "-w", help="workspace directory (default ./.graphrag or GRAPHRAG_WORKSPACE)")
    parser.add_argument("--dry-run", action="store_true", help="only estimate chunks, LLM calls and tokens")
    parser.add_argument("--allow-partial", action="store_true", help="exit 0 even if some documents failed")
    args = parser.parse_args(argv)
    if bool(args.documents) == args.all:
        parser.error("name documents or give --all, not both")
    code = exit_codes.OK
    try:
        summary = asyncio.run(reextract(documents=None if args.all else args.documents, workspace=args.workspace,
                                        dry_run=args.dry_run, allow_partial=args.allow_partial))
    except IncompleteRunError as exc:
        summary, code = exc.summary, exit_codes.PARTIAL
    except GraphRAGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_codes.USAGE if isinstance(exc, DocumentNotFoundError) else exit_codes.ERROR
    print(json.dumps(summary, indent=2, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
