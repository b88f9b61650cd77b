"""The state store's tables, as the migrations that create them (`PRAGMA user_version`
counts the ones applied)."""

from __future__ import annotations

# Entry i upgrades the schema from version i to i + 1; the schema version is their count.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE documents (
        id           TEXT PRIMARY KEY,
        source       TEXT NOT NULL,
        title        TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        status       TEXT NOT NULL,
        error        TEXT,
        n_chunks     INTEGER NOT NULL DEFAULT 0,
        ingested_at  REAL,
        timings      TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX documents_by_source ON documents(source);
    CREATE INDEX documents_by_status ON documents(status);

    CREATE TABLE chunks (
        id          TEXT PRIMARY KEY,
        document_id TEXT NOT NULL,
        text        TEXT NOT NULL,
        ord         INTEGER NOT NULL,
        n_tokens    INTEGER NOT NULL,
        text_hash   TEXT NOT NULL
    );
    CREATE INDEX chunks_by_document ON chunks(document_id, ord);

    CREATE TABLE extractions (
        text_hash    TEXT NOT NULL,
        extractor_id TEXT NOT NULL,
        record       TEXT NOT NULL,
        PRIMARY KEY (text_hash, extractor_id)
    );

    CREATE TABLE chunk_keys (
        chunk_id TEXT NOT NULL,
        kind     TEXT NOT NULL CHECK (kind IN ('e', 'r')),
        key      TEXT NOT NULL,
        PRIMARY KEY (chunk_id, kind, key)
    ) WITHOUT ROWID;
    CREATE INDEX chunk_keys_by_key ON chunk_keys(kind, key, chunk_id);

    CREATE TABLE pending (
        kind TEXT NOT NULL,
        key  TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;

    CREATE TABLE llm_cache (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE embeddings (
        model     TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector    BLOB NOT NULL,
        PRIMARY KEY (model, text_hash)
    );
    """,
    # v2: merge aggregates per name key ('n') and per pair of name keys ('p'), and what
    # each entity ('e') was last written with (graphrag.merge_ledger); derived data.
    """
    CREATE TABLE merge_aggregates (
        kind  TEXT NOT NULL,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    """,
    # v3: the chunks that share a text, re-keyed together when its record is replaced.
    """
    CREATE INDEX chunks_by_text ON chunks(text_hash);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
