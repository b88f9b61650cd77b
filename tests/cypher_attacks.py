"""Attempts to write, administer, read server files or stop other clients through the
read-only Cypher guard. Raw strings: `\\u0041` below is the six characters Neo4j decodes
into `A` before it lexes the query (issue 11 found the first guard did not).

`TERMINATE_TEMPLATES` take the id of a transaction another client holds open: the test
fills it in and checks the transaction survived.
"""

from __future__ import annotations

ESCAPES = [
    # the findings, verbatim
    r'L\u004fAD CSV FROM "file:///etc/passwd" AS row RETURN row[0] LIMIT 2',
    r"SH\u004fW USERS",
    r"SH\u004fW DATABASES",
    r"SH\u004fW PROCEDURES",
    r"SH\u004fW TRANSACTIONS",
    r"C\u0041LL dbms.listConfig()",
    r"C\u0041LL dbms.listConnections()",
    r"C\u0041LL db.clearQueryCaches()",
    # an escape in every keyword position
    r"\u004cOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    r"LOAD \u0043SV FROM 'file:///etc/passwd' AS row RETURN row",
    r"LOAD CSV FR\u004fM 'file:///etc/passwd' AS row RETURN row",
    r"\u0053\u0048\u004f\u0057 USERS",
    r"SHOW \u0055SERS",
    r"SHOW FUNCTION\u0053",
    r"SHOW SETTINGS",
    r"\u0054ERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    r"CALL db.\u0063learQueryCaches()",
    r"CALL db\u002eclearQueryCaches()",
    r"CALL \u0060db.clearQueryCaches\u0060()",
    r"CALL `db`.`clearQueryCaches`()",
    r"CALL dbms.\u006cistConfig() YIELD name, value RETURN name, value",
    r"MATCH (n) \u0043REATE (:Pwned)",
    r"MATCH (n) DETACH D\u0045LETE n",
    r"M\u0041TCH (n:Entity) S\u0045T n.name = 'pwned'",
    r"CREATE\u0020(:Pwned)",
    r"CALL db.createLabel(\u0027Pwned\u0027)",
    # escapes that close comments, strings and names early
    r"MATCH (n) WITH n // \u000a DETACH DELETE n",
    r"MATCH (n) WITH n // \u000d DETACH DELETE n",
    r"/* \u002a/ LOAD CSV FROM 'file:///etc/passwd' AS r RETURN r /* */",
    r"""WITH '\u0027 AS x LOAD CSV FROM "file:///etc/passwd" AS r RETURN r //' AS y RETURN y""",
    r'''WITH "\u0022 AS x LOAD CSV FROM 'file:///etc/passwd' AS r RETURN r //" AS y RETURN y''',
    r"WITH 1 AS `x\u0060 LOAD CSV FROM 'file:///etc/passwd' AS r RETURN r //` RETURN 1",
    r"MATCH (n) WHERE n.name = '\\' DETACH DELETE n //'",
    r"MATCH (n) WHERE n.name = '\u005c\u005c' DETACH DELETE n //'",
    # Neo4j 5.26 reads an escape that starts the statement as its last hex digit
    r"\u004CALL db.clearQueryCaches()",
    r"CYPHER runtime=slotted \u004CALL db.clearQueryCaches()",
    r"  \u004CALL dbms.listConfig()",
]

PLAIN = [
    # writes
    "CREATE (n:Entity {workspace: $workspace, key: 'x'})",
    "MERGE (n:Entity {workspace: $workspace, key: 'scrooge'}) RETURN n",
    "MATCH (n:Entity) SET n.name = 'pwned'",
    "MATCH (n:Entity) SET n:Pwned",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n:Entity) REMOVE n:Entity",
    "FOREACH (x IN [1, 2] | CREATE (:Pwned {x: x}))",
    "MATCH (n:Entity) WITH collect(n) AS ns FOREACH (n IN ns | SET n.name = 'pwned')",
    # CALL subqueries
    "MATCH (n) CALL (n) { DETACH DELETE n }",
    "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10 ROWS",
    "CALL () { MATCH (n) RETURN n } IN TRANSACTIONS RETURN n",
    "CALL () { LOAD CSV FROM 'file:///etc/passwd' AS r RETURN r } RETURN r",
    "CALL () { CALL db.clearQueryCaches() YIELD value RETURN value } RETURN value",
    "CALL () { SHOW TRANSACTIONS YIELD transactionId RETURN transactionId } RETURN transactionId",
    # LOAD CSV, SHOW, TERMINATE, USE
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "LOAD CSV WITH HEADERS FROM 'http://127.0.0.1:1/x.csv' AS row RETURN row",
    "SHOW USERS",
    "SHOW DATABASES",
    "SHOW INDEXES",
    "SHOW TRANSACTIONS",
    "SHOW TRANSACTIONS YIELD transactionId TERMINATE TRANSACTIONS transactionId",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    "USE system SHOW USERS",
    "USE neo4j CALL db.clearQueryCaches()",
    "USE system MATCH (n) RETURN n",
    # administration and schema commands
    "CREATE INDEX pwned IF NOT EXISTS FOR (n:Entity) ON (n.name)",
    "CREATE CONSTRAINT pwned FOR (n:Pwned) REQUIRE n.id IS UNIQUE",
    "DROP INDEX graphrag_entity_text",
    "DROP CONSTRAINT graphrag_entity_key",
    "CREATE DATABASE pwned",
    "STOP DATABASE neo4j",
    "CREATE USER eve SET PASSWORD 'secretsecret'",
    "ALTER USER neo4j SET PASSWORD 'pwnedpwned'",
    "GRANT ROLE admin TO eve",
    # procedures outside the allow-list
    "CALL db.createLabel('Pwned')",
    "CALL db.createProperty('pwned')",
    "CALL dbms.killQuery('query-1')",
    "CALL dbms.listConnections()",
    "CALL dbms.setConfigValue('db.logs.query.enabled', 'OFF')",
    "CALL db.clearQueryCaches()",
    "CALL db.labels() YIELD label CALL db.createLabel(label + 'X') RETURN label",
    "CALL dbms.procedures()",
    # EXPLAIN / PROFILE wrappers, pre-parser options
    "EXPLAIN MATCH (n) RETURN n",
    "EXPLAIN CREATE (n:Pwned)",
    "PROFILE MATCH (n) DELETE n",
    "PROFILE MATCH (n) RETURN n",
    "CYPHER runtime=slotted EXPLAIN MATCH (n) RETURN n",
    "CYPHER runtime=slotted MATCH (n) DELETE n",
    # several statements, comments and strings around writes
    "MATCH (n) RETURN n; CREATE (:Pwned)",
    "MATCH (n) RETURN count(n);MATCH (m) DETACH DELETE m;",
    "MATCH (n) WITH n // read only\nCREATE (:Pwned)",
    "MATCH (n) /* read only */ DETACH DELETE n",
    "MATCH (n) /* ' */ DELETE n",
    "MATCH (n) WHERE n.name = '//' DETACH DELETE n",
    "MATCH (n) WHERE n.name = 'it\\'s' DETACH DELETE n",
    "MATCH (n) WHERE n.name = '`' DELETE n //`",
    "MATCH (n) WHERE n.name = 'unterminated RETURN n",
    "MATCH (n) /* unterminated DELETE n",
    "",
    "   // only a comment",
]

ATTACKS = ESCAPES + PLAIN

# Neo4j 5.26 Community itself rejects these (unsupported commands): nothing runs, but the
# refusal is Neo4j's error at EXPLAIN rather than the guard's.
NEO4J_REJECTS = {"CREATE DATABASE pwned", "STOP DATABASE neo4j", "GRANT ROLE admin TO eve"}
# Confining a schema command to a workspace makes it invalid Cypher: refused by Neo4j.
SCHEMA_COMMANDS = {
    "CREATE INDEX pwned IF NOT EXISTS FOR (n:Entity) ON (n.name)",
    "CREATE CONSTRAINT pwned FOR (n:Pwned) REQUIRE n.id IS UNIQUE",
}

# Refused by the lexical layer alone (no server): the checks a plan cannot make or the
# clearer messages; everything else in ATTACKS is decided on Neo4j's EXPLAIN.
LEXICAL_REFUSALS = ESCAPES[:9] + [
    r"C\u0041LL dbms.listConfig()",
    r"SH\u004fW USERS",
    r"TERMIN\u0041TE TRANSACTIONS 'x'",
    r"U\u0053E system SHOW USERS",
    r"CALL `db`.`clearQueryCaches`()",
    "EXPLAIN MATCH (n) RETURN n",
    "PROFILE MATCH (n) RETURN n",
    "MATCH (n) RETURN n; MATCH (m) RETURN m",
    "CALL dbms.killQuery('query-1')",
    "",
    "   // only a comment",
    "MATCH (n) /* unterminated",
    r"RETURN \u004G",
    r"\u004CALL db.labels()",
    r"\u004dATCH (n) RETURN n",
]

TERMINATE_TEMPLATES = [
    "TERMINATE TRANSACTIONS '{tx}'",
    r"TERMIN\u0041TE TRANSACTIONS '{tx}'",
    r"\u0054\u0045RMINATE TRANSACTIONS '{tx}'",
    "SHOW TRANSACTIONS YIELD transactionId AS t WHERE t = '{tx}' TERMINATE TRANSACTIONS t",
    r"SH\u004fW TRANSACTIONS YIELD transactionId AS t WHERE t = '{tx}' TERMINATE TRANSACTIONS t",
    "CALL () {{ TERMINATE TRANSACTIONS '{tx}' }}",
    "CALL dbms.killTransaction('{tx}')",
]
