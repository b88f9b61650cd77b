"""A cache that outlives evaluation workspaces: embeddings, extraction records and LLM
responses, keyed by content (text hash, extractor id, model and prompt).

Each evaluation indexes into a fresh workspace, so the workspace's own caches start empty;
embedding the 1,890 MuSiQue passages with MiniLM on two cores alone takes minutes. This
store is an ordinary SQLite state store in a cache folder, used only for its caches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from graphrag.stores.base import StateStore
from graphrag.stores.sqlite_state import SQLiteStateStore

CACHE_FILE = "cache.sqlite"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "graphrag" / "eval"


def open_cache(folder: Path) -> SQLiteStateStore:
    return SQLiteStateStore(Path(folder).expanduser() / CACHE_FILE)


def copy_extractions(source: StateStore, target: StateStore, text_hashes: Iterable[str], extractor_id: str) -> int:
    """Copies the stored extraction records of these chunk texts; returns how many. One
    that replaces a different record is journaled by the target: its next index re-keys
    the chunks with that text and rebuilds what they support."""
    records = source.get_extractions(set(text_hashes), extractor_id)
    if records:
        target.put_extractions(records, extractor_id)
    return len(records)
