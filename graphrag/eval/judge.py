"""LLM-judged answer quality: faithfulness (answer supported by the context), answer
relevance (answer addresses the question) and context relevance (context holds what the
question needs). One call each (prompts/judge_*.txt), a 1-5 score mapped to 0-1.

Judges are themselves models: use a strong one, keep it fixed across the systems you
compare, and read the reasons on a sample before trusting the averages.
"""

from __future__ import annotations

import asyncio
import json
import re

from graphrag.llm.base import ChatModel, Message
from graphrag.prompts import fence, render_prompt

CRITERIA = ("faithfulness", "answer_relevance", "context_relevance")
_SCORE = re.compile(r'"score"\s*:\s*"?([1-5])')


def parse_score(text: str) -> float | None:
    """0-1 from a {"score": 1..5} reply (tolerating prose around it); None if absent."""
    try:
        data = json.loads(text)
        raw = data.get("score") if isinstance(data, dict) else None
        value = int(raw) if raw is not None and str(raw).strip().isdigit() else None
    except (json.JSONDecodeError, ValueError):
        value = None
    if value is None:
        match = _SCORE.search(text)
        value = int(match.group(1)) if match else None
    if value is None or not 1 <= value <= 5:
        return None
    return (value - 1) / 4


class Judge:
    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat

    async def score(self, question: str, answer: str, context: str) -> dict[str, float | None]:
        """Each criterion's score in [0, 1]; None when the judge's reply had no valid score
        even after one re-ask."""
        values = {
            "faithfulness": {"context": fence(context, "CONTEXT"), "answer": fence(answer, "ANSWER")},
            "answer_relevance": {"question": fence(question, "QUESTION"), "answer": fence(answer, "ANSWER")},
            "context_relevance": {"question": fence(question, "QUESTION"), "context": fence(context, "CONTEXT")},
        }
        scores = await asyncio.gather(*(self._ask(name, values[name]) for name in CRITERIA))
        return dict(zip(CRITERIA, scores))

    async def _ask(self, criterion: str, values: dict[str, str]) -> float | None:
        messages: list[Message] = [{"role": "user", "content": render_prompt(f"judge_{criterion}", **values)}]
        for _ in range(2):
            result = await self.chat.complete(messages, purpose=f"judge_{criterion}", json_mode=True)
            score = parse_score(result.text)
            if score is not None:
                return score
            messages = [
                *messages,
                {"role": "assistant", "content": result.text},
                {"role": "user", "content": 'Reply with only the JSON object {"score": <1 to 5>, "reason": "..."}.'},
            ]
        return None
