"""One exception hierarchy; every message says what to do next."""

from __future__ import annotations


class GraphRAGError(Exception):
    """Base class for every error graphrag raises on purpose."""


class ConfigError(GraphRAGError):
    """A setting is missing or inconsistent."""


class LoadError(GraphRAGError):
    """A source file could not be turned into documents (empty, binary, undecodable, too large)."""


class ExtractionError(GraphRAGError):
    """The extractor could not produce a valid extraction for a chunk."""


class LLMError(GraphRAGError):
    """A chat or embedding endpoint failed after all retries."""


class LLMOutputError(LLMError):
    """The model answered, but not in the required format even after repair and a re-ask."""


class StoreError(GraphRAGError):
    """A graph, vector or state store operation failed."""


class WorkspaceLockedError(GraphRAGError):
    """Another process is writing to the same workspace."""


class DocumentNotFoundError(GraphRAGError):
    """No indexed document matches the given id or source path."""


class CypherNotAllowedError(GraphRAGError):
    """A user Cypher statement would write or administer the database."""


class BackendNotSupportedError(GraphRAGError):
    """The configured backend cannot do what was asked (e.g. Cypher on NetworkX)."""


class EntityNotFoundError(GraphRAGError):
    """No entity has the given key, name or alias."""
