"""The lexer reads a query as Neo4j does: for each query, the column names our tokens see
(the name after each AS) are the columns Neo4j returns. The cases are the places where
readers disagree: unicode escapes (decoded before lexing, everywhere), comment ends,
string and backtick quoting, whitespace and name characters."""

from __future__ import annotations

import pytest

from graphrag.cypher_lexer import decode_escapes, lex
from graphrag.errors import CypherNotAllowedError

B = "\\"

AGREEMENT = [
    "RETURN 1 AS a // " + B + "u000a , 2 AS b",
    "RETURN 1 AS a // " + B + "u000d , 2 AS b",
    "RETURN 1 AS a // x" + B + "u2028, 2 AS b",
    "RETURN 1 AS a // x\u2028, 2 AS b",
    "RETURN 1 AS a // x\x85, 2 AS b",
    "RETURN 1 AS a // x\x0b, 2 AS b",
    "RETURN 1 AS a // x\x1c, 2 AS b",
    "RETURN 1 AS a // x\r, 2 AS b",
    "RETURN 1 AS a /* " + B + "u002a/ , 2 AS b /* */",
    "RETURN 1 AS a /* x " + B + "u002a" + B + "u002f , 2 AS b",
    "RETURN 1 AS a /* /* */ , 2 AS b",
    "RETURN 1 AS `a" + B + "u0041`",
    "RETURN 1 AS `a``b`",
    "RETURN 1 AS `a" + B + "``b`",
    "RETURN 1 AS " + B + "u0060weird`",
    "RETURN '" + B + "'' AS a, 2 AS b",
    "RETURN '" + B + B + "' AS a, 2 AS b",
    'RETURN "' + B + B + 'u0041" AS a',
    'RETURN "' + B + B + B + 'u0041" AS a',
    'RETURN "' + B + 'u005cu0041" AS a',
    'RETURN "' + B + 'u005c' + B + '" AS a',
    "RETURN " + B + "u0027abc" + B + "u0027 AS a",
    "WITH '" + B + "u0027 AS x, 1 AS y RETURN x AS x, y AS y //' AS z RETURN z AS a",
    "RETURN 1 AS x" + B + "u0020, 2 AS y",
    "RETURN 1 AS " + B + "u0041" + B + "u0042",
    "RETURN 1 AS a" + B + "u00e9",
    "RETURN 1 AS c\u20acx, 2 AS c$y",
    "RETURN 1 AS c\x85x",
    "RETURN 1 AS c\u200bx",
    "RETURN 1 AS c\x00x",
    "RETURN 1\u00a0AS\u3000a,\u20282 AS b",
    "R" + B + "u0045TURN 1 AS x",
]


def _aliases(query: str) -> list[str]:
    tokens = lex(query)
    aliases = [tokens[i + 1].text for i, t in enumerate(tokens[:-1]) if t.is_word("AS")]
    return aliases[len(aliases) - _returned(tokens):]


def _returned(tokens: list) -> int:
    """How many aliases the last RETURN has (WITH aliases are not columns)."""
    last = max(i for i, t in enumerate(tokens) if t.is_word("RETURN"))
    return sum(1 for t in tokens[last:] if t.is_word("AS"))


@pytest.mark.neo4j
@pytest.mark.parametrize("query", AGREEMENT)
def test_tokens_agree_with_neo4j(query: str) -> None:
    from neo4j import GraphDatabase

    from tests.neo4j_support import neo4j_test_uri

    with GraphDatabase.driver(neo4j_test_uri(), auth=None, notifications_min_severity="OFF") as driver:
        keys = driver.execute_query(query).keys
    assert _aliases(query) == list(keys)


def test_escape_rules() -> None:
    assert decode_escapes("M" + B + "u0041TCH")[0] == "MATCH"
    assert decode_escapes(B + B + "u0041")[0] == B + B + "u0041"  # an escaped backslash, then text
    assert decode_escapes(B + B + B + "u0041")[0] == B + B + "A"
    assert decode_escapes(B + "u005cu0041")[0] == B + "u0041"  # one pass
    assert decode_escapes(B + "U00000041")[0] == B + "U00000041"  # no long form in Neo4j 5
    text, where = decode_escapes("a" + B + "u0042c")
    assert text == "aBc" and where == [0, 1, 7, 8]
    with pytest.raises(CypherNotAllowedError, match="invalid unicode escape"):
        decode_escapes("RETURN " + B + "u004G")
    with pytest.raises(CypherNotAllowedError, match="invalid unicode escape"):
        decode_escapes("RETURN " + B + "uuu0041")


def test_spans_point_into_the_original_text() -> None:
    query = "M" + B + "u0041TCH (c" + B + "u003aChunk) RETURN c"
    tokens = lex(query)
    assert [t.text for t in tokens] == ["MATCH", "(", "c", ":", "Chunk", ")", "RETURN", "c"]
    assert query[tokens[0].start:tokens[0].end] == "M" + B + "u0041TCH"
    assert query[tokens[3].start:tokens[3].end] == B + "u003a"
