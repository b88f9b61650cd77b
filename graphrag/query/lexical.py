"""The lexical channel: BM25 over the chunks' text, through the vector store's full-text
index (LanceDB's native one; the chunks live in LanceDB whichever the graph store is).

Dense and lexical retrieval fail on different questions: an embedding blurs rare names,
numbers and exact phrases that BM25 matches, and BM25 misses paraphrases. The modes fuse
the two by rank (fusion.py).
"""

from __future__ import annotations

from graphrag.errors import ConfigError
from graphrag.indexer import CHUNKS_TABLE
from graphrag.stores.base import VectorStore


class LexicalSearcher:
    def __init__(self, store: VectorStore) -> None:
        self.store = store

    def search(self, text: str, k: int) -> dict[str, float]:
        """chunk id -> BM25 score of the k best matches, best first."""
        search_text = getattr(self.store, "search_text", None)
        if search_text is None:
            raise ConfigError(
                f"the vector store {type(self.store).__name__} has no full-text search; "
                "set GRAPHRAG_QUERY_LEXICAL=false to query without the lexical channel"
            )
        return {hit.id: hit.score for hit in search_text(CHUNKS_TABLE, text, k)}
