"""What an indexing run planned and what it did: the plan, the report, the timing helper."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from graphrag.ingest.load import LoadResult
from graphrag.models import Document, sha256_hex
from graphrag.tracing import stage_span

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IndexPlan:
    todo: list[Document] = field(default_factory=list)  # new or changed
    unchanged: list[str] = field(default_factory=list)  # document ids
    unloadable: list[LoadResult] = field(default_factory=list)  # skipped or failed sources
    sources: set[str] = field(default_factory=set)
    removed: list[str] = field(default_factory=list)  # ids of indexed documents whose source is gone
    record_errors: list[dict[str, str]] = field(default_factory=list)  # bad records of loaded files


@dataclass
class IndexReport:
    documents_new: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_failed: int = 0
    documents_skipped: int = 0
    documents_removed: int = 0
    documents_pending: int = 0  # left for the next run: the token budget was reached
    chunks_extracted: int = 0
    chunks_reused: int = 0
    llm_calls: int = 0
    entities: int = 0
    relations: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    usage: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)  # max_tokens, used, stopped (with --max-tokens)

    def to_dict(self) -> dict:
        return dict(vars(self))


def placeholder_id(source: str) -> str:
    """Id of the state record for a source that produced no document (failed or skipped)."""
    return "src-" + sha256_hex(source)[:32]


@contextmanager
def timed(report: IndexReport, name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        with stage_span("index", name):
            yield
    finally:
        elapsed = time.perf_counter() - start
        report.stage_seconds[name] = round(report.stage_seconds.get(name, 0.0) + elapsed, 3)
