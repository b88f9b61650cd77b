"""The Cypher of Neo4jGraphStore. Every value is a parameter: `$ws` is the workspace,
`$rows` a batch of row maps, `$keys` a list of ids. Nothing here is ever formatted with
data (labels come from `$(row.label)`, Neo4j 5.26 dynamic labels).

Every lookup by key or id pins its index seek (`USING INDEX SEEK`), so no plan depends on the
statistics, and every read of a whole workspace pins its seek on the workspace index (else a
scan of the (workspace, key) index can read every workspace's rows). Neo4j caches a plan until the statistics drift; planned on statistics sampled
while a workspace was empty (a fresh server, the first batch of a run), it looked keys up
through the workspace-only index, or satisfied a plain `USING INDEX` hint with a scan of the
whole (workspace, key) index: a scan per row (a first write of 4k relations took 6-25 s
instead of 1.5 s). tests/stores/test_neo4j_plans.py checks every query here on such
statistics."""

from __future__ import annotations

# --- writes (each runs once per batch, in its own retried transaction)

UPSERT_DOCUMENTS = """
UNWIND $rows AS row
MERGE (d:Document {workspace: $ws, id: row.id})
SET d = row
WITH d
CALL (d) {
  MATCH (c:Chunk {workspace: $ws, document_id: d.id})
  USING INDEX SEEK c:Chunk(workspace, document_id)
  MERGE (d)-[:HAS_CHUNK]->(c)
}
"""

UPSERT_CHUNKS = """
UNWIND $rows AS row
MERGE (c:Chunk {workspace: $ws, id: row.id})
SET c = row
WITH c, row
CALL (c, row) {
  MATCH (c)<-[h:HAS_CHUNK]-(other)
  WHERE other.id <> row.document_id
  DELETE h
}
CALL (c, row) {
  MATCH (d:Document {workspace: $ws, id: row.document_id})
  USING INDEX SEEK d:Document(workspace, id)
  MERGE (d)-[:HAS_CHUNK]->(c)
}
"""

DELETE_DOCUMENTS = """
UNWIND $rows AS doc_id
CALL (doc_id) {
  MATCH (c:Chunk {workspace: $ws, document_id: doc_id})
  USING INDEX SEEK c:Chunk(workspace, document_id)
  DETACH DELETE c
}
CALL (doc_id) {
  MATCH (d:Document {workspace: $ws, id: doc_id})
  USING INDEX SEEK d:Document(workspace, id)
  DETACH DELETE d
}
"""

# The type label is replaced (an entity whose type changed loses the old one); MENTIONS
# follow source_ids to the chunks that exist (chunks are written before their entities).
UPSERT_ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {workspace: $ws, key: row.key})
ON CREATE SET e.degree = 0
SET e.name = row.name, e.type = row.type, e.description = row.description, e.source_ids = row.source_ids,
    e.aliases = row.aliases, e.alias_sources = row.alias_sources, e.alias_text = row.alias_text,
    e.alias_keys = row.alias_keys
WITH e, row, [l IN labels(e) WHERE l <> 'Entity' AND l <> row.label] AS stale
REMOVE e:$(stale)
SET e:$(row.label)
WITH e, row
CALL (e, row) {
  MATCH (e)<-[m:MENTIONS]-(c)
  WHERE NOT c.id IN row.source_ids
  DELETE m
}
CALL (e, row) {
  UNWIND row.source_ids AS chunk_id
  MATCH (c:Chunk {workspace: $ws, id: chunk_id})
  USING INDEX SEEK c:Chunk(workspace, id)
  MERGE (c)-[:MENTIONS]->(e)
}
"""

VALIDATE_RELATIONS = """
CALL () {
  UNWIND $keys AS k
  OPTIONAL MATCH (e:Entity {workspace: $ws, key: k})
  USING INDEX SEEK e:Entity(workspace, key)
  WITH k, e WHERE e IS NULL
  RETURN collect(k) AS missing
}
CALL () {
  UNWIND $rows AS row
  MATCH (s:Entity {workspace: $ws, key: row.source})-[r:RELATED]-(t:Entity {workspace: $ws, key: row.target})
  USING INDEX SEEK s:Entity(workspace, key)
  USING INDEX SEEK t:Entity(workspace, key)
  WHERE r.key <> row.key
  RETURN collect([row.key, r.key])[..1] AS conflicts
}
RETURN missing, conflicts
"""

# A relation written in the other direction replaces the old one (it keeps the direction of
# its latest write); the endpoints' `degree` is refreshed in the same transaction. The
# reversed relation is found between the two endpoints (its key is their sorted pair, so it can
# only be t->s), not through RELATED(workspace), which a plan on small statistics scanned.
UPSERT_RELATIONS = """
UNWIND $rows AS row
MATCH (s:Entity {workspace: $ws, key: row.source})
USING INDEX SEEK s:Entity(workspace, key)
MATCH (t:Entity {workspace: $ws, key: row.target})
USING INDEX SEEK t:Entity(workspace, key)
CALL (row, s, t) {
  MATCH (t)-[old:RELATED]->(s)
  WHERE old.key = row.key
  DELETE old
}
MERGE (s)-[r:RELATED {workspace: $ws, key: row.key}]->(t)
SET r.description = row.description, r.keywords = row.keywords, r.weight = row.weight,
    r.source_ids = row.source_ids
WITH collect(DISTINCT s) + collect(DISTINCT t) AS touched
UNWIND touched AS e
WITH DISTINCT e
SET e.degree = COUNT { (e)-[:RELATED]-() }
"""

DELETE_RELATIONS = """
UNWIND $rows AS k
MATCH (a)-[r:RELATED {workspace: $ws, key: k}]->(b)
USING INDEX SEEK r:RELATED(workspace, key)
DELETE r
WITH collect(DISTINCT a) + collect(DISTINCT b) AS touched
UNWIND touched AS e
WITH DISTINCT e
SET e.degree = COUNT { (e)-[:RELATED]-() }
"""

DELETE_ENTITIES = """
UNWIND $rows AS k
MATCH (e:Entity {workspace: $ws, key: k})
USING INDEX SEEK e:Entity(workspace, key)
OPTIONAL MATCH (e)-[:RELATED]-(o)
WITH e, collect(o.key) AS others
DETACH DELETE e
WITH collect(others) AS groups
UNWIND groups AS others
UNWIND others AS other
WITH DISTINCT other
MATCH (o:Entity {workspace: $ws, key: other})
USING INDEX SEEK o:Entity(workspace, key)
SET o.degree = COUNT { (o)-[:RELATED]-() }
"""

# One query per label, run until it deletes nothing (bounded transactions).
DROP_NAMESPACE = [
    f"""
MATCH (n:{label} {{workspace: $ws}}) USING INDEX SEEK n:{label}(workspace)
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS deleted
"""
    for label in ("Entity", "Chunk", "Document")
]

# --- reads (one round trip each, whatever the number of keys)
# Each returns its rows as one list (`rows`, `keys`) in a single record: the Python driver
# spends ~30 us building each record, so 34k relations listed one record each took 1.1 s,
# as one list 0.06 s (bench/neo4j_upsert.py's data at 10k entities, README).

_RELATION_FIELDS = """{key: r.key, source: s.key, target: t.key, description: r.description,
       keywords: r.keywords, weight: r.weight, source_ids: r.source_ids}"""

_ENTITY_FIELDS = ".key, .name, .type, .description, .source_ids, .aliases, .alias_sources"

GET_ENTITIES = f"""
UNWIND $keys AS k
MATCH (e:Entity {{workspace: $ws, key: k}})
USING INDEX SEEK e:Entity(workspace, key)
RETURN collect(e {{{_ENTITY_FIELDS}}}) AS rows
"""

FIND_BY_ALIAS = f"""
UNWIND $rows AS row
CALL db.index.fulltext.queryNodes('graphrag_entity_names', row.query) YIELD node AS e
WITH row, e WHERE e.workspace = $ws AND row.name IN e.alias_keys
RETURN collect(e {{lookup: row.name, {_ENTITY_FIELDS}}}) AS rows
"""

GET_RELATIONS = f"""
UNWIND $keys AS k
MATCH (s)-[r:RELATED {{workspace: $ws, key: k}}]->(t)
USING INDEX SEEK r:RELATED(workspace, key)
RETURN collect({_RELATION_FIELDS}) AS rows
"""

DEGREES = """
UNWIND $keys AS k
MATCH (e:Entity {workspace: $ws, key: k})
USING INDEX SEEK e:Entity(workspace, key)
RETURN collect({key: k, degree: COUNT { (e)-[:RELATED]-() }}) AS rows
"""

NEIGHBORS = f"""
UNWIND $keys AS k
MATCH (e:Entity {{workspace: $ws, key: k}})
USING INDEX SEEK e:Entity(workspace, key)
OPTIONAL MATCH (e)-[r:RELATED]-()
WITH k, r, startNode(r) AS s, endNode(r) AS t
RETURN collect({{entity: k, relation: CASE WHEN r IS NULL THEN null ELSE {_RELATION_FIELDS} END}}) AS rows
"""

NEIGHBOR_WEIGHTS = """
UNWIND $keys AS k
MATCH (e:Entity {workspace: $ws, key: k})
USING INDEX SEEK e:Entity(workspace, key)
OPTIONAL MATCH (e)-[r:RELATED]-(o:Entity)
RETURN collect({entity: k, other: o.key, weight: r.weight}) AS rows
"""

RELATIONS_AMONG = f"""
UNWIND $keys AS k
MATCH (s:Entity {{workspace: $ws, key: k}})-[r:RELATED]->(t:Entity)
USING INDEX SEEK s:Entity(workspace, key)
WHERE t.key IN $keys
RETURN collect({_RELATION_FIELDS}) AS rows
"""

ENTITY_KEYS = "MATCH (e:Entity {workspace: $ws}) USING INDEX SEEK e:Entity(workspace) RETURN collect(e.key) AS keys"

RELATION_KEYS = """
MATCH ()-[r:RELATED {workspace: $ws}]->() USING INDEX SEEK r:RELATED(workspace)
RETURN collect(r.key) AS keys
"""

ALL_DOCUMENTS = "MATCH (d:Document {workspace: $ws}) USING INDEX SEEK d:Document(workspace) RETURN d {.*} AS d"

# The ids of the chunks a document deletion takes with it (named in the change log first).
CHUNKS_OF_DOCUMENTS = """
UNWIND $keys AS doc_id
MATCH (c:Chunk {workspace: $ws, document_id: doc_id})
USING INDEX SEEK c:Chunk(workspace, document_id)
RETURN collect(c.id) AS keys
"""

# The keys of the relations an entity deletion takes with it (named in the change log first).
RELATIONS_OF_ENTITIES = """
UNWIND $keys AS k
MATCH (e:Entity {workspace: $ws, key: k})
USING INDEX SEEK e:Entity(workspace, key)
MATCH (e)-[r:RELATED]-()
RETURN collect(DISTINCT r.key) AS keys
"""

ALL_CHUNKS = "MATCH (c:Chunk {workspace: $ws}) USING INDEX SEEK c:Chunk(workspace) RETURN c {.*} AS c"

STATS = """
CALL () { MATCH (d:Document {workspace: $ws}) USING INDEX SEEK d:Document(workspace) RETURN count(d) AS documents }
CALL () { MATCH (c:Chunk {workspace: $ws}) USING INDEX SEEK c:Chunk(workspace) RETURN count(c) AS chunks }
CALL () {
  MATCH ()-[r:RELATED {workspace: $ws}]->() USING INDEX SEEK r:RELATED(workspace)
  RETURN count(r) AS relations
}
CALL () {
  MATCH (e:Entity {workspace: $ws}) USING INDEX SEEK e:Entity(workspace)
  WITH e.type AS type, count(*) AS n
  RETURN collect([type, n]) AS types
}
RETURN documents, chunks, relations, types
"""
