"""An indexed sample workspace shared by the query tests: the whole sample corpus, indexed
once per session with the scripted chat model and the hashing embedder."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from graphrag.core import GraphRAG
from graphrag.llm.base import Message
from graphrag.settings import Settings
from tests.conftest import SAMPLE_DIR
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder

_SOURCE = re.compile(r"^\[(\d+)\] .*\n<<<DOCUMENT [0-9a-f]{8}\n(.*?)\nDOCUMENT [0-9a-f]{8}>>>", re.S | re.M)


def citing_responder(messages: Sequence[Message], purpose: str) -> str:
    """The scripted model, answering like a well-behaved LLM: the first sentence of the
    first source that shares a word with the question, citing it."""
    if purpose != "answer":
        return derived_extraction_responder(messages, purpose)
    prompt = messages[-1]["content"]
    question = prompt.rsplit("# Question", 1)[1].strip()
    words = {w.lower() for w in re.findall(r"[A-Z][a-z]+", question)}
    for ref, text in _SOURCE.findall(prompt):
        if words & {w.lower() for w in re.findall(r"\w+", text)}:
            sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()))[0]
            return f"{sentence} [{ref}]"
    return "The documents do not contain the answer to this question."


def sample_settings(workspace: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "workspace": workspace,
        "chunk_size": 300,
        "chunk_overlap": 30,
        "embedder": "hashing",
        "extractor": "llm",
        "summary_min_fragments": 4,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("query") / "ws"
    with GraphRAG(sample_settings(workspace), chat=ScriptedChatModel(derived_extraction_responder)) as rag:
        rag.index([SAMPLE_DIR])
    return workspace


@pytest.fixture
def open_sample(sample_workspace: Path) -> Iterator:
    """Opens the indexed sample workspace with a fresh scripted chat model (its `requests`
    list only this test's calls); `chat=None` opens it offline."""
    opened: list[GraphRAG] = []

    def open_(chat: object = "scripted", **overrides: object) -> GraphRAG:
        settings = sample_settings(sample_workspace, **overrides)
        if chat == "scripted":
            chat = ScriptedChatModel(citing_responder)
        rag = GraphRAG(settings, chat=chat) if chat is not None else GraphRAG(settings)
        if chat is None:
            rag.__dict__["chat"] = None
        opened.append(rag)
        return rag

    yield open_
    for rag in opened:
        rag.close()
