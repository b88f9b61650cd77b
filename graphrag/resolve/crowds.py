"""A crowd: a short name that more than `MAX_ASKED` incompatible long forms extend ("Dame
Baba": 985 long forms at 10^5 names, "American": 30 on a news corpus).

The short name is left apart: its contexts are not read and the chat model is not asked.
Each of its pairs is then a function of the two names alone (uncertain, the crowd's size
recorded only up to `CROWDED`), so a name that joins the crowd changes none of the others.
An update in which only new names join a crowd therefore scores the short name against
the names the update scores anyway (the new ones, and any whose pairs it drops) and keeps
its other pairs as stored: scoring it again read the whole crowd's names and rewrote its
pairs (in the 100k bench, ~1,000 for each new name, and every new name joins a crowd).
A word-subset of a changed name that no name scored now is a candidate of ("Kebe Kebe"
beside a new "Lola Kebe") keeps all its pairs (`EntityResolver._settled`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from graphrag.resolve.names import WordIndex
from graphrag.resolve.store import NameRecord, SQLiteResolutionStore

MAX_ASKED = 6  # a short name with more candidate long forms than this is left apart, unasked and unread
CROWDED = MAX_ASKED + 1  # the candidates a crowd's pairs record, whatever its size
# Long forms read to confirm the crowd is one of incompatible names (two of them clash):
# the first two usually do ("Lola Baba" / "Kime Baba").
_SAMPLE = 16


def unmoved_shorts(
    by_term: Mapping[str, set[str]], changed: Iterable[tuple[str, set[str]]],
    previous: Mapping[str, NameRecord], live: Mapping[str, NameRecord],
) -> set[str]:
    """The word-subsets of the changed names whose candidates can only have grown: no name
    that went away or changed its spelling or type families covers their words (the others
    are new, or as they were and scored again for their chunks).

    `by_term`: the live names under each word-set signature the changed names' words cover;
    `changed`: each changed name (old or new form) with the signatures it covers;
    `previous` and `live`: the changed names' records before and now."""
    moved = {k for k, r in previous.items() if k not in live or (r.name, r.families) != (live[k].name, live[k].families)}
    joiners: dict[str, set[str]] = {}
    for key, terms in changed:
        for term in terms:
            joiners.setdefault(term, set()).add(key)
    return {k for term, keys in by_term.items() if not joiners.get(term, set()) & moved for k in keys}


def crowds(store: SQLiteResolutionStore, shorts: set[str], clashing: Callable[[list[str]], bool]) -> set[str]:
    """Those of `shorts` whose stored pairs are those of a crowd: more than `MAX_ASKED` long
    forms, each recorded as `CROWDED`, two of them clashing (`clashing(keys)`).

    ("Kebe Kebe", no crowd, has the words of "Dame Kebe": the crowd's short name scores its
    side of their pair when the other is scored, as it does with every long form scored.)"""
    longs = store.long_forms(shorts) if shorts else {}

    def crowded(short: str) -> bool:
        mine = longs.get(short, {})
        return (len(mine) > MAX_ASKED and all(n == CROWDED for n in mine.values())
                and clashing(sorted(mine)[:_SAMPLE]))

    return set(filter(crowded, shorts))


def settled(
    store: SQLiteResolutionStore, shorts: set[str], scored: set[str], words: Mapping[str, frozenset[str]],
    extends: Callable[[str, str], bool], clashing: Callable[[list[str]], bool],
) -> tuple[set[str], set[str]]:
    """Of the `shorts` (word-subsets of the changed names, `unmoved_shorts`), those that keep
    their pairs: (those no name scored now extends, and crowds that gain only names scored
    now). `scored`: the names the update scores; `words`: each name's core words;
    `extends(short, key)`: `key` is a long form of `short`. A short name that is neither is
    scored too, and may then extend a shorter one: repeated until nothing moves."""
    # A long form holds every word of its short name, so a short name is checked against the
    # scored names holding all its words, not against each scored name (a batch of
    # thousands of names against thousands of short ones).
    index = WordIndex()

    def extended(short: str) -> bool:
        return any(extends(short, key) for key in index.holding(words[short]) - {short})

    scored = set(scored)
    index.add({k: words[k] for k in scored & words.keys()})
    alone = shorts & words.keys()
    is_crowd: dict[str, bool] = {}  # whether a stored crowd does not depend on what is scored: read once
    while True:
        alone = {k for k in alone if not extended(k)}  # only shrinks as `scored` grows
        rest = shorts - alone
        if unread := rest - is_crowd.keys():
            found = crowds(store, unread, clashing)
            is_crowd.update((k, k in found) for k in unread)
        joined = {k for k in rest if is_crowd[k]}
        new = rest - joined - scored
        if not new:
            return alone, joined
        scored |= new
        index.add({k: words[k] for k in new & words.keys()})
