"""The tables `status` and `stats` print (rich): what a person reads, kept apart from the
command definitions in `cli.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from rich.table import Table

from graphrag.doc_refs import shown_ids, shown_source
from graphrag.models import DocumentRecord


def documents_table(records: Sequence[DocumentRecord]) -> Table:
    """One row per document: the id as its shortest unique prefix and the path relative to
    the current directory, both as `delete` accepts them; a long path wraps, never cut."""
    ids = shown_ids(records)
    table = Table("status", "id", "source", "chunks", "error")
    table.columns[1].no_wrap = True
    table.columns[2].overflow = "fold"
    for r in records:
        table.add_row(r.status, ids[r.id], shown_source(r.source), str(r.n_chunks), r.error or "")
    return table


def document_table(r: DocumentRecord) -> Table:
    """Everything recorded about one document."""
    table = Table(show_header=False, title=r.title or r.id)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in (("id", r.id), ("source", r.source), ("status", r.status), ("chunks", r.n_chunks),
                       ("error", r.error or ""), ("ingested_at", _when(r.ingested_at)),
                       *((f"seconds {k}", f"{v:.2f}") for k, v in r.timings.items())):
        table.add_row(key, str(value))
    return table


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def stats_tables(data: dict[str, Any]) -> list[Table]:
    """The figures as one table, and each breakdown (entity types, ...) as its own, largest first."""
    table = Table(title="stats", show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", overflow="fold")
    breakdowns = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key, value in data.items():
        if key not in breakdowns:
            table.add_row(key.replace("_", " "), _number(value))
    tables = [table]
    for key, counts in breakdowns.items():
        breakdown = Table(key.replace("_", " "), "count")
        breakdown.columns[1].justify = "right"
        for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])) if isinstance(kv[1], int)
                                  else (0, str(kv[0]))):
            breakdown.add_row(str(name), _number(count))
        tables.append(breakdown)
    return tables


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
