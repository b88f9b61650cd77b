"""Offline indexing speed and memory, an older tree against this one, in one run.

Both trees index the same JSONL corpus (records `{"id", "title", "text"}`; both loaders
index a record as `title + "\\n" + text`, as the eval does) with the offline defaults — spaCy
extraction, local MiniLM embeddings, no chat model — into fresh workspaces, each through its
own `graphrag index` CLI in its own subprocess, one after the other. Printed per tree: wall
time, CPU time (user + system of the process and its children), peak RSS (the largest single
process, from `wait4`) and the peak of the sampled process tree's summed RSS, the indexing
figures the CLI reported, and the ratios baseline / current.

The baseline is a plain checkout, e.g.

    git worktree add /work/wt/base71 71fd5b0 && ln -s "$PWD/.venv" /work/wt/base71/.venv
    .venv/bin/python bench/offline_speed.py --baseline /work/wt/base71 --limit 100   # check the driver
    nice .venv/bin/python bench/offline_speed.py --baseline /work/wt/base71 \\
        --out /tmp/offline_speed.json                                               # full corpus

Every GRAPHRAG_*, OPENAI_* and NEO4J_* variable is removed from the children's environment
so that both run with their defaults (and neither finds a chat model or a Neo4j server).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent.parent / "shared" / "data" / "eval" / "musique-dev" / "corpus.jsonl"
_CLEARED_PREFIXES = ("GRAPHRAG_", "OPENAI_", "NEO4J_")
_CLI = "from graphrag.cli import app; app()"


@dataclass
class RunFigures:
    label: str
    tree: str
    commit: str
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    report: dict[str, Any] = field(default_factory=dict)
    log: str = ""


def write_corpus(source: Path, dest: Path, limit: int | None) -> int:
    """Copies the first `limit` records (all when None) unchanged; returns how many."""
    count = 0
    with source.open(encoding="utf-8") as fin, dest.open("w", encoding="utf-8") as fout:
        for line in fin:
            if not line.strip():
                continue
            if limit is not None and count >= limit:
                break
            fout.write(line if line.endswith("\n") else line + "\n")
            count += 1
    return count


def _commit(tree: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except OSError:
        return "?"


def _child_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_PREFIXES)}
    env["PYTHONPATH"] = str(tree)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def _tree_rss_kb(pid: int) -> int:
    """Summed VmRSS of `pid` and its descendants, from /proc (0 once it is gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_index(label: str, tree: Path, python: str, corpus: Path, workdir: Path, timeout: float) -> RunFigures:
    """`graphrag index CORPUS -w WS --json` from `tree` in a fresh workspace."""
    workspace = workdir / f"ws-{label}"
    log_path = workdir / f"{label}.log"
    out_path = workdir / f"{label}.json"
    cmd = [python, "-c", _CLI, "index", str(corpus), "-w", str(workspace), "--json"]
    peak_tree = 0
    started = time.perf_counter()
    with log_path.open("w") as log, out_path.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=_child_env(tree), stdout=out, stderr=log)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not done.wait(0.25):
                peak_tree = max(peak_tree, _tree_rss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
            sampler.join()
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        report = json.loads(out_path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError:
        report = {}
    return RunFigures(
        label=label, tree=str(tree), commit=_commit(tree), returncode=proc.returncode, wall_s=round(wall, 1),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 1), peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        peak_tree_rss_mb=round(peak_tree / 1024, 1), report=report, log=str(log_path),
    )


_REPORT_KEYS = ("documents_new", "documents_failed", "chunks_extracted", "entities", "relations", "seconds")


def print_table(runs: list[RunFigures]) -> None:
    rows = [("tree", *(f"{r.label} ({r.commit})" for r in runs))]
    rows.append(("exit code", *(str(r.returncode) for r in runs)))
    rows.append(("wall s", *(f"{r.wall_s:,.1f}" for r in runs)))
    rows.append(("CPU s", *(f"{r.cpu_s:,.1f}" for r in runs)))
    rows.append(("peak RSS MB (largest process)", *(f"{r.peak_rss_mb:,.0f}" for r in runs)))
    rows.append(("peak RSS MB (process tree, sampled)", *(f"{r.peak_tree_rss_mb:,.0f}" for r in runs)))
    for key in _REPORT_KEYS:
        rows.append((key, *(str(r.report.get(key, "-")) for r in runs)))
    width = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width[i]) if i == 0 else cell.rjust(width[i]) for i, cell in enumerate(row)))


def ratios(baseline: RunFigures, current: RunFigures) -> dict[str, float]:
    def ratio(a: float, b: float) -> float:
        return round(a / b, 2) if b else float("nan")

    return {
        "wall_speedup": ratio(baseline.wall_s, current.wall_s),
        "cpu_speedup": ratio(baseline.cpu_s, current.cpu_s),
        "peak_rss_current_over_baseline": ratio(current.peak_rss_mb, baseline.peak_rss_mb),
        "peak_tree_rss_current_over_baseline": ratio(current.peak_tree_rss_mb, baseline.peak_tree_rss_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the older tree (a checkout with graphrag/)")
    parser.add_argument("--current", type=Path, default=REPO, help="the tree to compare (default: this one)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL of {id, title, text}")
    parser.add_argument("--limit", type=int, default=None, help="only the first N records")
    parser.add_argument("--python", default=sys.executable, help="interpreter for both (default: this one)")
    parser.add_argument("--baseline-python", default=None,
                        help="interpreter for the baseline only (an older tree may need packages this one dropped, "
                             "e.g. torch for 71fd5b0's embedder)")
    parser.add_argument("--order", choices=["current-first", "baseline-first"], default="current-first")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds before a run is killed")
    parser.add_argument("--workdir", type=Path, default=None, help="keep workspaces and logs here (default: temp)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()

    for tree in (args.baseline, args.current):
        if not (tree / "graphrag" / "cli.py").is_file():
            parser.error(f"{tree} is not a graphrag tree (no graphrag/cli.py)")
    if not args.corpus.is_file():
        parser.error(f"no corpus at {args.corpus}: pass --corpus PATH (JSONL of id, title, text)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="offline-speed-"))
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / "corpus.jsonl"
    n = write_corpus(args.corpus, corpus, args.limit)
    print(f"{n} records from {args.corpus}; workspaces and logs in {workdir}", flush=True)

    sides = [("current", args.current.resolve()), ("baseline", args.baseline.resolve())]
    if args.order == "baseline-first":
        sides.reverse()
    runs: dict[str, RunFigures] = {}
    for label, tree in sides:
        print(f"indexing with {label} ({tree}) ...", flush=True)
        python = args.baseline_python if label == "baseline" and args.baseline_python else args.python
        runs[label] = run_index(label, tree, python, corpus, workdir, args.timeout)
        r = runs[label]
        print(f"  {label}: exit {r.returncode}, wall {r.wall_s:.1f} s, CPU {r.cpu_s:.1f} s, "
              f"peak RSS {r.peak_rss_mb:.0f} MB (tree {r.peak_tree_rss_mb:.0f} MB); log {r.log}", flush=True)
    ordered = [runs["baseline"], runs["current"]]
    print()
    print_table(ordered)
    figures = ratios(runs["baseline"], runs["current"])
    print()
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.out:
        payload = {"records": n, "corpus": str(args.corpus), "load_average": os.getloadavg(),
                   "runs": [asdict(r) for r in ordered], "ratios": figures}
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if any(r.returncode != 0 for r in ordered):
        sys.exit(1)


if __name__ == "__main__":
    main()
