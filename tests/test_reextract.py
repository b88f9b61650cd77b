"""`reextract`: the way back from extractions that are wrong (issue 11, "A way back")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from graphrag import exit_codes
from graphrag.core import GraphRAG
from graphrag.errors import ConfigError
from graphrag.llm.base import Message
from graphrag.llm.cache import LLMCache
from graphrag.llm.chat import OpenAIChatModel
from graphrag.settings import Settings
from graphrag.stores.factory import build_state_store
from tests.fakes.chat import derived_extraction_responder
from tests.fakes.openai_server import FakeOpenAIServer
from tests.test_invariants import snapshot

SETTINGS = {"chunk_size": 120, "chunk_overlap": 10, "embedder": "hashing", "summary_min_fragments": 3, "extractor": "llm"}
TEXTS = {
    "a": "Ada Lovelace wrote to Charles Babbage from London. Charles Babbage answered from Cambridge.",
    "b": "Mary Somerville met Ada Lovelace in London. Michael Faraday lectured in London.",
}


class WrongThenRight:
    """A model whose answers are valid but wrong (an invented entity in every extraction)
    until `right` is set: nothing a validator can catch, only a human."""

    def __init__(self) -> None:
        self.right = False

    def __call__(self, messages: Sequence[Message], purpose: str) -> str:
        text = derived_extraction_responder(messages, purpose)
        if self.right or purpose != "extract":
            return text
        data = json.loads(text)
        data["entities"].append({"name": "Wrong Guess", "type": "person", "description": "Invented."})
        return json.dumps(data)


def open_rag(workspace: Path, url: str, model: str = "fake-model") -> GraphRAG:
    settings = Settings(workspace=workspace, chat_base_url=url, chat_model=model, **SETTINGS)
    state = build_state_store(settings)
    chat = OpenAIChatModel(url, model, cache=LLMCache(state), max_retries=1, backoff_base=0.01, backoff_max=0.02)
    return GraphRAG(settings, chat=chat, state=state)


@pytest.fixture
def docs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "docs"
    folder.mkdir()
    paths = []
    for name, text in TEXTS.items():
        paths.append(folder / f"{name}.txt")
        paths[-1].write_text(text, encoding="utf-8")
    return paths


def names(rag: GraphRAG) -> set[str]:
    return {e.name for e in rag.graph.iter_entities()}


def test_reextract_replaces_a_wrong_extraction_and_index_alone_cannot(tmp_path: Path, docs: list[Path]) -> None:
    model = WrongThenRight()
    with FakeOpenAIServer(chat=model) as server:
        with open_rag(tmp_path / "truth", server.base_url) as truth:
            model.right = True
            truth.index(docs)
            expected = snapshot(truth)
        model.right = False
        with open_rag(tmp_path / "ws", server.base_url) as rag:
            rag.index(docs)
            assert "Wrong Guess" in names(rag)
            model.right = True
            rag.index(docs)  # unchanged documents: stored records, no call
            assert "Wrong Guess" in names(rag)

            sent = len(server.chat_requests)
            dry = rag.reextract([str(docs[0])], dry_run=True)
            assert dry.dry_run and dry.estimate["llm_calls"] > 0 and len(server.chat_requests) == sent
            one = rag.reextract([str(docs[0])])
            assert one.documents_reextracted == 1 and one.llm_calls > 0
            assert "Wrong Guess" in names(rag)  # still in the other document
            every = rag.reextract(None)
            assert every.documents_reextracted == 2 and every.documents_failed == 0
            assert "Wrong Guess" not in names(rag)
            assert snapshot(rag) == expected
            assert all(not rag.state.pending(kind) for kind in ("document", "chunk", "entity", "relation"))
            # And the fresh answers are what the cache and the records now hold: free again.
            sent = len(server.chat_requests)
            assert rag.index(docs).llm_calls == 0 and len(server.chat_requests) == sent


def test_a_failing_reextract_keeps_the_graph_that_worked(tmp_path: Path, docs: list[Path]) -> None:
    with FakeOpenAIServer() as server:
        with open_rag(tmp_path / "ws", server.base_url) as rag:
            rag.index(docs)
            before = snapshot(rag)
        url = server.base_url
    with open_rag(tmp_path / "ws", url) as rag:  # the server is gone
        report = rag.reextract(None)
        assert report.documents_failed == 2 and report.documents_reextracted == 0
        assert "kept as it was" in report.failures[0]["reason"]
        assert snapshot(rag) == before
        assert {r.status for r in rag.status()} == {"processed"}


def test_a_changed_model_is_refused_by_index_and_migrated_by_reextract_all(tmp_path: Path, docs: list[Path]) -> None:
    with FakeOpenAIServer() as server:
        with open_rag(tmp_path / "ws", server.base_url, "model-1") as rag:
            rag.index(docs)
            old = rag.extractor.extractor_id
        with open_rag(tmp_path / "ws", server.base_url, "model-2") as rag:
            assert rag.extractor.extractor_id != old and rag.extractor.extractor_id.startswith("llm:model-2:")
            with pytest.raises(ConfigError, match="reextract --all"):
                rag.index(docs)
            with pytest.raises(ConfigError, match="reextract --all"):
                rag.reextract([str(docs[0])])
            assert rag.delete([str(docs[1])])  # deleting needs no extraction: works meanwhile
            report = rag.reextract(None)
            assert report.documents_reextracted == 1
            assert rag.index(docs).documents_new == 1  # the deleted one comes back, under model-2
            assert {r.status for r in rag.status()} == {"processed"}


def test_the_command(tmp_path: Path, docs: list[Path]) -> None:
    with FakeOpenAIServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHRAG_", "OPENAI_"))}
        env.update({f"GRAPHRAG_{k.upper()}": str(v) for k, v in SETTINGS.items()})
        env.update(GRAPHRAG_CHAT_BASE_URL=server.base_url, GRAPHRAG_CHAT_MODEL="fake-model",
                   GRAPHRAG_WORKSPACE=str(tmp_path / "ws"))

        def graphrag(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "graphrag.cli", *args], env=env, capture_output=True,
                                  text=True, timeout=300)

        assert graphrag("index", str(docs[0].parent)).returncode == 0
        assert graphrag("reextract").returncode == exit_codes.USAGE
        dry = graphrag("reextract", "--all", "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["estimate"]["chunks_to_extract"] >= 2
        done = graphrag("reextract", str(docs[0]), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["documents_reextracted"] == 1
        assert graphrag("reextract", "doc-nothing").returncode == exit_codes.USAGE


class Revised:
    """Derived extractions; once `revised`, one more name in every answer about the mill."""

    def __init__(self, revised: bool = False) -> None:
        self.revised = revised

    def __call__(self, messages: Sequence[Message], purpose: str) -> str:
        text = derived_extraction_responder(messages, purpose)
        if not self.revised or purpose != "extract" or "mill" not in messages[-1]["content"]:
            return text
        data = json.loads(text)
        data["entities"].append({"name": "Zed Hart", "type": "person", "description": "New."})
        return json.dumps(data)


def test_reextracting_a_text_another_document_shares_rekeys_both(graph_backend, make_rag, write_docs) -> None:
    """A record belongs to a text: re-extracting one document also re-keys the other
    document's chunk with the same text, so a name only the new record has stays in the
    graph once the re-extracted document is deleted."""
    from tests.fakes.chat import ScriptedChatModel

    shared = "Ada Marsh met Bram Quill near the mill, and Iris Vale wrote to Ada Marsh about it."
    shared += " Bram Quill sold the mill to Iris Vale in the spring, and Ada Marsh kept the ledger."
    endings = ["Tom Reed met Cora Finch at the ford.", "Cora Finch wrote to Tom Reed from the harbour."]
    a, b = write_docs({name: shared + "\n\n" + end for name, end in zip("ab", endings)})
    model = Revised()
    options = {"summary_policy": "rebuild", "chunk_size": 40, "chunk_overlap": 0}
    rag = make_rag("ws", chat=ScriptedChatModel(model), **options)
    rag.index([str(a), str(b)])
    first_chunks = [rag.state.chunks_of(d.id)[0] for d in rag.status()]
    assert [c.text for c in first_chunks] == [shared, shared] and first_chunks[0].id != first_chunks[1].id
    model.revised = True
    assert rag.reextract([str(a)]).documents_reextracted == 1
    assert rag.graph.get_entities(["zed hart"])
    rag.delete([str(a)])

    fresh = make_rag("fresh", chat=ScriptedChatModel(Revised(revised=True)), **options)
    fresh.index([str(b)])
    assert snapshot(rag) == snapshot(fresh)


class Renaming(Revised):
    """Once `revised`, Ada Marsh is spelled in capitals (her entity is re-formed) and a new
    name comes with a relation to her."""

    def __call__(self, messages: Sequence[Message], purpose: str) -> str:
        text = derived_extraction_responder(messages, purpose)
        if not self.revised or purpose != "extract":
            return text
        data = json.loads(text.replace("Ada Marsh", "ADA MARSH"))
        data["entities"].append({"name": "Zed Hart", "type": "person", "description": "New."})
        data["relations"].append({"source": "Zed Hart", "target": "ADA MARSH", "keywords": ["new"],
                                  "description": "New.", "weight": 2.0})
        return json.dumps(data)


def test_a_reextract_killed_once_its_records_are_stored_is_finished_by_the_next_command(
    graph_backend, make_rag, write_docs, monkeypatch
) -> None:
    """Killed between storing the new records and reconciling: the next command re-keys the
    chunks from the records and converges (it used to fail on every command after: "refers
    to missing entities")."""
    from graphrag.stores.sqlite_state import SQLiteStateStore
    from tests.fakes.chat import ScriptedChatModel

    (a,) = write_docs({"a": "Ada Marsh met Bram Quill near the mill."})
    model = Renaming()
    options = {"summary_policy": "rebuild", "chunk_size": 40, "chunk_overlap": 0, "resolution": True}
    rag = make_rag("ws", chat=ScriptedChatModel(model), **options)
    rag.index([str(a)])
    put = SQLiteStateStore.put_extractions

    def killed_after(self, records, extractor_id):
        put(self, records, extractor_id)
        raise KeyboardInterrupt

    monkeypatch.setattr(SQLiteStateStore, "put_extractions", killed_after)
    model.revised = True
    with pytest.raises(KeyboardInterrupt):
        rag.reextract([str(a)])
    monkeypatch.setattr(SQLiteStateStore, "put_extractions", put)
    rag.index([str(a)])

    fresh = make_rag("fresh", chat=ScriptedChatModel(Renaming(revised=True)), **options)
    fresh.index([str(a)])
    assert rag.graph.get_entities(["zed hart"])
    assert snapshot(rag) == snapshot(fresh)
