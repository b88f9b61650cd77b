"""bench/scale.py runs at a toy size and its synthetic corpus has the size it claims."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("scale", REPO / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entity_names_are_distinct():
    bench = _bench()
    names = [bench.entity_name(i) for i in range(30**3)]
    assert len(set(names)) == len(names)


def test_scale_bench_measures_a_toy_workspace(capsys):
    bench = _bench()
    row = bench.measure(40, "networkx", None, repeat=1)
    # the derived extraction finds the generated names: about the target, plus the probes' new ones
    assert 40 <= row["entities"] <= 40 + 6 and row["relations"] > row["entities"]
    assert row["documents"] == 4 and row["add_full"] > 0 and row["add_empty"] > 0
    assert row["delete_full"] > 0 and row["delete_empty"] > 0 and len(row["deletes_full"]) == 7
    assert set(row["retrieval_p50"]) == {"naive", "local", "global", "hybrid", "mix", "ppr", "auto"}
    bench.show([row, {**row, "size": 80}])
    assert "full/empty" in capsys.readouterr().out


def test_a_kept_workspace_is_built_once_and_measured_again(tmp_path):
    bench = _bench()
    keep = tmp_path / "networkx-40"
    built = bench.measure(40, "networkx", None, repeat=1, keep=keep)
    assert (keep / "build.json").is_file() and (keep / "ws").is_dir()
    again = bench.measure(40, "networkx", None, repeat=1, keep=keep)
    assert again["kept"] is True and "kept" not in built
    # the build's figures are the saved ones (nothing was indexed again); retrieval is new
    assert again["index_seconds"] == built["index_seconds"] and again["entities"] == built["entities"]
    assert set(again["retrieval_p50"]) == set(built["retrieval_p50"])
    assert again["delete_full"] > 0 and again["delete_empty"] > 0  # measured again on the kept workspace
    # a build that did not finish (no build.json) is redone from scratch
    (keep / "build.json").unlink()
    rebuilt = bench.measure(40, "networkx", None, repeat=1, keep=keep)
    assert "kept" not in rebuilt and rebuilt["entities"] == built["entities"]
