"""The small things a newcomer meets first: --version, help without `<bool>`, a dry run that
writes nothing and prices in a currency, `stats` as a table, parquet export paths, and a
folder run that says which files it did not read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphrag import __version__
from tests.cli.support import graphrag


def test_version() -> None:
    proc = graphrag("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"graphrag {__version__}"


@pytest.mark.parametrize("command", [[], ["index"], ["eval"], ["query"]])
def test_help_shows_no_bool_metavars(command: list[str]) -> None:
    proc = graphrag(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--help" in proc.stdout and "<bool>" not in proc.stdout


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Ada Lovelace met Charles Babbage in London in 1833.", encoding="utf-8")
    (corpus / "b.md").write_text("# Turing\nAlan Turing worked at Bletchley Park.", encoding="utf-8")
    for name in ("data.csv", "more.csv", "logo.png", "Makefile"):
        (corpus / name).write_text("x", encoding="utf-8")
    (corpus / ".hidden.csv").write_text("x", encoding="utf-8")
    return corpus


def test_dry_run_writes_nothing_and_prices_in_a_currency(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    workspace = tmp_path / "ws"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"GRAPHRAG_PRICE_PROMPT_PER_1K": "0.5", "GRAPHRAG_PRICE_CURRENCY": "EUR", "TMPDIR": str(scratch)}
    proc = graphrag("index", str(corpus), "--dry-run", "--workspace", str(workspace), env=env)
    assert proc.returncode == 0, proc.stderr
    assert not workspace.exists()  # no state.sqlite, no vectors/
    assert "0.0000 EUR" in proc.stdout
    estimate = json.loads(graphrag("index", str(corpus), "--dry-run", "--json", "--workspace", str(workspace),
                                   env=env).stdout)
    assert estimate["documents_to_index"] == 2 and estimate["currency"] == "EUR"
    assert estimate["files_skipped_by_type"] == {".csv": 2, ".png": 1, "(no extension)": 1}
    assert not workspace.exists()
    assert not list(scratch.glob("graphrag-dry-run-*"))  # the scratch workspace is removed


def test_index_reports_skipped_types_stats_table_and_parquet_files(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    workspace = tmp_path / "ws"
    proc = graphrag("index", str(corpus), "--workspace", str(workspace))
    assert proc.returncode == 0, proc.stderr
    assert "skipped 4 files of other types: .csv 2" in proc.stderr and ".png 1" in proc.stderr
    assert "(no extension) 1" in proc.stderr

    stats = graphrag("stats", "--workspace", str(workspace))
    assert stats.returncode == 0 and "{" not in stats.stdout  # a table, not a Python dict
    assert "documents" in stats.stdout and "entity types" in stats.stdout
    data = json.loads(graphrag("stats", "--json", "--workspace", str(workspace)).stdout)
    assert data["documents"] == 2

    out = tmp_path / "export" / "graph.parquet"
    proc = graphrag("export", "--format", "parquet", "--out", str(out), "--workspace", str(workspace))
    assert proc.returncode == 0, proc.stderr
    assert not out.exists()
    entities, relations = out.with_name("graph.entities.parquet"), out.with_name("graph.relations.parquet")
    assert entities.is_file() and relations.is_file()
    assert str(entities) in proc.stdout and str(relations) in proc.stdout
    folder = tmp_path / "tables"
    graphrag("export", "--format", "parquet", "--out", str(folder), "--workspace", str(workspace))
    assert sorted(p.name for p in folder.iterdir()) == ["entities.parquet", "relations.parquet"]
    proc = graphrag("export", "--workspace", str(workspace), cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "graph.json").is_file()


def test_eval_output_has_no_lance_warnings(tmp_path: Path) -> None:
    from tests.eval.conftest import write_dataset

    dataset = write_dataset(tmp_path / "tiny")
    proc = graphrag("eval", str(dataset), "--modes", "naive", "--embedder", "hashing", "--extractor", "spacy",
                    "--no-answers", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "| naive" in proc.stdout or "naive" in proc.stdout
    assert "WARN" not in proc.stderr and "WARN" not in proc.stdout, proc.stderr
