"""Chooses the extractor from the settings."""

from __future__ import annotations

from graphrag.errors import ConfigError
from graphrag.extract.base import Extractor
from graphrag.llm.base import ChatModel
from graphrag.settings import Settings


def build_extractor(settings: Settings, chat: ChatModel | None) -> Extractor:
    kind = settings.resolved_extractor
    if kind == "spacy":
        from graphrag.extract.offline import SpacyExtractor

        return SpacyExtractor()
    if kind == "llm":
        if chat is None:
            raise ConfigError(
                "extractor 'llm' needs a chat endpoint: set GRAPHRAG_CHAT_BASE_URL (e.g. "
                "https://api.openai.com/v1 or http://localhost:11434/v1) and GRAPHRAG_CHAT_MODEL"
            )
        from graphrag.extract.llm import LLMExtractor

        return LLMExtractor(chat, settings)
    if kind.startswith("replay:"):
        from graphrag.extract.replay import ReplayExtractor

        return ReplayExtractor(kind.removeprefix("replay:"))
    raise ConfigError(f"unknown extractor {settings.extractor!r}; use auto, llm, spacy or replay:PATH")
