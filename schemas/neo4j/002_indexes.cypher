// Lookups that are not by id. (A composite index does not serve a lookup on its first
// property alone, so each label also gets a plain workspace index: stats, iteration and
// drop_namespace read one workspace.)
CREATE INDEX graphrag_document_workspace IF NOT EXISTS
FOR (d:Document) ON (d.workspace);

CREATE INDEX graphrag_chunk_workspace IF NOT EXISTS
FOR (c:Chunk) ON (c.workspace);

CREATE INDEX graphrag_entity_workspace IF NOT EXISTS
FOR (e:Entity) ON (e.workspace);

CREATE INDEX graphrag_related_workspace IF NOT EXISTS
FOR ()-[r:RELATED]-() ON (r.workspace);

// delete_documents / upsert_documents find a document's chunks by its id.
CREATE INDEX graphrag_chunk_document IF NOT EXISTS
FOR (c:Chunk) ON (c.workspace, c.document_id);

// Full-text search over entities, e.g. in the Neo4j Browser:
//   CALL db.index.fulltext.queryNodes('graphrag_entity_text', 'scrooge~') YIELD node, score
CREATE FULLTEXT INDEX graphrag_entity_text IF NOT EXISTS
FOR (e:Entity) ON EACH [e.name, e.description];
