"""graphrag: GraphRAG knowledge-graph indexing and dual-level retrieval."""

from graphrag.core import GraphRAG
from graphrag.settings import Settings

__all__ = ["GraphRAG", "Settings"]
__version__ = "0.1.0"
