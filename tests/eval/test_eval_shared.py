"""The eval on a slice of the real MuSiQue dev set (../shared): 10 questions, their gold
passages and distractors, offline spaCy and replayed gpt-3.5 extractions. The full run is
the documented command in docs/quality.md."""

from __future__ import annotations

import pytest

from graphrag.eval.dataset import load_dataset
from graphrag.eval.run import BM25_MODE, EvalOptions, run_eval
from graphrag.query.result import QUERY_MODES
from tests.conftest import SHARED_DIR

MUSIQUE = SHARED_DIR / "data" / "eval" / "musique-dev"
OPENIE = MUSIQUE / "openie_gpt-3.5-turbo-1106.jsonl"


@pytest.mark.shared
@pytest.mark.parametrize("extractor", ["spacy", "replay"])
def test_musique_slice_runs_end_to_end_in_every_mode(extractor, make_settings, tmp_path):
    dataset = load_dataset(MUSIQUE).sliced(questions=10, passages=60)
    assert len(dataset.questions) == 10 and len(dataset.passages) == 60
    kind = "spacy" if extractor == "spacy" else f"replay:{OPENIE}"
    settings = make_settings(extractor=kind, chunk_size=1200, chunk_overlap=100)
    result = run_eval(dataset, settings, EvalOptions(cache_dir=tmp_path / "cache"))

    assert result["index"]["documents"] == 60 and result["index"]["passages_split"] == 0
    assert result["index"]["entities"] > 100 and result["index"]["relations"] > 50
    for mode in [BM25_MODE, *QUERY_MODES]:
        summary = result["summary"][mode]
        assert summary["errors"] == 0
        assert summary["recall@10"] > 0.2, (mode, summary)
    # Term overlap alone finds most gold passages among 60 (BM25 is the floor to beat).
    assert result["summary"][BM25_MODE]["recall@5"] >= 0.5
    if extractor == "replay":
        replay = result["index"]["replay"]
        assert replay["passages_with_record"] == 60 and replay["file"]["malformed_triples"] == 185
