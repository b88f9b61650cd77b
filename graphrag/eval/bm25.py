"""The BM25 reference: LanceDB's native full-text index over the passages.

A separate table (never the workspace's chunk table, whose writes the index would slow
down) in its own LanceDB directory, English stemming and stop words. LanceDB does not
expose k1 and b, so its numbers differ a little from a tuned BM25 (the MuSiQue dev README
quotes k1=0.9, b=0.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

TABLE = "passages"


class BM25Index:
    def __init__(self, uri: str | Path, passages: Sequence[tuple[str, str]]) -> None:
        """`passages`: (id, indexed text) pairs; the table is rebuilt from them."""
        import lancedb
        import pyarrow as pa
        from lancedb.index import FTS

        self._db = lancedb.connect(str(uri))
        data = pa.table(
            {"id": pa.array([p[0] for p in passages], pa.string()), "text": pa.array([p[1] for p in passages], pa.string())}
        )
        self._table = self._db.create_table(TABLE, data=data, mode="overwrite")
        self._table.create_index("text", config=FTS(language="English", stem=True, remove_stop_words=True), replace=True)

    def search(self, question: str, k: int) -> list[tuple[str, float]]:
        """The k best (passage id, BM25 score), best first; ties by id."""
        if not question.strip():
            return []
        rows = self._table.search(question, query_type="fts").limit(k).select(["id", "_score"]).to_list()
        hits = [(row["id"], float(row["_score"])) for row in rows]
        return sorted(hits, key=lambda h: (-h[1], h[0]))
