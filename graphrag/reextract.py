"""A way back from extractions that are wrong: extract the chunks of some documents (or of
all) again, with fresh model answers, and rebuild what they contributed.

The chunks come from the state store (the source files need not exist any more). Every
chunk text is sent to the extractor with the LLM cache bypassed (its answers replace the
cached ones); a document whose chunks all succeeded gets the new records (replacing the
stored ones, which the store journals), and reconcile re-keys every chunk with those texts
and rebuilds what the old and the new keys name. A document
with a chunk that fails keeps its previous records and graph, and is reported failed: a
model outage during a reextract never costs the graph that worked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphrag.cost import ExtractionCostEstimator
from graphrag.index_report import ProgressCallback
from graphrag.models import Chunk, DocumentRecord, Extraction
from graphrag.settings import Settings
from graphrag.stores.base import StateStore


@dataclass
class ReextractReport:
    documents: int = 0
    documents_reextracted: int = 0
    documents_failed: int = 0
    chunks: int = 0
    chunks_extracted: int = 0  # distinct texts sent to the extractor
    llm_calls: int = 0
    dry_run: bool = False
    estimate: dict[str, Any] = field(default_factory=dict)  # with dry_run
    extractor: str = ""
    failures: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def chunks_by_document(state: StateStore, records: Sequence[DocumentRecord]) -> dict[str, list[Chunk]]:
    return {r.id: state.chunks_of(r.id) for r in records}


def estimate_reextract(
    settings: Settings, uses_llm: bool, chunks: dict[str, list[Chunk]], report: ReextractReport
) -> ReextractReport:
    distinct = list({c.text_hash: c for cs in chunks.values() for c in cs}.values())
    estimate = ExtractionCostEstimator(settings, uses_llm=uses_llm).estimate(distinct)
    report.dry_run = True
    report.estimate = {
        "chunks_to_extract": estimate.chunks,
        "llm_calls": estimate.calls,
        "prompt_tokens": estimate.prompt_tokens,
        "completion_tokens": estimate.completion_tokens,
        "tokens": estimate.tokens,
    }
    return report


async def reextract_chunks(
    extractor: Any,
    state: StateStore,
    records: Sequence[DocumentRecord],
    chunks: dict[str, list[Chunk]],
    report: ReextractReport,
    *,
    batch: int,
    progress: ProgressCallback,
    all_or_nothing: bool = False,
) -> list[str]:
    """Extracts every chunk again and commits the documents that fully succeeded (new
    records, chunk keys, journal); returns their ids. The caller reconciles.
    `all_or_nothing`: commit nothing unless every document succeeded (moving a workspace
    to another extractor must not leave a graph built from two)."""
    todo = list({c.text_hash: c for cs in chunks.values() for c in cs}.values())
    fresh: dict[str, Extraction | Exception] = {}
    previous_refresh = getattr(extractor, "refresh", None)
    if previous_refresh is not None:
        extractor.refresh = True
    try:
        progress("extract", 0, len(todo))
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            out = await extractor.extract(part)
            for c in part:
                fresh[c.text_hash] = out.get(c.id, RuntimeError("extractor returned no result"))
            report.chunks_extracted += len(part)
            progress("extract", start + len(part), len(todo))
    finally:
        if previous_refresh is not None:
            extractor.refresh = previous_refresh
    if all_or_nothing and any(isinstance(v, Exception) for v in fresh.values()):
        failed = next(v for v in fresh.values() if isinstance(v, Exception))
        report.documents_failed = len(records)
        report.failures.append(
            {"source": "(all)", "reason": f"nothing committed: the workspace moves to the new extractor only "
             f"when every chunk succeeds; first failure: {failed}"}
        )
        return []
    committed = []
    for record in records:
        doc_chunks = chunks[record.id]
        errors = [fresh[c.text_hash] for c in doc_chunks if isinstance(fresh[c.text_hash], Exception)]
        if errors:
            reason = f"{len(errors)} of {len(doc_chunks)} chunks failed extraction; first: {errors[0]}"
            report.documents_failed += 1
            report.failures.append({"source": record.source, "reason": f"not re-extracted (kept as it was): {reason}"})
            continue
        commit_document(state, extractor.extractor_id, doc_chunks, fresh)  # type: ignore[arg-type]
        committed.append(record.id)
        report.documents_reextracted += 1
    return committed


def commit_document(state: StateStore, extractor_id: str, chunks: list[Chunk], fresh: dict[str, Extraction]) -> None:
    """New records of one document, its chunks journaled first. The store journals each
    replaced record; reconcile then re-keys every chunk with that text, in any document
    (`graphrag.chunk_keys`), and rebuilds what the old and the new keys name."""
    state.add_pending("chunk", [c.id for c in chunks])
    state.put_extractions({c.text_hash: fresh[c.text_hash] for c in chunks}, extractor_id)
