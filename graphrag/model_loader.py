"""The models a query needs, loaded once per process, and `warm_up()`, which loads them all
before a workspace serves its first question.

Measured on the 2-core box (sample workspace, MiniLM on torch): a cold `graphrag query` spent
~1 s importing graphrag, ~2 s importing torch, ~4 s loading MiniLM through transformers,
~1.5 s importing and loading spaCy and ~2 s importing lancedb; answering took ~0.3 s. The
loads are independent, so `warm_up` runs them on two threads (torch and file reads release
the GIL), which takes the slowest of them rather than their sum.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from graphrag.errors import GraphRAGError

if TYPE_CHECKING:
    from spacy.language import Language

    from graphrag.core import GraphRAG

log = logging.getLogger(__name__)

_spacy_lock = threading.Lock()
_spacy: dict[tuple[str, tuple[str, ...]], "Language"] = {}

# Retrieval of a made-up question with given keywords: it touches the embedder, the vector
# tables and the graph exactly as a real query does, and calls no chat model.
_PROBE_QUESTION = "warm-up"


def spacy_pipeline(name: str, *, exclude: tuple[str, ...] = ()) -> "Language":
    """`spacy.load(name)` once per process (a load is ~0.5 s and ~50 MB); threads that ask
    for it at the same time wait for the one load."""
    key = (name, tuple(sorted(exclude)))
    with _spacy_lock:
        nlp = _spacy.get(key)
        if nlp is None:
            from graphrag.spacy_import import import_spacy

            nlp = _spacy[key] = import_spacy().load(name, exclude=list(exclude))
        return nlp


def warm_up(rag: "GraphRAG", mode: str | None = None) -> dict[str, float]:
    """Loads what answering a question in `mode` (default: the configured mode) needs: the
    keyword model (spaCy when there is no chat model), the embedder, the vector tables and
    the graph. Returns seconds per part; a part that fails is logged and left to the query,
    which then reports the error itself."""
    from graphrag.query.result import Keywords

    timings: dict[str, float] = {}

    def timed(part: str, load: object) -> None:
        started = time.perf_counter()
        try:
            load()  # type: ignore[operator]
        except GraphRAGError as exc:  # e.g. an unknown mode: the query says so itself
            log.debug("warm-up of %s skipped: %s", part, exc)
        except Exception as exc:  # the query that needs it raises the real error
            log.warning("warm-up of %s failed: %s: %s", part, type(exc).__name__, exc)
        timings[part] = round(time.perf_counter() - started, 3)

    engine = rag.query_engine
    probe = Keywords(high_level=("warm",), low_level=("up",), source="given")

    def keywords() -> None:
        if engine.keyword_extractor.chat is None:
            engine.keyword_extractor.nlp  # noqa: B018 - the cached property loads spaCy

    def retrieval() -> None:
        engine.retrieve(_PROBE_QUESTION, mode, 1, keywords=probe)
        engine.clear_query_cache()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="warm-up") as pool:
        for future in [pool.submit(timed, "keywords", keywords), pool.submit(timed, "retrieval", retrieval)]:
            future.result()
    timings["total"] = round(time.perf_counter() - started, 3)
    return timings
