"""bench/query_latency.py runs and reports every mode (on a small corpus)."""

from __future__ import annotations

import importlib.util

from graphrag.query.result import QUERY_MODES
from tests.conftest import REPO


def test_query_latency_bench_reports_every_mode(write_docs, sample_texts, capsys) -> None:
    spec = importlib.util.spec_from_file_location("query_latency", REPO / "bench" / "query_latency.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    corpus = write_docs(sample_texts)[0].parent
    figures = bench.run(corpus, embedder="hashing", repeat=1, questions=bench.QUESTIONS[:3])
    assert list(figures["modes"]) == list(QUERY_MODES)
    for mode in figures["modes"].values():
        assert 0 < mode["median"] <= mode["p95"]
        assert mode["stages"]["embed"] > 0
    bench.show(figures)
    assert "median by stage" in capsys.readouterr().out
