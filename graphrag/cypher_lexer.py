"""Cypher's lexical layer, as Neo4j 5 reads it: unicode escapes, strings, comments, names.

Neo4j decodes `\\uXXXX` escapes in the whole query *before* it lexes it, like Java source:
`L\\u004fAD CSV` is `LOAD CSV`, `// \\u000a CREATE` ends the comment, a `\\u0027` opens a
string and a `\\u0060` closes a backtick name. A backslash is an escape only after an even
number of backslashes (`\\\\u0041` is a backslash and `u0041`), exactly one `u` follows, and
the decoding is one pass (`\\u005cu0041` is `\\u0041` as text). After decoding: `'` and `"`
strings where a backslash escapes the next character; backtick names where a doubled
backtick is a backtick and a backslash is plain; `//` comments ending at `\\n` or `\\r` only;
`/* */` comments that do not nest; Neo4j's whitespace (Python's minus U+0085); every other
non-ASCII-punctuation character is part of a word. Each rule was checked against Neo4j 5.26
(tests/test_cypher_lexer.py holds the cases), because a lexer that disagrees with the
server in one place is a bypass. One place where Neo4j disagrees with itself — an escape
as the statement's first character is read as its last hex digit — is refused by the guard.

`lex(query)` returns the tokens with their spans in the *original* text, so a rewrite can
insert text there and send the query still written the way its author wrote it (sending the
decoded text would let Neo4j decode a second time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from graphrag.errors import CypherNotAllowedError

Kind = Literal["word", "name", "string", "param", "punct"]

_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
# Neo4j 5.26's whitespace: Python's minus U+0085, which Neo4j reads as part of a name
# (probed over every space, control and format character).
_SPACE = frozenset(c for c in map(chr, range(0x3000 + 1)) if c.isspace()) - {"\x85"}
# Every other character that is not ASCII punctuation belongs to a word: Neo4j accepts
# `c€x`, `c$x`, `c\u200bx`, NUL and combining marks inside names, so splitting words
# anywhere Neo4j does not would hide a node pattern from the workspace rewrite.
_PUNCT = frozenset("!\"#%&'()*+,-./:;<=>?@[\\]^`{|}~")
_WORD = re.compile("[^" + re.escape("".join(sorted(_SPACE | _PUNCT | {"$"}))) + "][^"
                   + re.escape("".join(sorted(_SPACE | _PUNCT))) + "]*")


_LINE_END = re.compile(r"[\n\r]")


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # decoded; a string's or a name's content without its quotes
    start: int  # span in the original query
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper()

    def is_punct(self, chars: str) -> bool:
        return self.kind == "punct" and self.text in chars

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def decode_escapes(query: str) -> tuple[str, list[int]]:
    """The query with its `\\uXXXX` escapes decoded, and for each decoded character (plus the
    end) its offset in `query`."""
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(query)
    backslashes = 0  # contiguous backslashes just before i, in the original text
    while i < n:
        c = query[i]
        if c == "\\" and backslashes % 2 == 0 and query.startswith("u", i + 1):
            hex4 = query[i + 2 : i + 6]
            if not _HEX4.fullmatch(hex4):
                raise CypherNotAllowedError(
                    f"invalid unicode escape {query[i:i + 6]!r} at offset {i}: write \\u and four hex digits"
                )
            out.append(chr(int(hex4, 16)))
            where.append(i)
            i += 6
            backslashes = 0
            continue
        backslashes = backslashes + 1 if c == "\\" else 0
        out.append(c)
        where.append(i)
        i += 1
    where.append(n)
    return "".join(out), where


def lex(query: str) -> list[Token]:
    """Words, backtick names, strings, parameters and punctuation of `query` (comments and
    whitespace dropped). Raises CypherNotAllowedError on an unterminated string, comment or
    name: Neo4j would refuse it too, and it cannot be checked."""
    text, where = decode_escapes(query)
    out: list[Token] = []
    i, n = 0, len(text)

    def add(kind: Kind, value: str, start: int, end: int) -> None:
        out.append(Token(kind, value, where[start], where[end]))

    while i < n:
        c = text[i]
        if c in _SPACE:
            i += 1
        elif text.startswith("//", i):
            m = _LINE_END.search(text, i)
            i = n if m is None else m.end()
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise CypherNotAllowedError("unterminated /* comment: the query cannot be checked")
            i = end + 2
        elif c in "'\"":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise CypherNotAllowedError("unterminated string literal: the query cannot be checked")
            add("string", text[i + 1 : j], i, j + 1)
            i = j + 1
        elif c == "`":
            j = i + 1
            parts = []
            while True:
                end = text.find("`", j)
                if end < 0:
                    raise CypherNotAllowedError("unterminated `name`: the query cannot be checked")
                parts.append(text[j:end])
                if text.startswith("``", end):
                    parts.append("`")
                    j = end + 2
                    continue
                break
            add("name", "".join(parts), i, end + 1)
            i = end + 1
        elif c == "$":
            m = _WORD.match(text, i + 1)
            if m is None and i + 1 < n and text[i + 1] == "`":
                end = text.find("`", i + 2)
                if end < 0:
                    raise CypherNotAllowedError("unterminated `name`: the query cannot be checked")
                add("param", text[i + 2 : end], i, end + 1)
                i = end + 1
            elif m is None:
                add("punct", c, i, i + 1)
                i += 1
            else:
                add("param", m.group(), i, m.end())
                i = m.end()
        else:
            m = _WORD.match(text, i)
            if m is not None:
                add("word", m.group(), i, m.end())
                i = m.end()
            else:
                add("punct", c, i, i + 1)
                i += 1
    return out
