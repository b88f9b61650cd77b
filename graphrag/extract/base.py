"""The extractor protocol: chunk text in, entities and relations out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from graphrag.models import Chunk, Extraction


@runtime_checkable
class Extractor(Protocol):
    """Turns chunks into `Extraction`s.

    `extractor_id` names everything that changes the output (kind, model, prompt version,
    entity types, gleaning): stored extraction records are keyed by (chunk text hash,
    extractor_id), so changing any of those re-extracts, and nothing else does.
    """

    extractor_id: str

    async def extract(self, chunks: Sequence[Chunk]) -> dict[str, Extraction | Exception]:
        """Extraction per chunk id. A chunk that fails maps to its exception (with a reason a
        user can act on); the others are unaffected."""
