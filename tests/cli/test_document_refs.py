"""`status` shows what `delete` and `status DOC` accept: full ids or unambiguous prefixes
(8+ characters), paths relative to the current directory, file names when unique."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from graphrag.doc_refs import resolve_document_refs, shown_ids
from graphrag.errors import AmbiguousDocumentError, DocumentNotFoundError
from graphrag.models import DocumentRecord
from tests.cli.support import graphrag

TEXTS = {
    "notes/alpha.txt": "Ada Lovelace wrote notes on the Analytical Engine designed by Charles Babbage in London.",
    "notes/beta.md": "Alan Turing worked at Bletchley Park during the war and later in Manchester.",
    "archive/alpha.txt": "Grace Hopper built the first compiler while working for the United States Navy.",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("refs")
    for name, text in TEXTS.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text, encoding="utf-8")
    workspace = base / "ws"
    proc = graphrag("index", "notes", "archive", "--workspace", str(workspace), cwd=base)
    assert proc.returncode == 0, proc.stderr
    return base, workspace


def _status(base: Path, workspace: Path, *docs: str) -> list[dict]:
    proc = graphrag("status", *docs, "--workspace", str(workspace), "--json", cwd=base)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_status_table_shows_ids_and_paths_that_delete_accepts(corpus: tuple[Path, Path]) -> None:
    base, workspace = corpus
    proc = graphrag("status", "--workspace", str(workspace), cwd=base, env={"COLUMNS": "70"})
    assert proc.returncode == 0, proc.stderr
    shown = re.findall(r"doc-[0-9a-f]+", proc.stdout)
    assert len(shown) == 3 and all(len(s) >= 4 + 12 for s in shown)
    flat = re.sub(r"[│\s]+", "", proc.stdout)  # a long path wraps in its cell, it is not cut
    for name in TEXTS:
        assert name in flat, proc.stdout
    assert "…" not in proc.stdout
    for shown_id in shown:
        record = _status(base, workspace, shown_id)
        assert len(record) == 1 and record[0]["id"].startswith(shown_id)


def test_status_and_delete_by_prefix_path_and_unique_name(corpus: tuple[Path, Path]) -> None:
    base, workspace = corpus
    records = {Path(r["source"]).relative_to(base).as_posix(): r for r in _status(base, workspace)}
    beta = records["notes/beta.md"]
    assert [r["id"] for r in _status(base, workspace, "beta.md")] == [beta["id"]]
    assert [r["id"] for r in _status(base, workspace, beta["id"][4:12])] == [beta["id"]]  # 8 hex chars
    assert [r["id"] for r in _status(base, workspace, "notes/beta.md")] == [beta["id"]]
    assert [r["id"] for r in _status(base / "notes", workspace, "./beta.md")] == [beta["id"]]

    ambiguous = graphrag("delete", "alpha.txt", "--workspace", str(workspace), cwd=base)
    assert ambiguous.returncode == 2 and "2 indexed files are named 'alpha.txt'" in ambiguous.stderr
    short = graphrag("delete", beta["id"][:7], "--workspace", str(workspace), cwd=base)
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert len(_status(base, workspace)) == 3  # nothing deleted by a refused reference

    deleted = graphrag("delete", "archive/alpha.txt", "beta.md", "--workspace", str(workspace), "--json", cwd=base)
    assert deleted.returncode == 0, deleted.stderr
    gone = {d["id"] for d in json.loads(deleted.stdout)["deleted"]}
    assert gone == {beta["id"], records["archive/alpha.txt"]["id"]}
    assert [Path(r["source"]).relative_to(base).as_posix() for r in _status(base, workspace)] == ["notes/alpha.txt"]


def _record(doc_id: str, source: str) -> DocumentRecord:
    return DocumentRecord(id=doc_id, source=source, title=Path(source).name, content_hash=doc_id)


def test_shown_ids_grow_until_unique() -> None:
    records = [_record("doc-" + "ab" * 8 + "0" * 16, "/a"), _record("doc-" + "ab" * 8 + "1" * 16, "/b"),
               _record("doc-" + "cd" * 16, "/c")]
    shown = shown_ids(records)
    assert shown[records[2].id] == "doc-" + "cd" * 6
    assert shown[records[0].id] == "doc-" + "ab" * 8 + "0" and shown[records[1].id] == "doc-" + "ab" * 8 + "1"
    for record in records:
        assert resolve_document_refs(records, [shown[record.id]], Path("/")) == [record]


def test_an_ambiguous_prefix_is_refused_and_an_unknown_ref_says_where_to_look() -> None:
    records = [_record("doc-12345678aa", "/x/a.txt"), _record("doc-12345678bb", "/x/b.txt")]
    with pytest.raises(AmbiguousDocumentError, match="start of 2 document ids"):
        resolve_document_refs(records, ["12345678"], Path("/"))
    with pytest.raises(DocumentNotFoundError, match="graphrag status"):
        resolve_document_refs(records, ["c.txt"], Path("/"))
    assert resolve_document_refs(records, ["x/a.txt"], Path("/")) == [records[0]]
