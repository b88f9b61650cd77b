// Entity resolution keeps the other names of an entity in `aliases` (with their chunks in
// the parallel `alias_sources`) and all of them in one string, `alias_text`, so full-text
// search finds an entity by any of its names, e.g. in the Neo4j Browser:
//   CALL db.index.fulltext.queryNodes('graphrag_entity_names', 'ebenezer') YIELD node, score
CREATE FULLTEXT INDEX graphrag_entity_names IF NOT EXISTS
FOR (e:Entity) ON EACH [e.name, e.alias_text];
