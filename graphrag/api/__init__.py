"""The HTTP API (`graphrag serve`): FastAPI over one or several GraphRAG workspaces."""

from graphrag.api.app import create_app

__all__ = ["create_app"]
