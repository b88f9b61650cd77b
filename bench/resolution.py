"""How well the offline graph resolves entities: alias groups, wrong merges, duplicates.

Indexes a corpus into a fresh workspace (offline spaCy extraction, the hashing embedder
unless told otherwise: embeddings do not matter here) and reports

- with an alias file (`entity_aliases.json`: `same` groups of names of one thing,
  `different` pairs that must stay apart): how many groups with at least two of their
  names in the graph end in one entity, and which `different` pairs ended merged;
- the duplicate share: entities that are a strict word-subset or a near-identical string
  of another entity of the same type (the figure `graphrag stats` shows);
- entities, relations, indexing seconds.

    .venv/bin/python bench/resolution.py ../shared/data/christmas_carol/carol_staves \
        --aliases ../shared/data/christmas_carol/entity_aliases.json
    .venv/bin/python bench/resolution.py ../shared/data/corpora/behind-the-tech-podcasts/corpus.jsonl
    .venv/bin/python bench/resolution.py ../shared/data/eval/musique-dev/corpus.jsonl --cost

`--scripted-llm` extracts with the LLM extractor answered by the tests' scripted model (and
lets it judge the uncertain pairs); `--cost` first indexes with resolution off, to report
what resolution costs in wall and CPU seconds. With `--probes K` (one JSONL corpus) it holds
K records out of both indexes and then adds them one at a time to each workspace,
alternately, reporting the median wall and CPU seconds of adding one document with
resolution off and on:

    .venv/bin/python bench/resolution.py ../shared/data/eval/musique-dev/corpus.jsonl --cost --probes 7
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphrag.core import GraphRAG  # noqa: E402
from graphrag.models import Entity, normalize_name  # noqa: E402
from graphrag.resolve.duplicates import duplicate_report  # noqa: E402
from graphrag.settings import Settings  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process (every thread, spaCy's included), and of finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def entity_of_name(entities: Iterable[Entity]) -> dict[str, str]:
    """name key -> key of the entity that carries it (as its name or one of its aliases)."""
    owner: dict[str, str] = {}
    for e in entities:
        owner[e.key] = e.key
        for alias in getattr(e, "aliases", ()):
            owner.setdefault(normalize_name(getattr(alias, "name", alias)), e.key)
    return owner


def alias_scores(entities: list[Entity], aliases: dict) -> dict:
    owner = entity_of_name(entities)
    groups = []
    for names in aliases.get("same", []):
        present = {n: owner[normalize_name(n)] for n in names if normalize_name(n) in owner}
        if len(present) < 2:
            continue
        groups.append({"names": present, "one_entity": len(set(present.values())) == 1})
    merged_wrongly = [
        pair
        for pair in aliases.get("different", [])
        if all(normalize_name(n) in owner for n in pair)
        and owner[normalize_name(pair[0])] == owner[normalize_name(pair[1])]
    ]
    return {
        "groups_present": len(groups),
        "groups_in_one_entity": sum(g["one_entity"] for g in groups),
        "groups": groups,
        "different_pairs_merged": merged_wrongly,
    }


def hold_out(corpus: Path, probes: int, folder: Path) -> tuple[list[str], list[Path]]:
    """Splits a JSONL corpus: the records to index first (one file) and `probes` records
    spread evenly through it, each in its own file, to add one at a time."""
    records = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    step = max(1, len(records) // (probes + 1))
    held = set(range(step, step * (probes + 1), step)[:probes])
    rest = folder / corpus.name
    rest.write_text("\n".join(r for i, r in enumerate(records) if i not in held) + "\n", encoding="utf-8")
    singles = []
    for n, i in enumerate(sorted(held)):
        single = folder / f"probe-{n}.jsonl"
        single.write_text(records[i] + "\n", encoding="utf-8")
        singles.append(single)
    return [str(rest)], singles


def add_one_costs(rags: dict[str, GraphRAG], probes: list[Path]) -> dict:
    """Adds every probe to every workspace, alternating which goes first, so a change of
    machine load hits both; the median wall and CPU seconds of one add per workspace."""
    timings: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in rags}
    for n, probe in enumerate(probes):
        for name in (list(rags) if n % 2 == 0 else list(reversed(rags))):
            started, cpu = time.perf_counter(), cpu_seconds()
            rags[name].index([str(probe)])
            timings[name]["wall"].append(time.perf_counter() - started)
            timings[name]["cpu"].append(cpu_seconds() - cpu)
    return {
        name: {kind: round(statistics.median(values), 3) for kind, values in t.items()}
        | {"all_" + kind: [round(v, 3) for v in values] for kind, values in t.items()}
        for name, t in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="files or folders to index")
    parser.add_argument("--aliases", help="entity_aliases.json with `same` groups and `different` pairs")
    parser.add_argument("--workspace", help="index here (default: a temporary folder, removed after)")
    parser.add_argument("--embedder", default="hashing", help="embedder setting (default hashing)")
    parser.add_argument("--graph-store", default="networkx")
    parser.add_argument(
        "--scripted-llm", action="store_true",
        help="extract with the LLM extractor, answered by the tests' scripted model (tests/fakes/chat.py: "
        "capitalised runs as names typed from the chunk, the sentence as description, the passages "
        "deciding uncertain pairs) "
        "instead of spaCy",
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument(
        "--cost", action="store_true",
        help="also index into a second workspace with resolution off (first), to report what resolution costs",
    )
    parser.add_argument(
        "--probes", type=int, default=0,
        help="with --cost and one JSONL corpus: hold out this many records, then add them one at a time to both",
    )
    args = parser.parse_args()
    if args.probes and not (args.cost and len(args.paths) == 1 and args.paths[0].endswith(".jsonl")):
        parser.error("--probes needs --cost and one JSONL corpus")

    def chat():
        if not args.scripted_llm:
            return None
        from tests.fakes.chat import ScriptedChatModel, story_extraction_responder

        return ScriptedChatModel(story_extraction_responder)

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(args.workspace) if args.workspace else Path(tmp) / "resolution-on"
        paths, probes = list(args.paths), []
        if args.probes:
            paths, probes = hold_out(Path(args.paths[0]), args.probes, Path(tmp))
        common = {
            "extractor": "llm" if args.scripted_llm else "spacy", "embedder": args.embedder,
            "graph_store": args.graph_store,
        }
        off: dict | None = None
        if args.cost:
            # Same process, same warm caches for both: only resolution differs. Off runs first,
            # so if anything the run with resolution benefits less from a warm OS file cache.
            off_rag = GraphRAG(Settings(workspace=Path(tmp) / "resolution-off", resolution=False, **common), chat=chat())
            started, cpu = time.perf_counter(), cpu_seconds()
            off_report = off_rag.index(paths)
            off = {
                "index_seconds": round(time.perf_counter() - started, 1),
                "cpu_seconds": round(cpu_seconds() - cpu, 1),
                "stage_seconds": off_report.stage_seconds,
            }
        settings = Settings(workspace=workspace, **common)
        rag = GraphRAG(settings, chat=chat())
        started, cpu = time.perf_counter(), cpu_seconds()
        report = rag.index(paths)
        seconds = time.perf_counter() - started
        cpu_spent = cpu_seconds() - cpu
        entities = list(rag.graph.iter_entities())
        out: dict = {
            "paths": args.paths,
            "extractor": common["extractor"] + (" (scripted model)" if args.scripted_llm else ""),
            "llm_usage": rag.usage.snapshot()["by_purpose"] if args.scripted_llm else None,
            "documents": report.documents_new + report.documents_updated + report.documents_unchanged,
            "entities": len(entities),
            "relations": report.relations,
            "index_seconds": round(seconds, 1),
            "cpu_seconds": round(cpu_spent, 1),  # all threads: less sensitive than wall time to a busy machine
            "stage_seconds": report.stage_seconds,
        }
        dupes = duplicate_report((e.key, e.type) for e in entities)
        out["duplicates"] = dupes.to_dict() | {"examples": dupes.examples[:10]}
        # Noun-phrase concepts add many entities: the share among named entities only too.
        named = duplicate_report((e.key, e.type) for e in entities if e.type != "CONCEPT")
        out["duplicates_named"] = named.to_dict()
        out["aliases_total"] = sum(len(getattr(e, "aliases", ())) for e in entities)
        if off is not None:
            out["resolution_off"] = off
            out["resolution_cost"] = round(seconds / off["index_seconds"] - 1, 3) if off["index_seconds"] else None
            out["resolution_cost_cpu"] = round(cpu_spent / off["cpu_seconds"] - 1, 3) if off["cpu_seconds"] else None
        if args.aliases:
            out["aliases"] = alias_scores(entities, json.loads(Path(args.aliases).read_text()))
        if probes:
            out["add_one"] = add_one_costs({"resolution_off": off_rag, "resolution_on": rag}, probes)
        rag.close()
        if args.cost:
            off_rag.close()

    if args.json:
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return
    print(f"documents {out['documents']}  entities {out['entities']}  relations {out['relations']}  "
          f"indexed in {out['index_seconds']} s")
    d = out["duplicates"]
    print(f"duplicate share {d['share']:.1%} ({d['duplicates']} of {d['entities']}); e.g. {d['examples'][:5]}")
    print(f"  without the {d['number_only']} that differ only by a number (distinct dates, numbered series): "
          f"{d['share_without_numbers']:.1%}")
    n = out["duplicates_named"]
    print(f"  among named entities (not CONCEPT) {n['share']:.1%} ({n['duplicates']} of {n['entities']}); "
          f"aliases {out['aliases_total']}")
    if off is not None:
        print(
            f"resolution off: indexed in {off['index_seconds']} s ({off['cpu_seconds']} CPU s); resolution costs "
            f"{out['resolution_cost']:+.1%} wall, {out['resolution_cost_cpu']:+.1%} CPU ({out['cpu_seconds']} CPU s)"
        )
    if "add_one" in out:
        o, n = out["add_one"]["resolution_off"], out["add_one"]["resolution_on"]
        print(
            f"adding one document (median of {args.probes}): resolution off {o['wall']} s wall / {o['cpu']} s CPU, "
            f"on {n['wall']} s / {n['cpu']} s ({n['wall'] / o['wall'] - 1:+.1%} wall, {n['cpu'] / o['cpu'] - 1:+.1%} CPU)"
        )
    if "aliases" in out:
        a = out["aliases"]
        print(f"alias groups present {a['groups_present']}, in one entity {a['groups_in_one_entity']}")
        for g in a["groups"]:
            print(f"  {'ok ' if g['one_entity'] else 'NO '} {g['names']}")
        print(f"`different` pairs merged: {len(a['different_pairs_merged'])} {a['different_pairs_merged']}")


if __name__ == "__main__":
    main()
