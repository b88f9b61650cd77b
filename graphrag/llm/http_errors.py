"""What an OpenAI-compatible server says when it refuses: its message and when to retry.
Shared by the chat and the embeddings clients."""

from __future__ import annotations

import email.utils
import time

import httpx


def error_detail(response: httpx.Response) -> str:
    """The server's own explanation: OpenAI nests it in error.message, Ollama and
    llama.cpp send a string or a similar object."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str) and error:
        return error
    return response.text[:300] or response.reason_phrase


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or HTTP date)."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
