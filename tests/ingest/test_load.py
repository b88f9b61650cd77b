"""Loading every supported format, and every way a file can fail without affecting others."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from graphrag.ingest.load import LoadResult, html_to_text, iter_sources, load_paths, load_source
from graphrag.models import document_id
from graphrag.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings(max_file_bytes=10_000_000)


def make_pdf(pages: list[str], *, info_title: str | None = None) -> bytes:
    """A minimal, valid PDF written by hand: one Helvetica text line per page."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    n = len(pages)
    page_ids = [4 + 2 * i for i in range(n)]
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % p for p in page_ids) + b"] /Count %d >>" % n,
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for pid, text in zip(page_ids, pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({escape(text)}) Tj ET".encode("latin-1") if text else b""
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (pid + 1)
        )
        objects[pid + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    info_id = None
    if info_title is not None:
        info_id = max(objects) + 1
        objects[info_id] = f"<< /Title ({escape(info_title)}) >>".encode("latin-1")

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n")
    xref = out.tell()
    size = max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for num in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[num])
    trailer = b"<< /Size %d /Root 1 0 R" % size + (b" /Info %d 0 R" % info_id if info_id else b"") + b" >>"
    out.write(b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def encrypted_pdf(user_password: str, owner_password: str = "owner") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Top secret text."]))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def load(path: Path, settings: Settings) -> LoadResult:
    return load_source(path, settings)


# --------------------------------------------------------------------------- text formats


def test_txt_document_is_content_addressed_with_absolute_source(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "notes.txt", "Scrooge met Marley.\n")
    monkeypatch.chdir(tmp_path)
    result = load(Path("notes.txt"), settings)  # relative path in, absolute source out
    assert (result.status, result.reason, result.errors) == ("loaded", None, [])
    [doc] = result.documents
    assert doc.text == "Scrooge met Marley.\n"
    assert doc.id == document_id(doc.text)
    assert doc.source == str(path.resolve()) == result.source
    assert doc.title == "notes.txt"


def test_line_endings_and_bom_do_not_change_the_id(tmp_path: Path, settings: Settings) -> None:
    lf = load(write(tmp_path / "lf.txt", "one\ntwo\n"), settings).documents[0]
    crlf = load(write(tmp_path / "crlf.txt", b"one\r\ntwo\r\n"), settings).documents[0]
    bom = load(write(tmp_path / "bom.txt", b"\xef\xbb\xbfone\ntwo\n"), settings).documents[0]
    assert lf.text == crlf.text == bom.text == "one\ntwo\n"
    assert lf.id == crlf.id == bom.id


def test_markdown_title_is_the_first_heading(tmp_path: Path, settings: Settings) -> None:
    text = "Some preamble.\n\n## A Christmas Carol ##\n\nBody text.\n"
    [doc] = load(write(tmp_path / "carol.markdown", text), settings).documents
    assert doc.title == "A Christmas Carol"
    assert doc.text == text  # markdown is kept as written: models read it fine
    [plain] = load(write(tmp_path / "plain.MD", "no heading here\n"), settings).documents
    assert plain.title == "plain.MD"


# --------------------------------------------------------------------------- HTML

PAGE = """<!DOCTYPE html>
<html><head><title>  Marley's   Ghost </title>
<style>p { color: red }</style><script>var secret = "do not index";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<!-- an editor's comment -->
<h1>Stave One</h1>
<p>Marley was <b>dead</b>,
   to begin with.</p>
<p>There is no doubt<br>whatever about that.</p>
<ul><li>Scrooge</li><li>Marley</li></ul>
<pre>  indented
    code</pre>
<div>The end<script>alert(1)</script></div>
<noscript>enable javascript</noscript>
</body></html>
"""


def test_html_drops_script_style_nav_and_keeps_blocks(tmp_path: Path, settings: Settings) -> None:
    [doc] = load(write(tmp_path / "page.html", PAGE), settings).documents
    assert doc.title == "Marley's Ghost"
    assert doc.text == (
        "Stave One\n\n"
        "Marley was dead, to begin with.\n\n"
        "There is no doubt\nwhatever about that.\n\n"
        "Scrooge\nMarley\n\n"
        "  indented\n    code\n\n"
        "The end"
    )
    for hidden in ("secret", "color", "Home", "About", "comment", "alert", "javascript"):
        assert hidden not in doc.text


def test_html_title_falls_back_to_first_h1_then_file_name(tmp_path: Path, settings: Settings) -> None:
    [doc] = load(write(tmp_path / "a.htm", "<body><h1>The <i>Heading</i></h1><p>x</p></body>"), settings).documents
    assert doc.title == "The Heading"
    [doc] = load(write(tmp_path / "b.html", "<p>only text</p>"), settings).documents
    assert doc.title == "b.html"


def test_html_in_a_declared_legacy_charset_is_decoded(tmp_path: Path, settings: Settings) -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><p>caf\xe9 \x93quoted\x94</p></body></html>'
    [doc] = load(write(tmp_path / "old.html", page.encode("latin-1")), settings).documents
    assert doc.text == "café “quoted”"


def test_html_without_visible_text_is_skipped(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "blank.html", "<html><script>x()</script></html>"), settings)
    assert (result.status, result.reason) == ("skipped", "no text content")


def test_deeply_nested_html_does_not_hit_the_recursion_limit() -> None:
    text, _ = html_to_text("<div>" * 5000 + "deep" + "</div>" * 5000)
    assert text == "deep"


# --------------------------------------------------------------------------- PDF


def test_pdf_text_of_every_page(tmp_path: Path, settings: Settings) -> None:
    path = write(tmp_path / "carol.pdf", make_pdf(["Page one (of two).", "Page two."], info_title="Carol"))
    result = load(path, settings)
    assert result.status == "loaded", result.reason
    [doc] = result.documents
    assert doc.text == "Page one (of two).\n\nPage two."
    assert doc.title == "Carol"
    [untitled] = load(write(tmp_path / "untitled.pdf", make_pdf(["Text."])), settings).documents
    assert untitled.title == "untitled.pdf"


def test_pdf_with_a_password_fails_with_a_reason(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "locked.pdf", encrypted_pdf("secret")), settings)
    assert result.status == "failed"
    assert "encrypted with a password" in (result.reason or "")


def test_pdf_encrypted_only_against_editing_loads(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "restricted.pdf", encrypted_pdf("")), settings)
    assert result.status == "loaded", result.reason
    assert result.documents[0].text == "Top secret text."


def test_pdf_without_text_fails_with_an_ocr_hint(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "scan.pdf", make_pdf(["", ""])), settings)
    assert result.status == "failed"
    assert result.reason is not None and "no extractable text" in result.reason and "OCR" in result.reason


def test_corrupt_pdf_fails(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "broken.pdf", b"%PDF-1.4\nthis is not a pdf"), settings)
    assert result.status == "failed" and result.reason


# --------------------------------------------------------------------------- JSONL


def jsonl(*lines: object) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def test_jsonl_records_are_documents_and_a_bad_line_fails_alone(tmp_path: Path, settings: Settings) -> None:
    path = write(
        tmp_path / "feed.jsonl",
        jsonl(
            {"id": "a1", "title": "Marley", "text": "Marley was dead."},
            "{not json",
            "",
            {"id": 7, "text": "No title here."},
            {"id": "b2", "title": "Missing text"},
        ),
    )
    result = load(path, settings)
    assert result.status == "loaded"
    first, second = result.documents
    source = str(path.resolve())
    assert (first.source, first.title, first.text) == (f"{source}#a1", "Marley", "Marley\nMarley was dead.")
    assert first.id == document_id("Marley\nMarley was dead.")
    assert (second.source, second.title, second.text) == (f"{source}#7", "7", "No title here.")
    assert len(result.errors) == 2
    assert result.errors[0].startswith("line 2: invalid JSON")
    assert result.errors[1] == 'line 5: missing "text" (a string)'


def test_jsonl_duplicates_and_invalid_records(tmp_path: Path, settings: Settings) -> None:
    path = write(
        tmp_path / "dups.jsonl",
        jsonl(
            {"id": "x", "text": "one"},
            {"id": "x", "text": "two"},
            {"id": "y", "text": "one"},
            ["not", "an", "object"],
            {"text": "no id"},
            {"id": "z", "text": "   "},
        ),
    )
    result = load(path, settings)
    assert [d.source.rsplit("#", 1)[1] for d in result.documents] == ["x"]
    assert [e.split(":")[0] for e in result.errors] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert "duplicate id 'x' (first on line 1)" in result.errors[0]
    assert "same text as line 1" in result.errors[1]


def test_jsonl_record_over_the_limit_fails_alone(tmp_path: Path) -> None:
    big = {"id": "big", "text": "x" * 5000}
    path = write(tmp_path / "mixed.jsonl", jsonl({"id": "s", "text": "small"}, big, {"id": "t", "text": "tiny"}))
    result = load(path, Settings(max_file_bytes=1000))
    assert [d.text for d in result.documents] == ["small", "tiny"]
    assert result.errors == ["line 2: record is 5.0 KB, over the 1 KB limit; raise GRAPHRAG_MAX_FILE_BYTES to index it"]


def test_jsonl_record_with_invalid_utf8_fails_alone(tmp_path: Path, settings: Settings) -> None:
    path = write(tmp_path / "enc.jsonl", b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n')
    result = load(path, settings)
    assert [d.text for d in result.documents] == ["ok"]
    [error] = result.errors
    assert error.startswith("line 2: record is not valid UTF-8: byte 0xE9 at offset 24")


def test_jsonl_with_only_bad_records_fails_and_empty_is_skipped(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "bad.jsonl", "nope\n[]\n"), settings)
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("no valid records (2 bad): line 1: invalid JSON")
    result = load(write(tmp_path / "blank.jsonl", "\n  \n"), settings)
    assert (result.status, result.reason) == ("skipped", "empty file")


# --------------------------------------------------------------------------- failures


def test_empty_and_whitespace_files_are_skipped(tmp_path: Path, settings: Settings) -> None:
    for name, content in [("empty.txt", ""), ("spaces.md", "  \n\t\n")]:
        result = load(write(tmp_path / name, content), settings)
        assert (result.status, result.reason, result.documents) == ("skipped", "empty file", [])


def test_binary_files_fail(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), settings)
    assert result.status == "failed"
    assert result.reason == "binary file, not text (NUL byte at offset 8)"
    controls = bytes(range(1, 9)) * 50 + b"some text"
    result = load(write(tmp_path / "controls.md", controls), settings)
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("binary file, not text (")
    result = load(write(tmp_path / "utf16.txt", "hello".encode("utf-16")), settings)
    assert result.reason == "UTF-16 text is not supported; re-save the file as UTF-8"


def test_invalid_utf8_fails_with_offset_and_hint(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "latin1.txt", "line one\ncafé\n".encode("latin-1")), settings)
    assert result.status == "failed"
    assert result.reason == (
        "file is not valid UTF-8: byte 0xE9 at offset 12 (line 2); it is probably Latin-1/Windows-1252 — "
        "re-save it as UTF-8 (e.g. iconv -f cp1252 -t utf-8)"
    )
    # The offset counts from the start of the file, BOM included.
    result = load(write(tmp_path / "bom.txt", b"\xef\xbb\xbfab\xff"), settings)
    assert result.reason is not None and "at offset 5 (line 1)" in result.reason


def test_unsupported_and_missing_paths_fail(tmp_path: Path, settings: Settings) -> None:
    result = load(write(tmp_path / "table.csv", "a,b\n"), settings)
    assert result.status == "failed"
    assert result.reason is not None and result.reason.startswith("unsupported file type '.csv'; supported: .htm, .html")
    result = load(tmp_path / "nowhere.txt", settings)
    assert (result.status, result.reason, result.source) == ("failed", "no such file", str(tmp_path / "nowhere.txt"))


def test_unreadable_file_fails(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "secret.txt", "text")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod 0 does not stop root
    result = load(path, settings)
    assert (result.status, result.reason) == ("failed", "cannot read file: Permission denied")


def test_a_20_mb_file_fails_clearly_and_the_rest_of_the_batch_loads(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write(docs / "huge.txt", b"word " * 4_000_000)
    write(docs / "small.txt", "Small but fine.")
    write(docs / "other.md", "# Other\n\nAlso fine.")
    results = {Path(r.source).name: r for r in load_paths([docs], Settings())}  # default limit: 10 MB
    assert results["huge.txt"].status == "failed"
    assert results["huge.txt"].reason == (
        "file is 20.0 MB, over the 10 MB limit; raise GRAPHRAG_MAX_FILE_BYTES to index it"
    )
    assert results["small.txt"].documents[0].text == "Small but fine."
    assert results["other.md"].status == "loaded"


# --------------------------------------------------------------------------- discovery


def test_iter_sources_walks_sorts_and_deduplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "corpus"
    b = write(root / "b.txt", "b")
    a = write(root / "sub" / "deeper" / "a.md", "a")
    c = write(root / "c.HTML", "<p>c</p>")
    write(root / "ignored.csv", "x")  # unsupported types are ignored in a walk...
    write(root / ".hidden.txt", "x")  # ...and so are hidden files and directories
    write(root / ".git" / "notes.txt", "x")
    monkeypatch.chdir(tmp_path)
    sources = iter_sources(["corpus", root, "corpus/b.txt", "./corpus/../corpus/sub"])
    assert sources == sorted([b.resolve(), a.resolve(), c.resolve()])
    # ...but a file named explicitly is always returned, so that it fails loudly.
    assert iter_sources([root / "ignored.csv"]) == [(root / "ignored.csv").resolve()]


def test_iter_sources_expands_globs_and_keeps_missing_paths(tmp_path: Path) -> None:
    a = write(tmp_path / "x" / "a.txt", "a")
    b = write(tmp_path / "x" / "y" / "b.txt", "b")
    write(tmp_path / "x" / "y" / "c.csv", "c")
    assert iter_sources([str(tmp_path / "x" / "**" / "*")]) == [a.resolve(), b.resolve()]
    assert iter_sources([str(tmp_path / "x" / "*.txt")]) == [a.resolve()]
    missing_glob = tmp_path / "*.pdf"
    missing = tmp_path / "gone.txt"
    assert iter_sources([missing_glob, missing]) == sorted([missing_glob, missing])
    result = load_source(missing_glob, Settings())
    assert result.reason == "no such file (no file matches this pattern)"


def test_symlink_resolves_to_one_source(tmp_path: Path) -> None:
    real = write(tmp_path / "real.txt", "text")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert iter_sources([real, link]) == [real.resolve()]
    assert load_source(link, Settings()).documents[0].source == str(real.resolve())


def test_a_directory_mixing_everything(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    write(root / "a.txt", "Plain text.")
    write(root / "b.md", "# Title\n\nMarkdown.")
    write(root / "c.html", PAGE)
    write(root / "d.pdf", make_pdf(["PDF text."]))
    write(root / "e.jsonl", jsonl({"id": 1, "text": "record one"}, "bad", {"id": 2, "text": "record two"}))
    write(root / "f.txt", "")
    write(root / "g.txt", b"\x00\x01\x02binary")
    write(root / "h.txt", b"caf\xe9")
    write(root / "nested" / "i.htm", "<p>nested</p>")
    write(root / "scan.pdf", make_pdf([""]))
    write(root / "big.md", "y" * 2000)
    write(root / "data.bin", b"\x00" * 10)

    results = {Path(r.source.split("#")[0]).name: r for r in load_paths([root], Settings(max_file_bytes=1000))}
    assert {name: r.status for name, r in results.items()} == {
        "a.txt": "loaded",
        "b.md": "loaded",
        "c.html": "loaded",
        "d.pdf": "loaded",
        "e.jsonl": "loaded",
        "f.txt": "skipped",
        "g.txt": "failed",
        "h.txt": "failed",
        "i.htm": "loaded",
        "scan.pdf": "failed",
        "big.md": "failed",
    }
    assert [d.text for d in results["e.jsonl"].documents] == ["record one", "record two"]
    assert results["e.jsonl"].errors[0].startswith("line 2: invalid JSON")
    assert results["big.md"].reason == "file is 2.0 KB, over the 1 KB limit; raise GRAPHRAG_MAX_FILE_BYTES to index it"
    assert all(r.reason for r in results.values() if r.status != "loaded")
