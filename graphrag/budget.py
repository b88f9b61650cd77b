"""A token budget for one indexing run.

Documents are processed in batches. Before each batch, every document's extraction cost
is estimated for the chunk texts it still needs (`graphrag.cost`), and the batch takes
documents only while tokens used so far (all purposes, counted in `Usage`) plus the
batch's estimate stay within `max_tokens`. The first document that does not fit stops the
budget: it and every later document that would need the LLM are left `pending` in the
state, with the reason; documents that cost nothing (their extractions are stored) are
still processed. What was processed is committed and reconciled as usual, so the
workspace is consistent and the next run picks up the pending documents.

Estimates are estimates: completion tokens are predicted, and summaries made while
merging are counted once they happen, so a run may end slightly above its budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphrag.cost import ExtractionCostEstimator
from graphrag.llm.base import Usage
from graphrag.models import Chunk, Document, DocumentRecord
from graphrag.settings import Settings
from graphrag.stores.base import StateStore

if TYPE_CHECKING:
    from graphrag.index_report import IndexReport


class TokenBudget:
    """At most `max_tokens` prompt + completion tokens, counted from creation on."""

    def __init__(self, max_tokens: int, usage: Usage) -> None:
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        self.max_tokens = max_tokens
        self.usage = usage
        self._start = usage.prompt_tokens + usage.completion_tokens
        self.stopped: str | None = None  # why the budget refused work, once it did

    @property
    def used(self) -> int:
        return self.usage.prompt_tokens + self.usage.completion_tokens - self._start

    @property
    def remaining(self) -> int:
        return self.max_tokens - self.used

    def admit(self, tokens: int) -> bool:
        """Whether work estimated at `tokens` more fits; the first refusal stops the budget."""
        if tokens <= 0:
            return True
        if self.stopped is None and self.used + tokens > self.max_tokens:
            self.stopped = (
                f"token budget reached: {self.used:,} of {self.max_tokens:,} tokens used, the next "
                f"batch needs about {tokens:,} more; run again (with a larger --max-tokens) to continue"
            )
        return self.stopped is None

    def to_dict(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "used": self.used, "stopped": self.stopped}


@dataclass(frozen=True)
class DocumentCost:
    chunks: int  # distinct chunk texts still to extract
    tokens: int  # their estimated prompt + completion tokens


def document_costs(
    todo_chunks: Callable[[Sequence[Document]], tuple[list[Chunk], list[Chunk]]],
    estimator: ExtractionCostEstimator | None = None,
) -> Callable[[Document], DocumentCost]:
    """What a document costs now: texts extracted meanwhile (earlier batches) are free.
    `todo_chunks(docs)` gives (all chunks, chunks still to extract); without an `estimator`
    only the chunk texts to extract are counted (enough to size batches)."""

    def cost(doc: Document) -> DocumentCost:
        _, todo = todo_chunks([doc])
        if estimator is None:
            return DocumentCost(len({c.text_hash for c in todo}), 0)
        estimate = estimator.estimate(todo)
        return DocumentCost(estimate.chunks, estimate.tokens)

    return cost


async def run_in_batches(
    docs: Sequence[Document],
    *,
    cost: Callable[[Document], DocumentCost],
    run: Callable[[list[Document]], Awaitable[None]],
    budget: TokenBudget | None = None,
    batch_chunks: int = 16,
    batch_documents: int = 64,
) -> list[Document]:
    """Runs `run(batch)` on consecutive batches of about `batch_chunks` chunk texts to
    extract (at most `batch_documents` documents); returns the documents the budget refused,
    in order. Each document's cost is taken just before its batch starts."""
    deferred: list[Document] = []
    queue = list(docs)
    i = 0
    while i < len(queue):
        batch: list[Document] = []
        chunks = tokens = 0
        while i < len(queue) and chunks < batch_chunks and len(batch) < batch_documents:
            doc = queue[i]
            i += 1
            c = cost(doc)
            if c.tokens and budget is not None and not budget.admit(tokens + c.tokens):
                deferred.append(doc)
                continue
            batch.append(doc)
            chunks += c.chunks
            tokens += c.tokens
        if batch:
            await run(batch)
    return deferred


def defer_documents(state: StateStore, docs: Sequence[Document], reason: str) -> None:
    """Leaves documents `pending` with the reason; the next run takes them up again."""
    for doc in docs:
        existing = state.get_document(doc.id)
        if existing is not None and existing.status in ("processed", "processing"):
            continue  # already committed: never downgrade
        state.upsert_document(
            DocumentRecord(
                id=doc.id,
                source=doc.source,
                title=doc.title,
                content_hash=doc.id.removeprefix("doc-"),
                status="pending",
                error=reason,
            )
        )


def batch_chunks_for(settings: Settings) -> int:
    """Chunks per batch: enough to keep every LLM slot busy."""
    return max(8, 4 * settings.llm_concurrency)


async def process_within_budget(
    docs: Sequence[Document],
    report: "IndexReport",
    budget: TokenBudget,
    *,
    process: Callable[[list[Document], "IndexReport"], Awaitable[None]],
    todo_chunks: Callable[[Sequence[Document]], tuple[list[Chunk], list[Chunk]]],
    state: StateStore,
    settings: Settings,
    uses_llm: bool,
) -> None:
    """`process(docs, report)` under a token budget (the `graphrag index --max-tokens` path):
    the budget is handed the work to run, so it needs nothing of the indexer."""

    async def run(batch: list[Document]) -> None:
        await process(batch, report)

    estimator = ExtractionCostEstimator(settings, uses_llm=uses_llm)
    deferred = await run_in_batches(
        docs, cost=document_costs(todo_chunks, estimator), run=run, budget=budget,
        batch_chunks=batch_chunks_for(settings),
    )
    if deferred:
        defer_documents(state, deferred, budget.stopped or "token budget reached")
    report.documents_pending += len(deferred)
    report.budget = budget.to_dict()
