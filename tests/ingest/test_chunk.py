"""Token windows: bounded, overlapping, deterministic, and never cutting a character or a word."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from graphrag.ingest.chunk import chunk_document
from graphrag.models import Chunk, Document, chunk_id
from graphrag.tokens import count_tokens, encoding

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_docs() -> list[Document]:
    return [Document.from_text(p.read_text(encoding="utf-8"), str(p)) for p in sorted(SAMPLE_DIR.glob("*.txt"))]


def spans(doc: Document, chunks: list[Chunk]) -> list[tuple[int, int]]:
    """Where each chunk sits in the document (chunks are stripped slices of it, in order)."""
    out, pos = [], 0
    for chunk in chunks:
        start = doc.text.find(chunk.text, pos)
        assert start >= 0, f"chunk {chunk.order} is not a slice of the document"
        out.append((start, start + len(chunk.text)))
        pos = start + 1
    return out


@pytest.mark.parametrize(("size", "overlap"), [(1200, 100), (200, 20), (64, 0), (16, 8)])
def test_windows_stay_within_size_and_cover_the_document(
    sample_docs: list[Document], size: int, overlap: int
) -> None:
    doc = sample_docs[0]
    chunks = chunk_document(doc, size, overlap)
    assert len(chunks) > 1
    for chunk in chunks:
        assert 0 < chunk.n_tokens <= size
        assert chunk.n_tokens == count_tokens(chunk.text)
    # Nothing but whitespace falls between consecutive windows.
    located = spans(doc, chunks)
    assert not doc.text[: located[0][0]].strip() and not doc.text[located[-1][1] :].strip()
    for (_, end), (start, _) in zip(located, located[1:]):
        assert start <= end or not doc.text[end:start].strip()


def test_consecutive_windows_overlap_by_about_overlap_tokens(sample_docs: list[Document]) -> None:
    doc = sample_docs[1]
    chunks = chunk_document(doc, 300, 50)
    located = spans(doc, chunks)
    for (_, end), (start, _) in zip(located, located[1:]):
        shared = count_tokens(doc.text[start:end])
        # The next window starts at the first word start after `end - overlap` (+1:
        # re-encoding a slice can merge one token differently at its edge).
        assert 40 <= shared <= 51, shared


def test_no_overlap_means_adjacent_windows(sample_docs: list[Document]) -> None:
    doc = sample_docs[2]
    located = spans(doc, chunk_document(doc, 150, 0))
    for (_, end), (start, _) in zip(located, located[1:]):
        assert start >= end and not doc.text[end:start].strip()


def test_ids_order_and_determinism(sample_docs: list[Document]) -> None:
    doc = sample_docs[3]
    first = chunk_document(doc, 200, 30)
    again = chunk_document(Document.from_text(doc.text, "elsewhere.txt"), 200, 30)
    assert first == again  # same text, same chunks, whatever the source
    assert [c.order for c in first] == list(range(len(first)))
    assert all(c.id == chunk_id(doc.id, c.text) and c.document_id == doc.id for c in first)
    other = Document.from_text(doc.text + " An epilogue.", "x")
    assert chunk_document(other, 200, 30)[0].id != first[0].id  # ids are per document


def test_windows_end_at_word_boundaries() -> None:
    # One long paragraph of words of varying length: no paragraph breaks to help.
    words = [("antidisestablishment" if i % 7 == 0 else "word") + str(i) for i in range(3000)]
    doc = Document.from_text(" ".join(words), "words.txt")
    chunks = chunk_document(doc, 100, 20)
    vocabulary = set(words)
    for chunk in chunks:
        assert set(chunk.text.split()) <= vocabulary, "a word was cut"


def test_windows_prefer_paragraph_then_sentence_breaks() -> None:
    enc = encoding()
    sentence = "The quick brown fox jumps over the lazy dog. "
    per_sentence = len(enc.encode_ordinary(sentence))  # 10 tokens
    paragraph = (sentence * 9).strip()  # ~90 tokens
    doc = Document.from_text("\n\n".join([paragraph] * 10), "paras.txt")
    # A paragraph ends ~8 tokens before every 100-token limit: within the last 15%.
    for chunk in chunk_document(doc, 100, 0):
        assert chunk.text == paragraph
    # With no paragraph break near the limit, the cut lands after a full stop.
    flat = Document.from_text((sentence * 100).strip(), "flat.txt")
    for chunk in chunk_document(flat, 10 * per_sentence + 5, 0)[:-1]:
        assert chunk.text.endswith("dog.")


@pytest.mark.parametrize("size", [16, 32, 100])
def test_multibyte_text_is_never_cut_inside_a_character(size: int) -> None:
    text = ("日本語のテキストです。これは文です。😀🎉 emoji 👨‍👩‍👧‍👦 family, café naïve e\u0301, 한국어 문장. " * 40).strip()
    doc = Document.from_text(text, "unicode.txt")
    chunks = chunk_document(doc, size, size // 4)
    assert len(chunks) > 1
    for chunk in chunks:
        assert "\ufffd" not in chunk.text
        assert chunk.text in text
        assert chunk.n_tokens <= size
    if size >= 32:  # room enough to keep emoji sequences and accents whole
        for chunk in chunks:
            assert not chunk.text.startswith(("\u200d", "\u0301")) and not chunk.text.endswith("\u200d")


def test_cjk_without_spaces_is_cut_after_a_full_stop() -> None:
    text = "これは日本語の文です。" * 200  # 10 tokens a sentence
    chunks = chunk_document(Document.from_text(text, "ja.txt"), 64, 16)
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("。")
        assert chunk.text.startswith("これ")  # the overlap starts at a sentence too


def test_short_empty_and_repetitive_documents() -> None:
    short = Document.from_text("  A short note.\n", "short.txt")
    [only] = chunk_document(short, 1200, 100)
    assert (only.text, only.order, only.n_tokens) == ("A short note.", 0, 4)
    assert chunk_document(Document.from_text("", "empty.txt"), 100, 10) == []
    assert chunk_document(Document.from_text(" \n\n ", "blank.txt"), 100, 10) == []
    # Identical windows (boilerplate repeated) are kept once.
    repeated = chunk_document(Document.from_text("same words " * 2000, "rep.txt"), 50, 0)
    assert len({c.id for c in repeated}) == len(repeated)
    assert len(repeated) < 2 * 2000 / 50


def test_invalid_sizes_are_rejected() -> None:
    doc = Document.from_text("text", "t.txt")
    for size, overlap in [(0, 0), (10, 10), (10, -1)]:
        with pytest.raises(ValueError):
            chunk_document(doc, size, overlap)


def test_the_sample_corpus_chunks_fast(sample_docs: list[Document]) -> None:
    encoding()  # loading the BPE ranks once is not the chunker's cost
    started = time.perf_counter()
    chunks = [c for doc in sample_docs for c in chunk_document(doc, 1200, 100)]
    elapsed = time.perf_counter() - started
    assert sum(len(d.text) for d in sample_docs) > 150_000
    assert len(chunks) >= 35
    assert elapsed < 0.5, f"chunking the sample corpus took {elapsed:.2f}s"
