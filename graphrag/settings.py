"""All configuration in one pydantic-settings object.

Sources, strongest first: arguments, `GRAPHRAG_*` environment variables (and `NEO4J_*` for
the Neo4j connection), `graphrag.toml` in the current directory, defaults. Every default
works offline: NetworkX + LanceDB + SQLite under `./.graphrag`, spaCy extraction, MiniLM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

class ApiKeyScope(BaseModel):
    """What one API key may do: its workspaces (`*`: every served workspace) and its role
    (read: queries, Cypher, browsing; write: also documents; admin: also Cypher across
    workspaces)."""

    workspaces: list[str] = Field(min_length=1)
    role: Literal["read", "write", "admin"] = "read"


DEFAULT_ENTITY_TYPES = [
    "person",
    "organization",
    "location",
    "event",
    "work",
    "concept",
    "object",
    "date",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRAPHRAG_",
        toml_file="graphrag.toml",
        extra="ignore",
        populate_by_name=True,
    )

    # --- workspace and stores
    workspace: Path = Path(".graphrag")
    graph_store: Literal["networkx", "neo4j"] = "networkx"
    vector_uri: str | None = Field(
        default=None, description="LanceDB URI (path or object store); default <workspace>/vectors"
    )
    vector_ann_min_rows: int = Field(
        default=1_000_000,
        ge=0,
        description="rows from which a vector table gets a LanceDB ANN index (IVF_HNSW_SQ, cosine; built by the "
        "write that passes it, a minute or more per 100k rows on 2 cores); the query engine searches smaller tables "
        "in memory (query_vector_cache_rows), so keep the two equal (0: never build one)",
    )
    neo4j_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("GRAPHRAG_NEO4J_URI", "NEO4J_URI", "neo4j_uri")
    )
    neo4j_username: str = Field(
        default="neo4j",
        validation_alias=AliasChoices("GRAPHRAG_NEO4J_USERNAME", "NEO4J_USERNAME", "neo4j_username"),
    )
    neo4j_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GRAPHRAG_NEO4J_PASSWORD", "NEO4J_PASSWORD", "neo4j_password"),
    )
    neo4j_database: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GRAPHRAG_NEO4J_DATABASE", "NEO4J_DATABASE", "neo4j_database"),
    )
    neo4j_batch_size: int = Field(default=1000, ge=1)
    neo4j_write_concurrency: int = Field(
        default=1, ge=1,
        description="entity and relation batches in flight at once (never two that lock one node); "
        "1, one after the other, measured as fast on a busy 2-core machine (README)",
    )
    graph_namespace: str | None = Field(
        default=None,
        description="the `workspace` property that keeps workspaces apart in one Neo4j database; "
        "default: the workspace folder's name",
    )
    lock_timeout: float = Field(
        default=0.0, ge=0, description="seconds to wait for another writer of the workspace"
    )
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        default="none",
        description="export OpenTelemetry spans of the index and query stages: console, or otlp "
        "(OTEL_EXPORTER_OTLP_ENDPOINT); none leaves OpenTelemetry to the application",
    )
    progress_interval: float = Field(
        default=10.0, gt=0, description="seconds between progress log lines when the output is not a terminal"
    )

    # --- loading and chunking
    chunk_size: int = Field(default=1200, ge=16, description="tokens per chunk (cl100k_base)")
    chunk_overlap: int = Field(default=100, ge=0)
    max_file_bytes: int = Field(default=10_000_000, ge=1, description="larger files (jsonl: records) fail")

    # --- extraction
    extractor: str = Field(
        default="auto", description="auto | llm | spacy | replay:PATH; auto = llm when a chat endpoint is set"
    )
    entity_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITY_TYPES))
    gleaning: int = Field(default=1, ge=0, description="extra 'anything missed?' passes per chunk")
    language: str = "English"

    # --- chat model (any OpenAI-compatible endpoint)
    chat_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GRAPHRAG_CHAT_BASE_URL", "OPENAI_BASE_URL", "chat_base_url"),
    )
    chat_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GRAPHRAG_CHAT_API_KEY", "OPENAI_API_KEY", "chat_api_key"),
    )
    chat_model: str = "gpt-4o-mini"
    chat_temperature: float = 0.0
    chat_max_tokens: int = 4096
    chat_timeout: float = Field(default=120.0, gt=0)
    chat_max_retries: int = Field(default=5, ge=0)
    llm_concurrency: int = Field(default=4, ge=1)
    cache: bool = Field(default=True, description="cache LLM responses by (model, prompt, params)")
    price_prompt_per_1k: float | None = Field(
        default=None, ge=0, description="price of 1,000 prompt tokens: dry runs and run reports show the cost"
    )
    price_completion_per_1k: float | None = Field(default=None, ge=0, description="price of 1,000 completion tokens")
    price_currency: str = Field(
        default="USD", min_length=1, max_length=8, description="currency of the prices, shown beside every cost"
    )

    # --- embeddings
    embedder: Literal["auto", "local", "local-int8", "local-torch", "openai", "hashing"] = Field(
        default="auto",
        description=(
            "auto = the local MiniLM the workspace was indexed with (a new workspace: the default local model, "
            "graphrag.llm.embed.workspace_record); local = MiniLM on ONNX Runtime (CPU, no torch); "
            "local-int8 = the same graph quantised to int8 (faster, close but not equal vectors: its own model id); "
            "local-torch = MiniLM on torch, GPU if any (pip install 'graphrag-kg[torch]'; same vectors as local); "
            "openai = embeddings endpoint; hashing = feature hashing, no model (smoke tests)"
        ),
    )
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_dim: int = Field(default=384, ge=8)
    embedding_batch_size: int = Field(default=32, ge=1)
    embedding_concurrency: int = Field(default=4, ge=1, description="embedding batches in flight at once (openai)")

    # --- merge and summaries
    summary_min_fragments: int = Field(
        default=8, ge=2, description="summarize a description once it gathers this many fragments"
    )
    summary_max_tokens: int = Field(default=300, ge=16, description="token budget of a merged description")
    summary_policy: Literal["fold", "rebuild"] = Field(
        default="fold",
        description="fold: new fragments go into the current summary (one call per fold); "
        "rebuild: re-summarize all fragments whenever they change (order-independent, more calls)",
    )
    summary_fold_min_new: int = Field(
        default=4, ge=1,
        description="fold policy: new fragments are appended to a summary until this many gather "
        "(or the description passes summary_max_tokens), then folded in with one call",
    )

    pipeline_summaries: bool = Field(
        default=False,
        description="with a chat model: merge, summarize and write the documents whose chunks are extracted "
        "while later chunks are still extracted, so summary calls share the model's concurrency with "
        "extraction (an entity touched again in a later round is merged again under summary_policy)",
    )

    # --- entity resolution
    resolution: bool = Field(
        default=True, description="resolve names of one entity into one (aliases) when documents are indexed"
    )
    resolution_threshold: float = Field(
        default=0.8, gt=0, le=1, description="score from which two names are merged without review"
    )
    resolution_llm: bool = Field(
        default=True,
        description="when a chat model is configured, it judges the uncertain name pairs (scored below the "
        "threshold) from passages that mention them; off: they stay apart, listed for review",
    )
    resolution_llm_batch: int = Field(default=8, ge=1, description="uncertain name pairs per chat-model call")
    resolution_vectors: bool | Literal["auto"] = Field(
        default="auto",
        description="also take as candidates the names whose name vectors (table `names`) are close; auto: "
        "while a chat model judges the uncertain pairs (offline such a pair is only listed for review, and "
        "embedding every name costs indexing time); true: always, for `entities review`",
    )
    resolution_vector_threshold: float = Field(
        default=0.85, gt=0, le=1,
        description="cosine of two name vectors from which they are candidates (a radius: order-independent); "
        "0.85 is chosen for MiniLM (README Entity resolution), another embedder may want another",
    )
    resolution_vector_cap: int = Field(
        default=5, ge=1, description="a name with more names than this within the radius takes no vector candidates"
    )

    # --- query
    query_mode: Literal["naive", "local", "global", "hybrid", "mix", "ppr", "auto"] = "mix"
    query_top_k: int = Field(default=10, ge=1, description="chunks retrieved per query")
    query_top_k_entities: int = Field(default=20, ge=1)
    query_top_k_relations: int = Field(default=20, ge=1)
    query_entity_tokens: int = Field(default=2000, ge=0, description="context budget of the entities section")
    query_relation_tokens: int = Field(default=2000, ge=0, description="context budget of the relations section")
    query_chunk_tokens: int = Field(default=6000, ge=0, description="context budget of the chunks section")
    query_vector_cache_rows: int = Field(
        default=1_000_000,
        ge=0,
        description="vector tables up to this size are searched in memory (0: always the store); 1.5 KB of RAM a "
        "row at 384 dimensions",
    )
    query_hnsw_min_rows: int = Field(
        default=50_000,
        ge=0,
        description="in-memory vector tables from this many rows are searched through an HNSW graph (usearch, kept "
        "in <workspace>/ann, updated with the rows that changed) and re-ranked exactly, instead of an exact scan "
        "(0: always exact)",
    )
    query_hnsw_ef: int = Field(
        default=512,
        ge=16,
        description="breadth of an HNSW search (larger: closer to exact, slower)",
    )
    query_blas_threads: int = Field(
        default=1,
        ge=0,
        description="BLAS threads of a query's in-memory vector search (0: the BLAS library's own choice); one "
        "is faster on a busy machine and under concurrent requests (MuSiQue dev workspace, 2 busy cores: "
        "ppr 85 -> 31 ms, naive 15 -> 0.6 ms)",
    )
    query_lexical: bool = Field(
        default=False,
        description="fuse BM25 over the chunks' text (LanceDB full-text index) with the dense channel in naive "
        "(and in mix with query_mix_fusion); off by default: on the full MuSiQue dev set it lowered naive's "
        "recall@5 from 62.8 to 57.8",
    )
    query_lexical_weight: float = Field(default=1.0, ge=0, description="weight of the lexical channel (dense: 1)")
    query_graph_weight: float = Field(
        default=1.0, ge=0, description="weight of local's and global's graph evidence in mix's fusion (query_mix_fusion)"
    )
    query_mix_fusion: bool = Field(
        default=False,
        description="mix: fuse PPR's chunk ranking with the text channels and hybrid's graph evidence "
        "(off: PPR's ranking, which ranked higher on the MuSiQue slice)",
    )
    query_mix_ppr_weight: float = Field(default=4.0, ge=0, description="weight of the PPR ranking in mix's fusion")
    query_auto_classifier: Literal["rules", "llm"] = Field(
        default="rules", description="mode auto: sort questions by rules on their form, or ask the chat model"
    )
    query_expansion: Literal["none", "multi", "hyde"] = Field(
        default="none", description="multi: rewordings by the chat model, fused (RAG-fusion); hyde: search with an imagined answer"
    )
    query_expansion_count: int = Field(default=3, ge=1, le=10, description="rewordings of multi-query expansion")
    query_decompose: bool = Field(
        default=True,
        description="split a nested question by its parse (spaCy, no model): the inner question's closest chunks "
        "join the question's own in the walk's dense prior",
    )
    query_bridge_rewrite: bool = Field(
        default=True,
        description="bridge feedback also asks the question again with its inner question replaced by the "
        "best bridges' names (one more embedding call per walk that finds bridges); needs query_decompose",
    )
    query_rerank: Literal["none", "llm"] = Field(default="none", description="llm: the chat model reorders the best chunks")
    query_rerank_candidates: int = Field(default=20, ge=2, le=100, description="chunks the reranker reads")
    ppr_damping: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="probability of following an edge; HippoRAG uses 0.5, but on our entity-chunk graph the "
        "second hop of a multi-hop question needs more walk (MuSiQue recall@5 0.69 at 0.5, 0.73-0.76 at 0.8)",
    )
    ppr_passage_prior: float = Field(
        default=0.5, ge=0, lt=1, description="share of the reset mass on dense chunk scores of the question"
    )
    ppr_bridge_mass: float = Field(
        default=0.5,
        ge=0,
        description="a second walk restarts also at the bridge entities of the first walk's best chunks (entities "
        "related to the question's own), with this share of the seeds' mass; 0: one walk",
    )
    ppr_full_graph_entities: int = Field(
        default=100_000, ge=0, description="larger graphs run PPR on the seeds' neighbourhood only"
    )
    ppr_neighbourhood_limit: int = Field(default=5000, ge=10, description="entities in a PPR neighbourhood")

    # --- HTTP API (`graphrag serve`)
    api_key: SecretStr | None = Field(
        default=None, description="when set, every API request needs a key in the X-API-Key header (or Bearer); "
        "this one is an admin key of the default workspace"
    )
    api_keys: dict[str, ApiKeyScope] = Field(
        default_factory=dict,
        description='scoped API keys: JSON {"<key>": {"workspaces": ["a"], "role": "read|write|admin"}}; '
        "GRAPHRAG_API_KEY, when set too, is an admin key of the default workspace",
    )
    api_workspaces: dict[str, Path] = Field(
        default_factory=dict,
        description='further workspaces the API serves, chosen per request (X-Graphrag-Workspace header): '
        'JSON {"<name>": "<folder>"}; the name is the graph namespace',
    )
    api_max_body_bytes: int = Field(default=20_000_000, ge=1024, description="larger request bodies get 413")
    api_scan_dir: Path | None = Field(default=None, description="folder POST /documents/scan ingests")
    api_cypher_timeout: float = Field(default=30.0, gt=0, description="seconds a Cypher query of the API may run")
    api_cypher_row_limit: int = Field(default=1000, ge=1, description="rows a Cypher query of the API returns at most")
    api_job_lock_wait: float = Field(
        default=600.0, ge=0, description="seconds an API job waits for another writer of the workspace before failing"
    )
    api_job_retries: int = Field(default=3, ge=0, description="retries of an API job that failed (backoff from 2 s)")
    api_job_retry_delay: float = Field(default=2.0, ge=0, description="seconds before an API job's first retry")
    api_wait_seconds: float = Field(
        default=20.0, ge=0, description="DELETE /documents/{id} waits this long for the deletion, then answers 202"
    )

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # --- derived
    @property
    def has_chat_model(self) -> bool:
        return bool(self.chat_base_url)

    @property
    def resolved_extractor(self) -> str:
        if self.extractor == "auto":
            return "llm" if self.has_chat_model else "spacy"
        return self.extractor

    @property
    def resolved_graph_namespace(self) -> str:
        if self.graph_namespace:
            return self.graph_namespace
        name = self.workspace.resolve().name.lstrip(".")
        return name or "default"

    @property
    def state_path(self) -> Path:
        return self.workspace / "state.sqlite"

    @property
    def resolution_path(self) -> Path:
        return self.workspace / "resolution.sqlite"

    @property
    def graph_path(self) -> Path:
        """The embedded graph's database (a `graph.json` beside it is imported once)."""
        return self.workspace / "graph.sqlite"

    @property
    def resolved_vector_uri(self) -> str:
        return self.vector_uri or str(self.workspace / "vectors")
