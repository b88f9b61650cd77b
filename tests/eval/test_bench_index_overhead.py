"""bench/index_overhead.py runs and its figures add up (on a small corpus)."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("index_overhead", REPO / "bench" / "index_overhead.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_index_overhead_counts_calls_and_characters_within_the_concurrency(write_docs, sample_texts, capsys):
    bench = _bench()
    corpus = write_docs(sample_texts)[0].parent
    result = bench.run(corpus, latency=0.01, concurrency=2, chunk_size=300)
    calls = {purpose: usage["calls"] for purpose, usage in result["calls"].items()}
    assert calls["extract"] == result["report"].chunks_extracted > 3
    assert set(result["chars"]) == set(calls)
    assert result["peak"] == 2  # calls overlapped, never beyond the bound
    assert result["chars_in"] == sum(len(t) for t in sample_texts.values())
    bench.show("small", result, 0.01, 2)
    printed = capsys.readouterr().out
    assert "wall / ideal" in printed and "per corpus character" in printed
