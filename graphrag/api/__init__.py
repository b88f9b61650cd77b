"""The HTTP API (`graphrag serve`): FastAPI over one GraphRAG workspace."""

from graphrag.api.app import create_app

__all__ = ["create_app"]
