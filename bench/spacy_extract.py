"""What the offline extractor's spaCy pipeline costs, and whether an older tree's extractor
gives the same extractions, on the first passages of a JSONL corpus, in one process.

Printed: CPU seconds per pipeline component (the whole pipeline, lemmatizer included, each
component over all docs) and of `extraction_from_doc`; with `--baseline`, the number of
passages whose extraction differs from the older tree's extractor, and both extractors' CPU
(`nlp.pipe` plus extraction) in alternating rounds, so load hits both alike.

    nice -n 19 .venv/bin/python bench/spacy_extract.py --corpus corpus.jsonl --limit 300 \\
        --baseline /work/main
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

from graphrag.extract.offline import SpacyExtractor, extraction_from_doc
from graphrag.spacy_import import import_spacy


def _texts(corpus: Path, limit: int) -> list[str]:
    texts = []
    with corpus.open() as f:
        for line in f:
            record = json.loads(line)
            texts.append(f"{record.get('title', '')}\n{record['text']}")  # as the loaders index it
            if len(texts) == limit:
                break
    return texts


def _cpu(run) -> float:  # type: ignore[no-untyped-def]
    started = time.process_time()
    run()
    return round(time.process_time() - started, 2)


def components(texts: list[str], model: str, batch_size: int) -> dict[str, float]:
    nlp = import_spacy().load(model)
    seconds = {"tokenizer": _cpu(lambda: [nlp.make_doc(t) for t in texts])}
    docs = [nlp.make_doc(t) for t in texts]
    for name, proc in nlp.pipeline:
        seconds[name] = _cpu(lambda: docs.__setitem__(slice(None), list(proc.pipe(docs, batch_size=batch_size))))
    seconds["extraction_from_doc"] = _cpu(lambda: [extraction_from_doc(d, lambda t: t.lemma_) for d in docs])
    return seconds


def _older_extractor_module(tree: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_offline", tree / "graphrag/extract/offline.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def against(texts: list[str], tree: Path, rounds: int, batch_size: int) -> dict[str, object]:
    older = _older_extractor_module(tree)
    ours, theirs = SpacyExtractor(batch_size=batch_size), older.SpacyExtractor(batch_size=batch_size)

    def run_ours() -> list:  # type: ignore[type-arg]
        return [extraction_from_doc(d, ours.lemma) for d in ours.nlp.pipe(texts, batch_size=batch_size)]

    def run_theirs() -> list:  # type: ignore[type-arg]
        return [older.extraction_from_doc(d) for d in theirs.nlp.pipe(texts, batch_size=batch_size)]

    differing = sum(a.model_dump() != b.model_dump() for a, b in zip(run_ours(), run_theirs()))
    cpu: dict[str, list[float]] = {"this tree": [], "baseline": []}
    for i in range(rounds):
        order = [("this tree", run_ours), ("baseline", run_theirs)]
        for name, run in order if i % 2 == 0 else order[::-1]:
            cpu[name].append(_cpu(run))
    return {"differing extractions": differing, "cpu seconds": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--baseline", type=Path, help="an older tree whose extractor `extraction_from_doc(doc)` takes a doc")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    texts = _texts(args.corpus, args.limit)
    report: dict[str, object] = {"passages": len(texts)}
    report["component cpu seconds"] = components(texts, SpacyExtractor().model, args.batch_size)
    if args.baseline:
        report.update(against(texts, args.baseline, args.rounds, args.batch_size))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
