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
    """The model answered, but not in the required format even after repair and a re-ask.
    `answer` is the rejected answer's text, when there was one (a re-ask quotes it)."""

    def __init__(self, message: str, *, answer: str | None = None) -> None:
        super().__init__(message)
        self.answer = answer


class LLMTruncatedError(LLMOutputError):
    """The answer was cut off (finish_reason "length", or JSON that ends mid-structure):
    never repaired into data; ask again with a larger limit or a smaller input."""


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


class SourceNotFoundError(GraphRAGError):
    """A path given to index does not exist or a pattern matches no file (an argument error:
    nothing is recorded)."""


class IncompleteRunError(GraphRAGError):
    """The run finished, but some documents failed; `summary` is what it did."""

    def __init__(self, message: str, summary: dict | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


class WorkspaceNotFoundError(GraphRAGError):
    """A command that reads an index was pointed at a workspace that has none."""


class AmbiguousDocumentError(GraphRAGError):
    """A document reference (id prefix, file name) matches more than one document."""


class EntityNotFoundError(GraphRAGError):
    """No entity has the given key, name or alias."""
