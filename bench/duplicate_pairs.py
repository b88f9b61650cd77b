"""What is left of the duplicate share of a workspace, pair by pair and by pattern.

Lists every entity that `graphrag stats` counts as a duplicate (a strict word-subset or a
near-identical string of another entity of the same type) with the entity it duplicates,
and sorts the pairs into patterns, to decide per pattern whether it is an extraction error,
a duplicate resolution misses, or two distinct things:

- `number`: the names differ only by words with a digit or Roman numerals ("26th" / "36th
  Chess Olympiad", "Johann Strauss II" / "III", "1 May 1934" / "1 May 1945"), and have no
  other duplicate;
- `leading`: the longer name is the shorter one with words before it ("Welshman David
  Jones" / "David Jones");
- `trailing`: ... with words after it ("Utah" / "Utah County");
- `inside`: ... with words inside or on both sides ("Peter Bonetti" / "Peter Phillip Bonetti");
- `spelling`: a near-identical spelling that no number tells apart ("Fezziwigs").

    .venv/bin/python bench/duplicate_pairs.py WORKSPACE [--tsv pairs.tsv] [--examples 8]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graphrag.resolve.duplicates import differ_by_number, duplicate_pairs, duplicate_report  # noqa: E402


def pattern(short: str, long: str) -> str:
    s, l = short.split(), long.split()
    if differ_by_number(short, long):
        return "number"
    if not set(s) < set(l):  # near-identical, not a word-subset
        return "spelling"
    if l[-len(s):] == s:
        return "leading"
    if l[: len(s)] == s:
        return "trailing"
    return "inside"


def classify(entities: Iterable[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """(type, pattern, entity, the entity it duplicates) for every duplicate entity."""
    return [(t, pattern(*sorted((a, b), key=lambda k: (len(k.split()), k))), a, b) for a, b, t in duplicate_pairs(entities)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace")
    parser.add_argument("--tsv", help="write every pair here (type, pattern, entity, duplicate of)")
    parser.add_argument("--examples", type=int, default=8, help="pairs shown per type and pattern")
    args = parser.parse_args()

    from graphrag.core import GraphRAG
    from graphrag.settings import Settings

    rag = GraphRAG(Settings(workspace=Path(args.workspace), embedder="hashing"))
    entities = [(e.key, e.type) for e in rag.graph.iter_entities()]
    rag.close()
    rows = classify(entities)
    per_type = Counter(t for _, t in set(entities))
    report = duplicate_report(entities)
    print(
        f"{report.duplicates} duplicates of {report.entities} entities ({report.share:.1%}); "
        f"{report.number_only} differ only by a number: without them {report.share_without_numbers:.1%}"
    )
    by = defaultdict(list)
    for t, p, a, b in rows:
        by[(t, p)].append((a, b))
    for t in sorted({t for t, *_ in rows}, key=lambda t: -sum(1 for r in rows if r[0] == t)):
        n = sum(1 for r in rows if r[0] == t)
        print(f"\n{t}: {n} of {per_type[t]} ({n / per_type[t]:.1%})")
        for (tt, p), pairs in sorted(by.items(), key=lambda kv: -len(kv[1])):
            if tt == t:
                print(f"  {p:9s} {len(pairs):4d}  " + "; ".join(f"{a} / {b}" for a, b in pairs[: args.examples]))
    if args.tsv:
        Path(args.tsv).write_text("".join("\t".join(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
