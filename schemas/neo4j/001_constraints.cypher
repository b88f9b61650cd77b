// Uniqueness of every id, composite with the workspace so that workspaces share one
// database (Community edition has one). Applied idempotently (IF NOT EXISTS) by
// Neo4jGraphStore on start; statements are separated by ';'.
CREATE CONSTRAINT graphrag_document_id IF NOT EXISTS
FOR (d:Document) REQUIRE (d.workspace, d.id) IS UNIQUE;

CREATE CONSTRAINT graphrag_chunk_id IF NOT EXISTS
FOR (c:Chunk) REQUIRE (c.workspace, c.id) IS UNIQUE;

CREATE CONSTRAINT graphrag_entity_key IF NOT EXISTS
FOR (e:Entity) REQUIRE (e.workspace, e.key) IS UNIQUE;

// Relations are looked up by key (delete_relations, get_relations): the constraint's
// backing index makes that a seek.
CREATE CONSTRAINT graphrag_related_key IF NOT EXISTS
FOR ()-[r:RELATED]-() REQUIRE (r.workspace, r.key) IS UNIQUE;
