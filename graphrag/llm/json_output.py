"""JSON out of a model's answer: reasoning blocks, code fences and broken syntax tolerated."""

from __future__ import annotations

import json
import re
from typing import Any

import json_repair

from graphrag.errors import LLMOutputError

_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_CODE_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def load_model_json(text: str) -> Any:
    """The JSON object or list in `text`; LLMOutputError when there is none to recover."""
    # Reasoning models (DeepSeek-R1, Qwen3) think aloud before answering.
    stripped = _THINK_BLOCK.sub("", text).strip()
    if not stripped:
        raise LLMOutputError("the answer is empty")
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    fenced = _CODE_FENCE.search(stripped)
    data = json_repair.loads(fenced.group(1) if fenced else stripped)
    if not isinstance(data, (dict, list)):
        snippet = " ".join(stripped.split())[:120]
        raise LLMOutputError(f"the answer contains no JSON object: {snippet}")
    return data
