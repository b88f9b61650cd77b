"""An evaluation result as a markdown table and as files (results.json, results.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphrag.eval.judge import CRITERIA

MODE_LABELS = {"bm25": "bm25 (LanceDB FTS)", "naive": "naive (dense)"}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _signed(value: float) -> str:
    return f"{100 * value:+.1f}"


def markdown_table(result: dict[str, Any]) -> str:
    """One row per mode: recall at every k, all@k, MRR and NDCG@k at the headline k, then
    answer and judge scores when present, the paired difference in recall@k against naive
    with its 95% interval, and the median retrieval time (without embedding the question,
    which is the same for every mode). All scores in %."""
    config = result["config"]
    ks, hk = config["ks"], config["headline_k"]
    summary, comparisons = result["summary"], result.get("comparisons", {})
    answers = any("em" in s for s in summary.values())
    judged = [c for c in CRITERIA if any(c in s for s in summary.values())]
    header = [
        "mode", *(f"R@{k}" for k in ks), f"all@{hk}", "MRR", f"NDCG@{hk}",
        *(["EM", "F1", "acc"] if answers else []),
        *(c.replace("_", " ") for c in judged),
        f"ΔR@{hk} vs naive [95% CI]" if comparisons else None, "ms/query",
    ]
    header = [h for h in header if h is not None]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for mode, s in summary.items():
        cells = [MODE_LABELS.get(mode, mode), *(_pct(s[f"recall@{k}"]) for k in ks), _pct(s[f"all@{hk}"]), _pct(s["mrr"]), _pct(s[f"ndcg@{hk}"])]
        if answers:
            cells += [_pct(s.get("em")), _pct(s.get("f1")), _pct(s.get("accuracy"))]
        cells += [_pct(s.get(c)) for c in judged]
        if comparisons:
            c = comparisons.get(mode)
            cells.append(f"{_signed(c['diff'])} [{_signed(c['low'])}, {_signed(c['high'])}]" if c else "")
        cells.append("–" if s.get("median_ms") is None else f"{s['median_ms']:.0f}")
        if s.get("errors"):
            cells[0] += f" ({s['errors']} failed)"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(result: dict[str, Any]) -> str:
    d, c, ix = result["dataset"], result["config"], result["index"]
    parts = [
        f"## {d['name']}: {d['questions']} questions, {d['passages']} passages",
        "",
        f"extractor `{c['extractor']}`, embedder `{c['embedder']}`, chat model `{c['chat_model'] or 'none (offline)'}`, "
        f"top {c['top_k']} passages per question; scores in %.",
        "",
        markdown_table(result),
        "",
        f"Index: {ix['documents']} documents, {ix['chunks']} chunks, {ix['entities']} entities, {ix['relations']} relations "
        f"in {ix['seconds']:.0f} s; queries {result['seconds']['queries']:.0f} s.",
    ]
    replay = ix.get("replay")
    if replay:
        parts.append(
            f"Replay: {replay['passages_with_record']} of {d['passages']} passages have a recorded extraction; "
            f"{replay['triples']} triples used, {replay['malformed_triples']} malformed skipped."
        )
    if ix.get("passages_split"):
        parts.append(f"{ix['passages_split']} passages were split into several chunks.")
    by_type = result.get("by_type") or {}
    if by_type:
        modes = c["modes"]
        metric = next(iter(by_type.values()))["metric"]
        parts += ["", f"{metric} by question type:", "", "| type | n | " + " | ".join(modes) + " |", "|" + "---|" * (len(modes) + 2)]
        for t, g in by_type.items():
            parts.append(f"| {t} | {g['n']} | " + " | ".join(_pct(g[m]) for m in modes) + " |")
    routes = result.get("routes") or {}
    if routes:
        metric = next(iter(routes.values()))["metric"]
        parts += [
            "", f"Mode auto by question type ({metric}; the kinds it saw, the modes it ran, and the best single mode):", "",
            "| type | n | kinds | picked | auto | best single mode |", "|---|---|---|---|---|---|",
        ]
        for t, g in routes.items():
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(g["kinds"].items()))
            picked = ", ".join(f"{m} {n}" for m, n in sorted(g["picked"].items()))
            best = f"{g['best_mode']} {_pct(g['best'])}" if "best_mode" in g else "–"
            parts.append(f"| {t} | {g['n']} | {kinds} | {picked} | {_pct(g['auto'])} | {best} |")
    settings = [f"{k} {c[k]}" for k in ("lexical", "graph_weight", "mix_fusion", "expansion", "rerank", "decompose", "bridge_mass", "bridge_rewrite") if k in c]
    if settings:
        parts += ["", "Query settings: " + ", ".join(settings) + "."]
    return "\n".join(parts) + "\n"


def write_results(result: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "results.json", folder / "results.md"
    json_path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown_report(result), encoding="utf-8")
    return [json_path, md_path]
