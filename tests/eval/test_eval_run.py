"""`graphrag eval` end to end on a tiny synthetic dataset, in every mode, offline and with a
scripted chat model answering and judging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrag.cli import app
from graphrag.errors import ConfigError
from graphrag.eval.dataset import load_dataset
from graphrag.eval.report import markdown_report, write_results
from graphrag.eval.run import BM25_MODE, EvalOptions, run_eval
from graphrag.query.result import QUERY_MODES
from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder

ALL_MODES = [BM25_MODE, *QUERY_MODES]


def _check_rows(result: dict, n_questions: int) -> None:
    assert len(result["questions"]) == n_questions
    for row in result["questions"]:
        assert list(row["modes"]) == ALL_MODES
        for mode, entry in row["modes"].items():
            assert "error" not in entry, (mode, entry)
            ranked = entry["ranked"]
            assert len(ranked) == len(set(ranked))  # a passage counts once
            for pid, rank in entry["gold_ranks"].items():
                assert rank is None or ranked[rank - 1] == pid
            for name in ("recall@2", "recall@5", "recall@10", "all@5", "mrr", "ndcg@5"):
                assert 0.0 <= entry[name] <= 1.0


@pytest.mark.parametrize("extractor", ["spacy", "replay"])
def test_offline_eval_scores_every_mode_and_bm25(extractor, tiny_dataset, tiny_openie, make_settings, tmp_path):
    dataset = load_dataset(tiny_dataset)
    kind = "spacy" if extractor == "spacy" else f"replay:{tiny_openie}"
    result = run_eval(dataset, make_settings(extractor=kind), EvalOptions(cache_dir=tmp_path / "cache"))

    assert list(result["summary"]) == ALL_MODES
    _check_rows(result, 4)
    # 10 passages, 20 ranked: dense retrieval ranks them all.
    assert result["summary"]["naive"]["recall@10"] == 1.0
    assert result["summary"]["bm25"]["recall@5"] >= 0.75
    assert all(result["summary"][m]["recall@10"] > 0 for m in QUERY_MODES)
    assert set(result["comparisons"]) == set(ALL_MODES) - {"naive"}
    assert result["index"]["documents"] == 10 and result["index"]["chunks"] == 10
    assert result["config"]["answers"] is False and "em" not in result["summary"]["naive"]
    if extractor == "replay":
        replay = result["index"]["replay"]
        assert (replay["passages_with_record"], replay["passages_without_record"]) == (9, 1)
        assert replay["malformed_triples"] == 2
        # "Alan Turing" is an entity of the replayed triples: local mode ranks its passage first.
        row = result["questions"][0]
        assert row["modes"]["local"]["gold_ranks"][row["gold"][0]] == 1

    table = markdown_report(result)
    for label in ("bm25 (LanceDB FTS)", "naive (dense)", "| local |", "| ppr |", "R@2", "NDCG@5"):
        assert label in table
    written = write_results(result, tmp_path / "out")
    assert json.loads(written[0].read_text())["summary"] == result["summary"]


def test_a_second_run_reuses_embeddings_and_extractions_from_the_cache(tiny_dataset, tiny_openie, make_settings, tmp_path):
    dataset = load_dataset(tiny_dataset).sliced(questions=2)
    settings = make_settings(extractor=f"replay:{tiny_openie}")
    options = EvalOptions(modes=["naive", "mix"], cache_dir=tmp_path / "cache")
    first = run_eval(dataset, settings, options)
    second = run_eval(dataset, settings, options)
    assert first["index"]["embedder_embedded_count"] > 0 and first["index"]["extractions_from_cache"] == 0
    assert second["index"]["embedder_embedded_count"] == 0
    assert second["index"]["extractions_from_cache"] == 10 and second["index"]["chunks_extracted"] == 0
    def scores(result: dict) -> dict:
        return {m: {k: v for k, v in s.items() if k != "median_ms"} for m, s in result["summary"].items()}

    assert scores(second) == scores(first)


def _responder(messages, purpose: str) -> str:
    if purpose.startswith("judge_"):
        return '{"score": 5, "reason": "fine"}'
    if purpose == "answer":
        question = messages[-1]["content"].rpartition("# Question")[2]
        if "Alan Turing" in question:
            return "King Henry VI founded it [1]. More text [2]."
        if "Ada Lovelace" in question:
            return "Charles Babbage was born in London [1]."
        return "I do not know [1]."
    return derived_extraction_responder(messages, purpose)


def test_with_a_chat_model_answers_are_scored_and_judged(tiny_dataset, tiny_openie, make_settings, tmp_path):
    chat = ScriptedChatModel(_responder)
    dataset = load_dataset(tiny_dataset)
    options = EvalOptions(judge=True, use_cache=False)
    result = run_eval(dataset, make_settings(extractor=f"replay:{tiny_openie}"), options, chat=chat)

    assert result["config"]["answers"] is True and result["config"]["chat_model"] == "scripted-model"
    _check_rows(result, 4)
    mix = result["questions"][0]["modes"]["mix"]
    assert mix["short_answer"] == "King Henry VI founded it."
    # [king, henry, vi, founded, it] vs [king, henry, vi]: P = 3/5, R = 1, F1 = 3/4.
    assert (mix["em"], mix["accuracy"], mix["f1"]) == (0.0, 1.0, pytest.approx(0.75))
    assert result["questions"][1]["modes"]["naive"]["accuracy"] == 1.0
    for mode in QUERY_MODES:
        summary = result["summary"][mode]
        assert summary["accuracy"] == 0.5  # two of four questions answered right
        assert summary["faithfulness"] == summary["answer_relevance"] == summary["context_relevance"] == 1.0
    assert "em" not in result["summary"]["bm25"]  # BM25 only ranks
    purposes = set(chat.purposes())
    assert {"keywords", "answer", "judge_faithfulness", "judge_answer_relevance", "judge_context_relevance"} <= purposes
    assert "EM" in markdown_report(result) and "faithfulness" in markdown_report(result)


def test_bad_options_are_refused_before_any_work(tiny_dataset, make_settings):
    dataset = load_dataset(tiny_dataset)
    with pytest.raises(ConfigError, match="unknown mode"):
        run_eval(dataset, make_settings(extractor="spacy"), EvalOptions(modes=["naive", "magic"]))
    with pytest.raises(ConfigError, match="top_k"):
        run_eval(dataset, make_settings(extractor="spacy"), EvalOptions(ks=[2, 50]))
    with pytest.raises(ConfigError, match="chat model"):
        run_eval(dataset, make_settings(extractor="spacy"), EvalOptions(judge=True, use_cache=False))


def test_the_cli_writes_results_and_prints_json(tiny_dataset, tiny_openie, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [
        "eval", str(tiny_dataset), "--extractor", f"replay:{tiny_openie}", "--embedder", "hashing",
        "--modes", "naive,ppr", "--k", "1,3", "--limit", "2", "--cache-dir", str(tmp_path / "cache"), "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["summary"]) == ["bm25", "naive", "ppr"] and "recall@3" in data["summary"]["naive"]
    assert data["config"]["headline_k"] == 3 and len(data["questions"]) == 2
    folder = tmp_path / "eval-results" / "tiny-replay-openie"
    assert (folder / "results.json").is_file() and "| naive (dense) |" in (folder / "results.md").read_text()

    bad = CliRunner().invoke(app, ["eval", str(tmp_path / "nowhere"), "--embedder", "hashing"])
    assert bad.exit_code == 1 and "not a folder" in bad.output


def test_auto_reports_the_mode_it_picked_per_question_type(tiny_dataset, make_settings, tmp_path):
    dataset = load_dataset(tiny_dataset)
    options = EvalOptions(modes=["naive", "local", "mix", "auto"], cache_dir=tmp_path / "cache")
    result = run_eval(dataset, make_settings(extractor="spacy"), options)
    routes = result["routes"]
    assert sum(g["n"] for g in routes.values()) == len(dataset.questions)
    for g in routes.values():
        assert sum(g["picked"].values()) == g["n"] and set(g["picked"]) <= {"naive", "local", "global", "hybrid", "mix", "ppr"}
        assert g["best_mode"] in ("naive", "local", "mix")
    for row in result["questions"]:
        assert row["modes"]["auto"]["route"]["kind"] in ("lookup", "bridge", "comparison", "theme")
    assert "Mode auto by question type" in markdown_report(result)
    assert result["config"]["lexical"] is False  # the default: off (see settings.query_lexical)
    # The multi-hop settings a run used are in its results and its report.
    assert (result["config"]["decompose"], result["config"]["bridge_mass"], result["config"]["bridge_rewrite"]) == (True, 0.5, True)
    assert "decompose True, bridge_mass 0.5, bridge_rewrite True" in markdown_report(result)


def test_the_llm_rerank_runs_inside_the_eval_with_the_scripted_model(tiny_dataset, tiny_openie, make_settings):
    """A smoke test of the rerank path (no cross-encoder ships in a PyPI package, see
    query/rerank.py): the scripted model orders every candidate list backwards, so every
    question goes through the reranker and the ranking it scores is the model's."""

    def backwards(messages, purpose: str) -> str:
        if purpose == "rerank":
            n = messages[-1]["content"].count("<<<DOCUMENT ")
            return json.dumps({"ranking": list(range(n, 0, -1))})
        return _responder(messages, purpose)

    dataset = load_dataset(tiny_dataset)
    options = EvalOptions(modes=["naive"], bm25=False, answers=False, use_cache=False)
    plain = run_eval(dataset, make_settings(extractor=f"replay:{tiny_openie}"), options)
    chat = ScriptedChatModel(backwards)
    settings = make_settings(extractor=f"replay:{tiny_openie}", query_rerank="llm", query_rerank_candidates=20)
    reranked = run_eval(dataset, settings, options, chat=chat)

    assert reranked["config"]["rerank"] == "llm"
    assert chat.purposes().count("rerank") == len(dataset.questions)
    for before, after in zip(plain["questions"], reranked["questions"]):
        assert after["modes"]["naive"]["ranked"] == before["modes"]["naive"]["ranked"][::-1]
