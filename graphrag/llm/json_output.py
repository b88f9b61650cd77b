"""JSON out of a model's answer, repaired only where the repair loses nothing.

Accepted: reasoning blocks (`<think>`), prose or a code fence around the JSON, comments,
trailing commas, single or typographic quotes, Python's True/False/None. Refused: an answer
that ends before its JSON is complete (cut off by the token limit or by a proxy) raises
`LLMTruncatedError`, whatever a repair tool could close it into: closing it would turn
half an answer into data ("Broken" with an empty type). Anything else that does not parse
raises `LLMOutputError` with the parser's reason, precise enough to quote in a re-ask.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphrag.errors import LLMOutputError, LLMTruncatedError

_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_CODE_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)(?:```|$)", re.DOTALL)
_CLOSERS = {"{": "}", "[": "]"}
_OPEN_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d"}
_LITERALS = {"True": "true", "False": "false", "None": "null"}


def load_model_json(text: str) -> Any:
    """The JSON object or list in `text`; LLMTruncatedError when it was cut off,
    LLMOutputError when there is none to recover without guessing."""
    # Reasoning models (DeepSeek-R1, Qwen3) think aloud before answering.
    stripped = _THINK_BLOCK.sub("", text).strip()
    if not stripped:
        raise LLMOutputError("the answer is empty")
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    fenced = _CODE_FENCE.search(stripped)
    body = fenced.group(1) if fenced else stripped
    start = next((i for i, ch in enumerate(body) if ch in _CLOSERS), None)
    if start is None:
        snippet = " ".join(stripped.split())[:120]
        raise LLMOutputError(f"the answer contains no JSON object: {snippet}")
    normalized = _normalize(body, start)
    try:
        return json.loads(normalized)
    except ValueError as exc:
        raise LLMOutputError(f"the answer is not valid JSON: {exc}") from None


def _normalize(text: str, start: int) -> str:
    """The JSON value that starts at `text[start]`, up to its matching bracket, rewritten
    with the lossless repairs; LLMTruncatedError if the text ends inside it."""
    out: list[str] = []
    stack: list[str] = []
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in _OPEN_QUOTES:
            i = _copy_string(text, i, out)
            continue
        if ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise LLMTruncatedError("the answer ends inside a comment: it was cut off")
            i = end + 2
            continue
        if ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch in "}]":
            if not stack or stack[-1] != ch:
                raise LLMOutputError(f"the answer is not valid JSON: unexpected {ch!r} at char {i - start}")
            _drop_trailing_comma(out)
            stack.pop()
            out.append(ch)
            if not stack:
                return "".join(out)
            i += 1
            continue
        elif ch.isalpha():
            word = re.match(r"[A-Za-z_]\w*", text[i:])
            assert word is not None
            token = word.group()
            out.append(_LITERALS.get(token, token))
            i += len(token)
            continue
        out.append(ch)
        i += 1
    raise LLMTruncatedError(
        f"the answer ends before its JSON is complete ({len(stack)} unclosed brackets): it was cut off"
    )


def _copy_string(text: str, i: int, out: list[str]) -> int:
    """Copies the string literal at `text[i]` as a double-quoted JSON string; returns the
    index after it."""
    close = _OPEN_QUOTES[text[i]]
    j = i + 1
    pieces: list[str] = []
    while j < len(text):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            # \' is not a JSON escape; the quote alone is what was meant.
            pieces.append(nxt if nxt == "'" else ch + nxt)
            j += 2
            continue
        if ch == close:
            out.append('"' + "".join(pieces) + '"')
            return j + 1
        pieces.append('\\"' if ch == '"' else ch)
        j += 1
    raise LLMTruncatedError("the answer ends inside a string: it was cut off")


def _drop_trailing_comma(out: list[str]) -> None:
    k = len(out) - 1
    while k >= 0 and out[k].isspace():
        k -= 1
    if k >= 0 and out[k] == ",":
        del out[k]
