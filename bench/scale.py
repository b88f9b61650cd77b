"""How indexing, updates and retrieval scale with the size of the workspace.

Builds a synthetic corpus whose documents name about `--sizes` entities in all (made-up
two-word names, mentioned three to four times each, with a few hub entities that appear
everywhere), indexes it with the scripted fake chat model (answers derived from the chunk
text, zero latency) and the hashing embedder (no model), then measures:

- indexing time per document (the whole corpus in one run);
- adding one new document to the full workspace vs to an empty one (median of `--probes` documents,
  each into a fresh workspace for the empty case);
- warm retrieval p50 per query mode (retrieval and context, without the keyword chat call);
- the first query of each mode after another handle (a scheduled flow; the API is the
  handle that queries) added one new document: the reader catches up with the change
  (its graph, vector tables and PPR graph) and answers. The documents are deleted again
  after, one at a time: deleting one document from the full workspace vs deleting a
  probe from its empty one (median; a kept workspace stays as it was built);
- peak resident memory of the process (each size and backend runs in its own process;
  for Neo4j this is the client only, the server's memory is not counted).

It prints one table and the ratios of each size to the smallest, measured in one run.

    .venv/bin/python bench/scale.py                                   # 1k and 10k entities, NetworkX
    .venv/bin/python bench/scale.py --sizes 1000 10000 100000          # and 100k
    scripts/neo4j-test-server start
    .venv/bin/python bench/scale.py --backends networkx neo4j --neo4j-uri bolt://127.0.0.1:7687
    .venv/bin/python bench/scale.py --corpus ../shared/data/eval/musique-dev/corpus.jsonl  # a real corpus,
                                                                   # 3 passages held out and added
    .venv/bin/python bench/scale.py --sizes 10000 --profile 40        # where an add's time goes (the profiled
                                                                   # add is slower: not for the figures)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SYLLABLES = tuple(c + v for c in "bdklmr" for v in "aeiou")  # 30, all two letters: names decode uniquely
VERBS = ("met", "wrote to", "argued with", "travelled with", "worked beside", "owed money to",
         "sold a horse to", "was seen with", "taught", "rescued")
PLACES = ("near the old mill", "at the harbour", "in the long winter", "after the fair", "before the storm",
          "on the north road", "during the trial", "by the river")
ENTITIES_PER_DOCUMENT = 10  # new entities per document: documents = entities / 10
SENTENCES_PER_DOCUMENT = 12
HUBS = 20  # entities that appear in many documents (high degree, many description fragments)


def entity_name(i: int) -> str:
    """A distinct two-word name for every i below 30**4 (810,000)."""
    n = len(SYLLABLES)
    first = SYLLABLES[i % n] + SYLLABLES[(i // n) % n]
    last = SYLLABLES[(i // n**2) % n] + SYLLABLES[(i // n**3) % n]
    return f"{first.capitalize()} {last.capitalize()}"


def document_text(d: int, n_entities: int, rng: random.Random) -> str:
    """Sentences naming three entities each, drawn near this document's own slice of names
    (so documents overlap with their neighbours) plus, now and then, a hub."""
    centre = d * ENTITIES_PER_DOCUMENT
    sentences = []
    for _ in range(SENTENCES_PER_DOCUMENT):
        picks: list[int] = []
        while len(picks) < 3:
            if rng.random() < 0.08:
                i = rng.randrange(HUBS)
            else:
                i = (centre + rng.randrange(-2 * ENTITIES_PER_DOCUMENT, 2 * ENTITIES_PER_DOCUMENT)) % n_entities
            if i not in picks:
                picks.append(i)
        a, b, c = (entity_name(i) for i in picks)
        sentences.append(f"{a} {rng.choice(VERBS)} {b} {rng.choice(PLACES)}, and {c} heard of it.")
    return f"Record {d}\n\n" + " ".join(sentences) + "\n"


def write_corpus(folder: Path, n_entities: int, *, seed: int = 11) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in range(max(1, n_entities // ENTITIES_PER_DOCUMENT)):
        path = folder / f"doc_{d:06d}.txt"
        path.write_text(document_text(d, n_entities, rng), encoding="utf-8")
        paths.append(path)
    return paths


def write_probes(folder: Path, n_entities: int, count: int = 3) -> list[Path]:
    """New documents: a third of their names are new, the rest already in the workspace."""
    rng = random.Random(99)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        text = document_text(n_entities // 2 + 37 * k, n_entities, rng)
        text += f"{entity_name(n_entities + 3 * k)} met {entity_name(n_entities + 3 * k + 1)} at the inn.\n"
        path = folder / f"probe_{k}.txt"
        path.write_text(f"Probe {k}\n\n{text}", encoding="utf-8")
        paths.append(path)
    return paths


def write_passages(corpus: Path, folder: Path, held_out: int = 3) -> tuple[list[Path], list[Path]]:
    """A real corpus (`{"id", "title", "text"}` per line, as the MuSiQue dev set): every
    passage a document (title + text) except `held_out` of them, spread over the corpus,
    which become the documents to add."""
    lines = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    step = max(1, len(lines) // (held_out + 1))
    probe_at = {step * (k + 1) for k in range(held_out)}
    (folder / "corpus").mkdir(parents=True, exist_ok=True)
    (folder / "probes").mkdir(parents=True, exist_ok=True)
    docs, probes = [], []
    for i, p in enumerate(lines):
        path = folder / ("probes" if i in probe_at else "corpus") / f"{p['id']}.txt"
        path.write_text(f"{p['title']}\n{p['text']}\n", encoding="utf-8")
        (probes if i in probe_at else docs).append(path)
    return docs, probes


def corpus_questions(corpus: Path, count: int = 10) -> list[str]:
    path = corpus.with_name("questions.jsonl")
    if not path.is_file():
        return questions(1000, count)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q["question"] for q in lines[:count]]


def questions(n_entities: int, count: int = 10) -> list[str]:
    rng = random.Random(5)
    out = []
    for _ in range(count):
        a, b = (entity_name(rng.randrange(n_entities)) for _ in range(2))
        out.append(f"How is {a} connected to {b}, and what happened near the old mill?")
    return out


# ------------------------------------------------------------------ one measurement (child)
def _make_rag(workspace: Path, backend: str, neo4j_uri: str | None) -> Any:
    from graphrag.core import GraphRAG
    from graphrag.settings import Settings
    from tests.fakes.chat import ScriptedChatModel, derived_extraction_responder

    values: dict[str, Any] = {"workspace": workspace, "extractor": "llm", "embedder": "hashing",
                              "chat_base_url": None}
    if backend == "neo4j":
        values.update(graph_store="neo4j", neo4j_uri=neo4j_uri, graph_namespace=f"scale-{uuid.uuid4().hex[:10]}")
    return GraphRAG(Settings(**values), chat=ScriptedChatModel(derived_extraction_responder))


def _close(rag: Any, backend: str) -> None:
    if backend == "neo4j":
        rag.graph.drop_namespace()
    rag.close()


def _retrieval_p50(rag: Any, qs: list[str], repeat: int,
                   profiler: cProfile.Profile | None = None) -> dict[str, float]:
    from graphrag.query.result import QUERY_MODES

    out = {}
    for mode in QUERY_MODES:
        rag.query_engine.refresh()
        rag.query(qs[0], mode=mode, only_context=True)  # loads tables and graph: not counted
        runs = []
        for _ in range(repeat):
            for q in qs:
                rag.query_engine.clear_query_cache()
                if profiler is not None:
                    profiler.enable()
                started = time.perf_counter()
                result = rag.query(q, mode=mode, only_context=True)
                runs.append(time.perf_counter() - started - result.timings.get("keywords", 0.0))
                if profiler is not None:
                    profiler.disable()
        out[mode] = statistics.median(runs)
    return out


def _first_after_add(rag: Any, workspace: Path, backend: str, neo4j_uri: str | None, folder: Path,
                     n_entities: int, qs: list[str]) -> tuple[dict[str, float], list[float]]:
    """Per mode, seconds: a writer adds one new document, then `rag` (warm) answers its first
    query (catching up with the change included). Neo4j: `rag` writes itself (each handle of
    this bench has its own namespace). Then the writer deletes those documents one at a time
    (seconds each, the second value), so a kept workspace stays as built."""
    from graphrag.query.result import QUERY_MODES

    docs = write_probes(folder, n_entities + 1000, len(QUERY_MODES))  # other names than the probes'
    writer = rag if backend == "neo4j" else _make_rag(workspace, backend, neo4j_uri)
    out = {}
    deletes = []
    try:
        for mode, doc in zip(QUERY_MODES, docs):
            writer.index([str(doc)])
            rag.query_engine.clear_query_cache()
            started = time.perf_counter()
            result = rag.query(qs[0], mode=mode, only_context=True)
            out[mode] = time.perf_counter() - started - result.timings.get("keywords", 0.0)
        for doc in docs:
            started = time.perf_counter()
            writer.delete([str(doc.resolve())])
            deletes.append(time.perf_counter() - started)
    finally:
        if writer is not rag:
            writer.close()
    rag.query(qs[0], mode="naive", only_context=True)  # caught up with the deletes
    return out, deletes


def _empty_updates(root: Path, probes: list[Path], backend: str, neo4j_uri: str | None) -> tuple[list[float], list[float]]:
    """Seconds to add each probe to an empty workspace of its own, and to delete it again."""
    adds, deletes = [], []
    for k, probe in enumerate(probes):
        rag = _make_rag(root / f"empty{k}", backend, neo4j_uri)
        try:
            started = time.perf_counter()
            rag.index([str(probe)])
            adds.append(time.perf_counter() - started)
            started = time.perf_counter()
            rag.delete([str(probe.resolve())])
            deletes.append(time.perf_counter() - started)
        finally:
            _close(rag, backend)
    return adds, deletes


def measure_kept(folder: Path, n_entities: int, repeat: int, corpus_file: Path | None = None,
                 query_profile: int = 0) -> dict[str, Any]:
    """Retrieval only, on a workspace a `--keep` run built before (NetworkX): its build and
    add figures are the ones saved with it."""
    saved = json.loads((folder / "build.json").read_text(encoding="utf-8"))
    qs = questions(n_entities) if corpus_file is None else corpus_questions(corpus_file)
    rag = _make_rag(folder / "ws", "networkx", None)
    try:
        profiler = cProfile.Profile() if query_profile else None
        p50 = _retrieval_p50(rag, qs, repeat, profiler)
        if profiler is not None:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(query_profile)
        with tempfile.TemporaryDirectory(prefix="graphrag-scale-") as tmp:
            after_add, deletes_full = _first_after_add(rag, folder / "ws", "networkx", None, Path(tmp), n_entities, qs)
            probes = write_probes(Path(tmp) / "probes", n_entities, 3) if corpus_file is None else \
                write_passages(corpus_file, Path(tmp), 3)[1]
            _, deletes_empty = _empty_updates(Path(tmp), probes, "networkx", None)
    finally:
        rag.close()
    # peak_rss_mb stays the build's (what the table reports); this process only queried
    return {**saved, "retrieval_p50": p50, "first_after_add": after_add, "kept": True,
            **_deletes(deletes_full, deletes_empty),
            "query_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _deletes(full: list[float], empty: list[float]) -> dict[str, Any]:
    return {"delete_full": statistics.median(full), "delete_empty": statistics.median(empty),
            "deletes_full": full, "deletes_empty": empty}


def measure(
    n_entities: int, backend: str, neo4j_uri: str | None, repeat: int, corpus_file: Path | None = None,
    n_probes: int = 3, profile: int = 0, keep: Path | None = None, query_profile: int = 0,
) -> dict[str, Any]:
    if keep is not None and (keep / "build.json").is_file():
        return measure_kept(keep, n_entities, repeat, corpus_file, query_profile)
    with tempfile.TemporaryDirectory(prefix="graphrag-scale-") as tmp:
        root = Path(tmp)
        ws = root / "ws" if keep is None else keep / "ws"
        if keep is not None:
            shutil.rmtree(ws, ignore_errors=True)  # a build that did not finish
            keep.mkdir(parents=True, exist_ok=True)
        if corpus_file is None:
            corpus = write_corpus(root / "corpus", n_entities)
            probes = write_probes(root / "probes", n_entities, n_probes)
            qs = questions(n_entities)
        else:
            corpus, probes = write_passages(corpus_file, root, n_probes)
            qs = corpus_questions(corpus_file)

        warm = _make_rag(root / "warm", backend, neo4j_uri)  # imports, tokenizer, first tables
        warm.index([str(probes[0])])
        _close(warm, backend)

        empty_adds, empty_deletes = _empty_updates(root, probes, backend, neo4j_uri)

        rag = _make_rag(ws, backend, neo4j_uri)
        try:
            started = time.perf_counter()
            report = rag.index([str(root / "corpus")])
            index_seconds = time.perf_counter() - started
            full_adds = []
            for k, probe in enumerate(probes):
                profiler = cProfile.Profile() if profile and k == len(probes) - 1 else None
                started = time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                rag.index([str(probe)])
                full_adds.append(time.perf_counter() - started)
                if profiler is not None:  # the last add, warm: where its time goes
                    profiler.disable()
                    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(profile)
            stats = rag.graph.stats()  # not rag.stats(): its duplicate report is not what this measures
            p50 = _retrieval_p50(rag, qs, repeat)
            after_add, full_deletes = _first_after_add(rag, ws, backend, neo4j_uri, root / "late", n_entities, qs)
        finally:
            _close(rag, backend)
    built = {
        "size": n_entities if corpus_file is None else corpus_file.parent.name, "backend": backend, "documents": len(corpus),
        "entities": stats.entities, "relations": stats.relations,
        "index_seconds": index_seconds, "per_document": index_seconds / len(corpus),
        "llm_calls": report.llm_calls, "stage_seconds": report.stage_seconds,
        "add_full": statistics.median(full_adds), "add_empty": statistics.median(empty_adds),
        "adds_full": full_adds, "adds_empty": empty_adds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if keep is not None:  # written last: a build that failed half-way is not reused
        (keep / "build.json").write_text(json.dumps(built), encoding="utf-8")
    return {**built, "retrieval_p50": p50, "first_after_add": after_add, **_deletes(full_deletes, empty_deletes)}


# ------------------------------------------------------------------ the table (parent)
def show(rows: list[dict[str, Any]]) -> None:
    from graphrag.query.result import QUERY_MODES

    print("\nsize = target entities; times in seconds unless ms; add = one new document (median of the probes);"
          "\ndel = deleting one document just added (median)")
    header = (f"{'backend':8} {'size':>7} {'docs':>6} {'entities':>8} {'rels':>7} {'index s':>8} "
              f"{'ms/doc':>7} {'add full':>8} {'add empty':>9} {'full/empty':>10} "
              f"{'del full':>8} {'del empty':>9} {'full/empty':>10} {'peak MB':>8}")
    print(header)
    for r in rows:
        print(f"{r['backend']:8} {r['size']:>7} {r['documents']:>6} {r['entities']:>8} {r['relations']:>7} "
              f"{r['index_seconds']:8.1f} {r['per_document'] * 1000:7.1f} {r['add_full']:8.3f} "
              f"{r['add_empty']:9.3f} {r['add_full'] / r['add_empty']:10.2f} {r['delete_full']:8.3f} "
              f"{r['delete_empty']:9.3f} {r['delete_full'] / r['delete_empty']:10.2f} {r['peak_rss_mb']:8.0f}")
    kept = [str(r["size"]) for r in rows if r.get("kept")]
    if kept:
        print(f"(size {', '.join(kept)}: a kept workspace; its build, add and peak figures are from when it was built)")
    print("\nwarm retrieval p50, ms (retrieval + context, no chat call)")
    print(f"{'backend':8} {'size':>7} " + " ".join(f"{m:>7}" for m in QUERY_MODES))
    for r in rows:
        print(f"{r['backend']:8} {r['size']:>7} " + " ".join(f"{r['retrieval_p50'][m] * 1000:7.1f}" for m in QUERY_MODES))
    print("\nfirst query after another handle added one document, ms (catching up included)")
    print(f"{'backend':8} {'size':>7} " + " ".join(f"{m:>7}" for m in QUERY_MODES))
    for r in rows:
        print(f"{r['backend']:8} {r['size']:>7} " + " ".join(f"{r['first_after_add'][m] * 1000:7.1f}" for m in QUERY_MODES))
    print("\nratios to the smallest size of the same backend (one run)")
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = [r for r in rows if r["backend"] == backend]
        base = mine[0]
        for r in mine[1:]:
            p50 = " ".join(f"{m} {r['retrieval_p50'][m] / base['retrieval_p50'][m]:.2f}" for m in QUERY_MODES)
            first = " ".join(f"{m} {r['first_after_add'][m] / base['first_after_add'][m]:.2f}" for m in QUERY_MODES)
            print(f"  {backend} {r['size']} / {base['size']}: ms/doc {r['per_document'] / base['per_document']:.2f}, "
                  f"add-one {r['add_full'] / base['add_full']:.2f}, delete-one "
                  f"{r['delete_full'] / base['delete_full']:.2f}, peak memory "
                  f"{r['peak_rss_mb'] / base['peak_rss_mb']:.2f}; retrieval p50: {p50}; first query after an add: {first}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000], help="target entity counts")
    parser.add_argument("--backends", nargs="+", default=["networkx"], choices=["networkx", "neo4j"])
    parser.add_argument("--neo4j-uri", default=os.environ.get("GRAPHRAG_TEST_NEO4J_URI", "bolt://127.0.0.1:7687"))
    parser.add_argument("--neo4j-max-size", type=int, default=10_000, help="larger sizes run on NetworkX only")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the question list per mode")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--corpus", type=Path, help="a real corpus instead of the synthetic one: a .jsonl of "
                        '{"id", "title", "text"} passages (e.g. the MuSiQue dev corpus); --probes passages are held '
                        "out and added one at a time")
    parser.add_argument("--probes", type=int, default=3, help="documents added one at a time (the median counts)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the last add into the full workspace and print its top N functions")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep each size's workspace in DIR/<backend>-<size> (NetworkX only): built there "
                        "if absent, else only its retrieval is measured again (the build and add figures are "
                        "the saved ones)")
    parser.add_argument("--query-profile", type=int, default=0, metavar="N",
                        help="profile the timed queries and print their top N functions")
    parser.add_argument("--one", nargs=2, metavar=("SIZE", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # a child: one size on one backend, figures as JSON on the last line
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.neo4j_uri, args.repeat, args.corpus,
                                 args.probes, args.profile, args.keep, args.query_profile)))
        return
    if args.corpus is not None:
        args.sizes = [0]  # one run: the corpus is its own size
    if args.keep is not None and "neo4j" in args.backends:
        parser.error("--keep keeps embedded (NetworkX) workspaces only")

    rows = []
    for backend in args.backends:
        for size in sorted(args.sizes):
            if backend == "neo4j" and size > args.neo4j_max_size:
                continue
            print(f"{backend} {size} entities ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(size), backend, "--neo4j-uri", args.neo4j_uri,
                 "--repeat", str(args.repeat), "--probes", str(args.probes), "--profile", str(args.profile),
                 "--query-profile", str(args.query_profile),
                 *(["--corpus", str(args.corpus)] if args.corpus else []),
                 *(["--keep", str(args.keep.resolve() / f"{backend}-{size}")] if args.keep else [])],
                capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            if args.profile or args.query_profile:
                print(child.stderr, file=sys.stderr)
            if child.returncode != 0:
                sys.exit(f"{backend} {size} failed:\n{child.stderr[-3000:]}")
            rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    show(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
