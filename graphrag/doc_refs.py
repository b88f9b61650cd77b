"""How a person names a document on the command line, and how `status` shows one so that
what it prints is what `delete` and `status DOC` accept.

A reference is, in this order: a full id; a source exactly as recorded; a path (relative to
the current directory or absolute); an id prefix of at least `MIN_PREFIX` characters after
`doc-` (with or without it); a file name, when one source has it. A prefix or a file name
that fits several documents is an error that lists them, never a guess.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from graphrag.errors import AmbiguousDocumentError, DocumentNotFoundError
from graphrag.models import DocumentRecord

ID_PREFIX = "doc-"
MIN_PREFIX = 8
SHOWN_ID_CHARS = 12  # hex characters `status` shows; more when two ids share them


def resolve_document_refs(
    records: Sequence[DocumentRecord], refs: Iterable[str], cwd: Path | None = None
) -> list[DocumentRecord]:
    """The documents named by `refs`, each once, in the order named."""
    found: dict[str, DocumentRecord] = {}
    for ref in refs:
        for record in _resolve_one(records, ref, cwd or Path.cwd()):
            found.setdefault(record.id, record)
    return list(found.values())


def _resolve_one(records: Sequence[DocumentRecord], ref: str, cwd: Path) -> list[DocumentRecord]:
    ref = ref.strip()
    by_id = [r for r in records if r.id == ref]
    if by_id:
        return by_id
    by_source = [r for r in records if r.source == ref]
    if by_source:
        return by_source
    if ref:
        absolute = os.path.normpath(cwd / Path(ref).expanduser())
        by_path = [r for r in records if _same_path(r.source, absolute)]
        if by_path:
            return by_path
    hex_part = ref.lower().removeprefix(ID_PREFIX)
    if len(hex_part) >= MIN_PREFIX:
        by_prefix = [r for r in records if r.id.lower().removeprefix(ID_PREFIX).startswith(hex_part)]
        if len(by_prefix) == 1:
            return by_prefix
        if by_prefix:
            raise AmbiguousDocumentError(
                f"{ref!r} is the start of {len(by_prefix)} document ids: "
                + ", ".join(r.id for r in by_prefix[:10]) + "; give more characters"
            )
    by_name = [r for r in records if Path(r.source).name == ref]
    sources = sorted({r.source for r in by_name})
    if len(sources) == 1:
        return by_name
    if sources:
        raise AmbiguousDocumentError(
            f"{len(sources)} indexed files are named {ref!r}: " + ", ".join(sources[:10])
            + "; give the path or the id"
        )
    hint = f" (an id prefix needs at least {MIN_PREFIX} characters)" if 0 < len(hex_part) < MIN_PREFIX else ""
    raise DocumentNotFoundError(
        f"no indexed document has id, source, path or file name {ref!r}{hint}; `graphrag status` lists them"
    )


def _same_path(source: str, absolute: str) -> bool:
    try:
        return os.path.normpath(source) == absolute
    except (TypeError, ValueError):
        return False


def shown_ids(records: Sequence[DocumentRecord]) -> dict[str, str]:
    """id -> the shortest prefix `delete` accepts that is unique among `records` (at least
    `SHOWN_ID_CHARS` hex characters, so it stays unique as documents are added)."""
    ordered = sorted((r.id.removeprefix(ID_PREFIX), r.id) for r in records)
    shown: dict[str, str] = {}
    for i, (hex_id, record_id) in enumerate(ordered):
        neighbours = [ordered[j][0] for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
        common = max((_common_prefix(hex_id, n) for n in neighbours), default=0)
        keep = len(record_id) - len(hex_id) + max(SHOWN_ID_CHARS, common + 1)
        shown[record_id] = record_id[:keep]
    return shown


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def shown_source(source: str, cwd: Path | None = None) -> str:
    """A source as a path relative to the current directory when it is under it (shorter,
    and accepted by `delete` as is), else unchanged."""
    cwd = cwd or Path.cwd()
    try:
        return str(Path(source).relative_to(cwd))
    except ValueError:
        return source
