"""Turn paths (files, directories, globs) into documents, one outcome per source file.

Sources are identified by their absolute, symlink-resolved path: the same file reached
through `./docs`, `docs/` or a symlink is one source, and the `source` stored with a
document does not depend on the directory the command ran from. A `.jsonl` record's source
is `<path>#<id>`.

Nothing in one file affects another: `load_source` never raises, every problem becomes a
`failed` (or `skipped`) result whose reason says what to do.
"""

from __future__ import annotations

import glob
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from graphrag.errors import LoadError
from graphrag.models import Document
from graphrag.settings import Settings

LoadStatus = Literal["loaded", "skipped", "failed"]

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".jsonl"}

_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192
# Bytes that never occur in text we index; \t \n \f \r and ESC (ANSI colours in logs) do.
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 12, 13, 27}
_GLOB_CHARS = re.compile(r"[*?\[]")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@dataclass
class LoadResult:
    """What became of one source file.

    `errors` lists per-record problems of a `.jsonl` file ("line N: ...") whose other
    records loaded; a file-level problem is `reason` with status `failed` or `skipped`.
    """

    source: str
    documents: list[Document] = field(default_factory=list)
    status: LoadStatus = "loaded"
    reason: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "loaded"


# --------------------------------------------------------------------------- discovery


def iter_sources(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expands paths into the sorted, deduplicated list of files to load.

    A file named explicitly is always returned (an unsupported type then fails loudly in
    `load_source`); directories are walked recursively and glob matches are filtered to
    supported types, skipping hidden entries (`.git`, `.graphrag`, ...). A path that does
    not exist, or a pattern matching nothing, is returned as given so that loading it
    reports "no such file" instead of silently indexing nothing.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found.update(_walk(path))
        elif path.exists() or path.is_symlink():
            found.add(path.resolve())
        elif _GLOB_CHARS.search(str(raw)):
            matches = _expand_glob(str(path))
            found.update(matches if matches else [path.absolute()])
        else:
            found.add(path.absolute())
    return sorted(found)


def _expand_glob(pattern: str) -> set[Path]:
    matches: set[Path] = set()
    for hit in glob.glob(pattern, recursive=True):
        p = Path(hit)
        if p.is_dir():
            matches.update(_walk(p))
        elif p.is_file() and _is_supported(p):
            matches.add(p.resolve())
    return matches


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            p = Path(dirpath, name)
            if not name.startswith(".") and _is_supported(p) and p.is_file():
                yield p.resolve()


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


# --------------------------------------------------------------------------- loading


def load_paths(paths: Iterable[str | os.PathLike[str]], settings: Settings) -> Iterator[LoadResult]:
    """`load_source` over `iter_sources(paths)`, lazily: one file in memory at a time."""
    for path in iter_sources(paths):
        yield load_source(path, settings)


def load_source(path: str | os.PathLike[str], settings: Settings) -> LoadResult:
    """Loads one file. Never raises: failures come back as `failed` results with a reason."""
    p = Path(path)
    source = str(p.resolve() if p.exists() else p.absolute())
    try:
        return _load(p, source, settings.max_file_bytes)
    except LoadError as exc:
        return LoadResult(source, status="failed", reason=str(exc))
    except OSError as exc:
        return LoadResult(source, status="failed", reason=f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # parsers (lxml, pypdf) raise anything on malformed input
        return LoadResult(
            source, status="failed", reason=f"could not parse {p.suffix or 'file'}: {type(exc).__name__}: {exc}"
        )


def _load(path: Path, source: str, max_bytes: int) -> LoadResult:
    if not path.exists():
        hint = " (no file matches this pattern)" if _GLOB_CHARS.search(path.name) else ""
        raise LoadError(f"no such file{hint}")
    if path.is_dir():
        raise LoadError("is a directory; pass it to iter_sources to walk it")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise LoadError(f"unsupported file type {suffix or '(no extension)'!r}; supported: {supported}")

    size = path.stat().st_size
    if suffix == ".jsonl":  # the limit applies per record: the file is streamed
        with path.open("rb") as fh:
            return _load_jsonl(fh, source, max_bytes)
    if size > max_bytes:
        raise LoadError(_too_large("file", size, max_bytes))
    if size == 0:
        return LoadResult(source, status="skipped", reason="empty file")

    data = path.read_bytes()
    if suffix == ".pdf":
        text, title = _pdf_text(data)
    elif suffix in HTML_SUFFIXES:
        _reject_binary(data)
        text, title = html_to_text(_decode_html(data))
    else:
        _reject_binary(data)
        text = _normalize_newlines(_decode_utf8(data))
        title = _markdown_title(text) if suffix != ".txt" else None

    if not text.strip():
        reason = "empty file" if suffix in TEXT_SUFFIXES else "no text content"
        return LoadResult(source, status="skipped", reason=reason)
    return LoadResult(source, [Document.from_text(text, source=source, title=title or path.name)])


# --------------------------------------------------------------------------- text checks


def _too_large(what: str, size: int, limit: int) -> str:
    return (
        f"{what} is {_human_size(size)}, over the {_human_size(limit, exact=True)} limit; "
        "raise GRAPHRAG_MAX_FILE_BYTES to index it"
    )


def _human_size(n: int, *, exact: bool = False) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if n >= scale:
            return f"{n / scale:g} {unit}" if exact else f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _reject_binary(data: bytes) -> None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("UTF-16 text is not supported; re-save the file as UTF-8")
    head = data[:_SNIFF_BYTES]
    nul = head.find(b"\x00")
    if nul >= 0:
        raise LoadError(f"binary file, not text (NUL byte at offset {nul})")
    if head:
        control = sum(1 for b in head if b in _CONTROL_BYTES)
        if control / len(head) > 0.1:
            raise LoadError(f"binary file, not text ({control / len(head):.0%} control bytes)")


def _decode_utf8(data: bytes, *, what: str = "file") -> str:
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(data) - len(body))
        line = data.count(b"\n", 0, offset) + 1
        bad = data[offset : offset + 1].hex().upper()
        raise LoadError(
            f"{what} is not valid UTF-8: byte 0x{bad} at offset {offset} (line {line}); "
            "it is probably Latin-1/Windows-1252 — re-save it as UTF-8 "
            "(e.g. iconv -f cp1252 -t utf-8)"
        ) from None


def _normalize_newlines(text: str) -> str:
    # CRLF vs LF must not change a document's content hash.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _markdown_title(text: str) -> str | None:
    match = _MD_HEADING.search(text[:4096])
    return match.group(1).strip() if match else None


_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def _decode_html(data: bytes) -> str:
    """UTF-8 first; else the charset the page declares (old pages are often windows-1252)."""
    try:
        return _normalize_newlines(_decode_utf8(data))
    except LoadError:
        match = _HTML_CHARSET.search(data[:4096])
        if not match:
            raise
        charset = match.group(1).decode("ascii")
        try:
            return _normalize_newlines(data.decode(charset))
        except (LookupError, UnicodeDecodeError):
            raise LoadError(f"not valid UTF-8, nor the declared charset {charset!r}; re-save it as UTF-8") from None


# --------------------------------------------------------------------------- HTML

# Elements that are never document content.
_HTML_DROP = frozenset(
    {"script", "style", "nav", "noscript", "template", "svg", "iframe", "canvas", "head", "button", "select"}
)
# Elements that end a paragraph (blank line after) or a line.
_HTML_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl",
     "section", "article", "header", "footer", "main", "aside", "figure", "address", "hr", "form"}
)
_HTML_LINE = frozenset({"div", "li", "tr", "dt", "dd", "caption", "figcaption", "br", "summary", "details", "body"})


def html_to_text(markup: str) -> tuple[str, str | None]:
    """Visible text of a page with its block structure kept as line breaks (paragraphs as
    blank lines, which the chunker prefers as cut points), and its title."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = None
    if soup.title and soup.title.get_text(strip=True):
        title = " ".join(soup.title.get_text().split())
    elif (h1 := soup.find("h1")) is not None and h1.get_text(strip=True):
        title = " ".join(h1.get_text().split())
    return _HtmlText().render(soup), title


class _HtmlText:
    """Iterative (not recursive) walk: real pages nest deeper than Python's recursion limit."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.inline: list[str] = []

    def render(self, root: object) -> str:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        stack: list[tuple[object, bool]] = [(root, False)]
        pre_depth = 0
        while stack:
            node, leaving = stack.pop()
            if isinstance(node, Tag):
                name = node.name.lower()
                if leaving:
                    if name == "pre":
                        pre_depth -= 1
                        self._flush(keep_blank=True)
                    self._end_block(name)
                    continue
                if name in _HTML_DROP:
                    continue
                if name in _HTML_PARAGRAPH or name in _HTML_LINE:
                    self._flush()
                if name == "pre":
                    pre_depth += 1
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.contents))
            elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
                # PreformattedString: comments, CDATA, doctype, processing instructions.
                self._text(str(node), keep_lines=pre_depth > 0)
        self._flush()
        return "\n".join(self.lines).strip("\n")

    def _text(self, text: str, *, keep_lines: bool) -> None:
        if not keep_lines:
            self.inline.append(text)
            return
        first, *rest = text.split("\n")
        self.inline.append(first)
        for line in rest:
            self._flush(keep_blank=True)
            self.inline.append(line)

    def _end_block(self, name: str) -> None:
        if name in _HTML_PARAGRAPH:
            self._flush()
            if self.lines and self.lines[-1] != "":
                self.lines.append("")
        elif name in _HTML_LINE:
            self._flush()
        elif name in ("td", "th"):
            self.inline.append(" ")

    def _flush(self, *, keep_blank: bool = False) -> None:
        raw = "".join(self.inline)
        self.inline.clear()
        line = raw.rstrip() if keep_blank else " ".join(raw.split())
        if line or (keep_blank and self.lines and self.lines[-1] != ""):
            self.lines.append(line)


# --------------------------------------------------------------------------- PDF


def _pdf_text(data: bytes) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are encrypted only to restrict editing, with an empty user password.
            try:
                decrypted = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise LoadError(f"PDF is encrypted and cannot be decrypted here ({exc}); decrypt it first (e.g. qpdf --decrypt)") from None
            if not decrypted:
                raise LoadError("PDF is encrypted with a password; decrypt it first (e.g. qpdf --password=... --decrypt in.pdf out.pdf)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except FileNotDecryptedError:
        raise LoadError("PDF is encrypted with a password; decrypt it first (e.g. qpdf --decrypt)") from None
    except PdfReadError as exc:
        raise LoadError(f"not a readable PDF ({exc})") from None

    text = _normalize_newlines("\n\n".join(p for p in pages if p))
    if not text.strip():
        raise LoadError(
            f"PDF has no extractable text ({len(pages)} pages; scanned images?); OCR it first (e.g. ocrmypdf)"
        )
    return text, (title.strip() or None) if isinstance(title, str) else None


# --------------------------------------------------------------------------- JSONL


def _load_jsonl(fh: BinaryIO, source: str, max_bytes: int) -> LoadResult:
    _reject_binary(fh.read(_SNIFF_BYTES))
    fh.seek(0)
    result = LoadResult(source)
    seen_ids: dict[str, int] = {}
    seen_texts: dict[str, int] = {}
    n_records = 0
    for lineno, line, size in _iter_lines(fh, max_bytes):
        if line is None:
            n_records += 1
            result.errors.append(f"line {lineno}: {_too_large('record', size, max_bytes)}")
            continue
        if not line.strip():
            continue
        n_records += 1
        try:
            rec_id, title, text = _parse_record(line)
            if rec_id in seen_ids:
                raise LoadError(f"duplicate id {rec_id!r} (first on line {seen_ids[rec_id]})")
            if text in seen_texts:
                raise LoadError(f"same text as line {seen_texts[text]}; skipped")
        except LoadError as exc:
            result.errors.append(f"line {lineno}: {exc}")
            continue
        seen_ids[rec_id] = seen_texts[text] = lineno
        result.documents.append(Document.from_text(text, source=f"{source}#{rec_id}", title=title or rec_id))

    if n_records == 0:
        return LoadResult(source, status="skipped", reason="empty file")
    if not result.documents:
        result.status = "failed"
        shown = "; ".join(result.errors[:3]) + ("; ..." if len(result.errors) > 3 else "")
        result.reason = f"no valid records ({len(result.errors)} bad): {shown}"
    return result


def _iter_lines(fh: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """Yields (line number, line or None when over the limit, size) without ever holding
    more than `max_bytes` of one line in memory."""
    lineno = 0
    while True:
        line = fh.readline(max_bytes + 2)  # +2: room for "\r\n" after a record at the limit
        if not line:
            return
        lineno += 1
        if len(line.rstrip(b"\r\n")) <= max_bytes:
            yield lineno, line, len(line)
            continue
        size = len(line)
        while not line.endswith(b"\n"):
            line = fh.readline(1 << 20)
            if not line:
                break
            size += len(line)
        yield lineno, None, size


def _parse_record(line: bytes) -> tuple[str, str | None, str]:
    raw = _decode_utf8(line.rstrip(b"\r\n"), what="record")
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LoadError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(rec, dict):
        raise LoadError(f'expected an object {{"id", "title", "text"}}, got {type(rec).__name__}')
    rec_id = rec.get("id")
    if isinstance(rec_id, bool) or not isinstance(rec_id, (str, int)) or str(rec_id).strip() == "":
        raise LoadError('missing "id" (a non-empty string or integer)')
    title = rec.get("title")
    if title is not None and not isinstance(title, str):
        raise LoadError(f'"title" must be a string, got {type(title).__name__}')
    text = rec.get("text")
    if not isinstance(text, str):
        raise LoadError('missing "text" (a string)')
    if not text.strip():
        raise LoadError('empty "text"')
    title = title.strip() if title else None
    body = _normalize_newlines(text)
    return str(rec_id), title, f"{title}\n{body}" if title else body
