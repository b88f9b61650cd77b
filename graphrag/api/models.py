"""Request and response bodies of the HTTP API (pydantic: they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graphrag.query.conversation import Turn

QueryModeName = Literal["naive", "local", "global", "hybrid", "mix", "ppr", "auto"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryRequest(_Body):
    question: str = Field(min_length=1, max_length=10_000, description="the question to answer")
    mode: QueryModeName | None = Field(default=None, description="retrieval mode (default: the configured one, mix)")
    top_k: int | None = Field(default=None, ge=1, le=200, description="chunks to retrieve")
    only_context: bool = Field(default=False, description="retrieve and build the context, skip the answer")
    history: list[Turn] = Field(
        default_factory=list,
        max_length=50,
        description="earlier turns of the conversation, oldest first; the question is made standalone from them",
    )


class CypherRequest(_Body):
    query: str = Field(min_length=1, max_length=20_000, description="one read-only Cypher statement")
    params: dict[str, Any] = Field(default_factory=dict, description="query parameters ($name)")
    limit: int | None = Field(default=None, ge=1, le=10_000, description="rows to return at most")
    all_workspaces: bool = Field(
        default=False, description="read every workspace, not only this request's (admin keys of every workspace)"
    )


class CypherResponse(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    row_limit: int
    notifications: list[str] = []


class TextToCypherRequest(_Body):
    question: str = Field(min_length=1, max_length=5_000, description="a question about the graph in plain language")
    limit: int | None = Field(default=None, ge=1, le=10_000, description="rows to return at most")


class TextToCypherResponse(CypherResponse):
    question: str
    cypher: str
    attempts: int
    errors: list[str] = []


class DocumentText(_Body):
    text: str = Field(min_length=1, description="the document's text")
    title: str | None = Field(default=None, max_length=500)
    source: str | None = Field(
        default=None, max_length=500, description="a name for the document (default: derived from its content)"
    )


class DocumentsRequest(_Body):
    documents: list[DocumentText] = Field(min_length=1, max_length=1000)


class JobProgress(BaseModel):
    """Where a running job is: the stage (load, chunk, extract, describe, embed, ...) and
    its counts, as `graphrag index` shows them."""

    stage: str
    done: int
    total: int


class JobInfo(BaseModel):
    track_id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    document_ids: list[str] = []
    result: dict[str, Any] | None = None
    error: str | None = None
    progress: JobProgress | None = None


class DocumentsAccepted(BaseModel):
    track_id: str
    document_ids: list[str]
    sources: list[str]
    status_url: str
    warnings: list[str] = []


class DocumentInfo(BaseModel):
    id: str
    source: str
    title: str
    status: str
    error: str | None = None
    n_chunks: int = 0
    ingested_at: float | None = None


class DocumentList(BaseModel):
    documents: list[DocumentInfo]
    counts: dict[str, int]
    jobs: list[JobInfo] = []


class DeleteResponse(BaseModel):
    track_id: str
    status: str
    deleted: list[DocumentInfo] = []


class ScanRequest(_Body):
    prune: bool = Field(default=False, description="also delete documents whose files are gone from the folder")


class EntityInfo(BaseModel):
    key: str
    name: str
    type: str
    description: str
    degree: int | None = None
    source_ids: list[str] = []
    aliases: list[str] = []  # the entity's other names (entity resolution)


class RelationInfo(BaseModel):
    key: str
    source: str
    target: str
    description: str
    keywords: list[str]
    weight: float
    source_ids: list[str] = []


class ChunkInfo(BaseModel):
    id: str
    document_id: str
    text: str
    order: int
    source: str | None = None


class EntityList(BaseModel):
    entities: list[EntityInfo]
    total: int


class EntityDetail(BaseModel):
    entity: EntityInfo
    relations: list[RelationInfo]
    chunks: list[ChunkInfo]


class SubgraphNode(BaseModel):
    id: str
    label: str
    type: str
    description: str
    degree: int | None = None


class SubgraphEdge(BaseModel):
    id: str
    source: str
    target: str
    label: str
    description: str
    weight: float


class Subgraph(BaseModel):
    center: str
    nodes: list[SubgraphNode]
    edges: list[SubgraphEdge]


class Health(BaseModel):
    status: Literal["ok", "degraded", "warming"]
    stores: dict[str, str]
    versions: dict[str, str]
    workspace: str
    graph_store: str


class ErrorBody(BaseModel):
    detail: str
