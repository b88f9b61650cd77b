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
what resolution costs in wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
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
    args = parser.parse_args()

    def chat():
        if not args.scripted_llm:
            return None
        from tests.fakes.chat import ScriptedChatModel, story_extraction_responder

        return ScriptedChatModel(story_extraction_responder)

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(args.workspace) if args.workspace else Path(tmp) / "resolution-on"
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
            off_report = off_rag.index([str(p) for p in args.paths])
            off = {
                "index_seconds": round(time.perf_counter() - started, 1),
                "cpu_seconds": round(cpu_seconds() - cpu, 1),
                "stage_seconds": off_report.stage_seconds,
            }
            off_rag.close()
        settings = Settings(workspace=workspace, **common)
        rag = GraphRAG(settings, chat=chat())
        started, cpu = time.perf_counter(), cpu_seconds()
        report = rag.index([str(p) for p in args.paths])
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
        rag.close()

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
    if "aliases" in out:
        a = out["aliases"]
        print(f"alias groups present {a['groups_present']}, in one entity {a['groups_in_one_entity']}")
        for g in a["groups"]:
            print(f"  {'ok ' if g['one_entity'] else 'NO '} {g['names']}")
        print(f"`different` pairs merged: {len(a['different_pairs_merged'])} {a['different_pairs_merged']}")


if __name__ == "__main__":
    main()
