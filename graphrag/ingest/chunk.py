"""Split a document into overlapping token windows (cl100k_base, offline).

Windows are cut on token boundaries, but only where the byte offset is also a character
boundary: tiktoken's byte-level BPE splits some multi-byte characters (CJK, emoji) across
tokens, and decoding such a slice would yield U+FFFD. Within the last ~15% of a window the
cut moves back to the best natural boundary (paragraph > sentence > whitespace), so words
are not split; the next window starts ~`overlap` tokens earlier, at the start of a word.
"""

from __future__ import annotations

import math
import unicodedata
from itertools import accumulate

from graphrag.models import Chunk, Document, chunk_id
from graphrag.tokens import encoding

BOUNDARY_LOOKBACK = 0.15

_WHITESPACE = frozenset(b" \t\n\r\f\v")
_SENTENCE_END = frozenset(".!?…。！？")
_CLOSERS = "\"')]»”’」』）"
_NO_BOUNDARY, _SPACE, _SENTENCE, _PARAGRAPH = range(4)
_ZWJ = "\u200d".encode()
# Code points that attach to the previous character: cutting before them would split an
# emoji sequence or strip an accent (categories M* are combining marks).
_JOINERS = frozenset("\u200d\u20e3") | {chr(c) for c in range(0xFE00, 0xFE10)} | {chr(c) for c in range(0x1F3FB, 0x1F400)}


def chunk_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    """Token windows of at most `size` tokens overlapping by about `overlap` tokens.

    Chunk ids are `chunk_id(doc.id, text)`, so identical inputs give identical chunks;
    a window whose text repeats an earlier one (boilerplate) is dropped.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"need size >= 1 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for text in _windows(doc.text, size, overlap):
        cid = chunk_id(doc.id, text)
        if cid in seen:
            continue
        seen.add(cid)
        n_tokens = len(encoding().encode_ordinary(text))
        chunks.append(Chunk(id=cid, document_id=doc.id, text=text, order=len(chunks), n_tokens=n_tokens))
    return chunks


def _windows(text: str, size: int, overlap: int) -> list[str]:
    enc = encoding()
    tokens = enc.encode_ordinary(text)
    if not tokens:
        return []
    data = text.encode("utf-8")
    # offsets[i] = byte offset where token i starts; offsets[n] = len(data).
    offsets = [0, *accumulate(len(b) for b in enc.decode_tokens_bytes(tokens))]
    n = len(tokens)
    cutter = _Cutter(data, offsets)
    lookback = max(1, math.ceil(size * BOUNDARY_LOOKBACK))

    windows: list[str] = []
    start = 0
    while start < n:
        end = n if n - start <= size else cutter.best_end(start, start + size, lookback)
        piece = data[offsets[start] : offsets[end]].decode("utf-8").strip()
        # Re-encoding a slice can merge differently at its edges; never exceed `size`.
        while len(enc.encode_ordinary(piece)) > size:
            shorter = cutter.latest_boundary(start, end - 1)
            if shorter is None:
                break
            end = shorter
            piece = data[offsets[start] : offsets[end]].decode("utf-8").strip()
        if piece:
            windows.append(piece)
        if end >= n:
            break
        start = cutter.next_start(max(end - overlap, start + 1), end)
    return windows


class _Cutter:
    """Boundary queries over the token offsets of one text."""

    def __init__(self, data: bytes, offsets: list[int]) -> None:
        self.data = data
        self.offsets = offsets

    def is_char_boundary(self, i: int, *, cluster: bool = True) -> bool:
        """True when a cut before token i does not split a character, nor (with
        `cluster`) an emoji ZWJ sequence, a skin tone or a base + combining accent."""
        data, off = self.data, self.offsets[i]
        if off >= len(data) or off == 0:
            return True
        lead = data[off]
        if lead & 0xC0 == 0x80:  # UTF-8 continuation byte: inside a character
            return False
        if not cluster:
            return True
        if data[off - 3 : off] == _ZWJ:
            return False
        if lead < 0xCC:  # below U+0300 nothing combines
            return True
        width = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        char = data[off : off + width].decode("utf-8", errors="ignore")[:1]
        return not (char in _JOINERS or unicodedata.category(char).startswith("M"))

    def latest_boundary(self, start: int, limit: int) -> int | None:
        """The latest cut in (start, limit]: whole clusters if possible, else whole chars."""
        for cluster in (True, False):
            for i in range(limit, start, -1):
                if self.is_char_boundary(i, cluster=cluster):
                    return i
        return None

    def end_at_or_before(self, limit: int, start: int) -> int:
        """`latest_boundary`, or past `limit` when one character spans all of its tokens
        (possible only for windows of a few tokens)."""
        found = self.latest_boundary(start, limit)
        if found is not None:
            return found
        i = limit + 1
        while not self.is_char_boundary(i, cluster=False):
            i += 1
        return i

    def best_end(self, start: int, limit: int, lookback: int) -> int:
        """The end (exclusive token index, <= limit) with the strongest boundary in the
        last `lookback` tokens, the latest among equals; else the latest char boundary."""
        best, best_rank = -1, _NO_BOUNDARY
        for i in range(limit, max(start + 1, limit - lookback) - 1, -1):
            if not self.is_char_boundary(i):
                continue
            if best < 0:
                best = i
            rank = self._rank(i)
            if rank > best_rank:
                best, best_rank = i, rank
                if rank == _PARAGRAPH:
                    break
        return best if best > 0 else self.end_at_or_before(limit, start)

    def next_start(self, target: int, end: int) -> int:
        """The first token at or after `target` that starts a word or a sentence; else a
        char boundary."""
        for i in range(target, end):
            if self.is_char_boundary(i) and self._rank(i) > _NO_BOUNDARY:
                return i
        for cluster in (True, False):
            for i in range(target, end):
                if self.is_char_boundary(i, cluster=cluster):
                    return i
        return end

    def _rank(self, i: int) -> int:
        """How good a cut at token boundary i is, judged by the whitespace run around it."""
        data, off = self.data, self.offsets[i]
        lo = off
        while lo > 0 and data[lo - 1] in _WHITESPACE:
            lo -= 1
        hi = off
        while hi < len(data) and data[hi] in _WHITESPACE:
            hi += 1
        gap = data[lo:hi]
        if gap.count(b"\n") >= 2:
            return _PARAGRAPH
        tail = data[max(0, lo - 12) : lo].decode("utf-8", errors="ignore").rstrip(_CLOSERS)
        end_char = tail[-1:]
        # ASCII punctuation ends a sentence only before whitespace ("3.14", "e.g.x");
        # CJK text has no spaces, its full stop is enough.
        if end_char in _SENTENCE_END and (gap or not end_char.isascii()):
            return _SENTENCE
        return _SPACE if gap else _NO_BOUNDARY
