"""Resolution on insert: which names are one entity, decided for the names that changed.

For every name that appeared, changed or went away, and for the shorter names whose
candidates that changes (its word-subsets: "Scrooge" when "Ebenezer Scrooge" arrives):

1. candidates come from a word index (names containing all of its core words), a
   prefix index (near-identical spellings) and the name vectors within a radius
   (`resolve.vectors`), never from all pairs;
2. each candidate pair is scored from its evidence: same core words ("Mr. Scrooge" /
   "Scrooge"), a longer form of a person's or organisation's name ("Ebenezer Scrooge"),
   a near-identical string ("Fezziwigs"); type families must agree and gendered titles
   must not clash; a short name that several incompatible longer names extend
   ("Cratchit": Bob, Martha, Peter) is only a weak, uncertain candidate of each, unless
   the names' contexts single one out (`resolve.evidence`); a pair only the vectors found
   is at most uncertain;
3. pairs at or above the threshold, plus manual merges, link names; the linked components
   are clustered greedily by score (ties by key) under cannot-link constraints (manual
   splits, clashing titles, names that share a word but extend differently);
4. each cluster's canonical name is its most mentioned member (then the longest, then the
   first by key).

Every step is a function of the live names in the blocks it looks at, so the result does
not depend on the order documents arrived in, and removing a document undoes exactly what
it justified. Uncertain pairs are kept with their evidence for review; when a chat model
is configured it adjudicates them first (`adjudicate`): a verdict is cached by the pair
and what the model was shown, so it too is a function of the live names, not of the order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations

from rapidfuzz import fuzz, process

from graphrag.resolve.adjudicate import Budget, Contexts, Judging, PairAdjudicator
from graphrag.resolve.crowds import CROWDED, MAX_ASKED, settled, unmoved_shorts
from graphrag.resolve.evidence import EvidenceOf, NameEvidence, clearly_best, co_mentioned, support, supported
from graphrag.resolve.names import (
    LINKING_WORDS,
    NEAR_IDENTICAL_RATIO,
    SHORTENABLE_FAMILIES,
    UNKNOWN_FAMILY,
    NameForm,
    WordIndex,
    clash,
    extends,
    genders_conflict,
    near_identical,
    parse_name,
    wife_or_self,
)
from graphrag.resolve.store import NameRecord, PairRecord, SQLiteResolutionStore
from graphrag.resolve.vectors import NameVectors, mark_incomplete

SAME_CORE, EXTENDS, NEAR_IDENTICAL, AMBIGUOUS = 0.95, 0.9, 0.85, 0.6
# A short name the contexts single out one of its long forms for (offline); a pair only the
# name vectors found, with context support (uncertain: for a judge) or without (recorded only).
SUPPORTED, VECTOR_SUPPORTED, VECTOR_ONLY = 0.82, 0.6, 0.45
UNCERTAIN_FLOOR = AMBIGUOUS - 0.1  # pairs from here up to the threshold are uncertain
_PREFIX = "~"  # terms of the prefix index are "~" + a word's first 4 characters


@dataclass
class ResolutionChange:
    """What one update decided: the names whose entity must be rebuilt (or removed), and
    the entity (canonical key) of each of those still live."""

    affected: set[str] = field(default_factory=set)
    canonical: dict[str, str] = field(default_factory=dict)
    unsettled: set[str] = field(default_factory=set)  # names of pairs the chat model must judge again
    judging: set[str] = field(default_factory=set)  # names of pairs it is judging in the background


def form_of(record: NameRecord) -> NameForm:
    families = set(record.families) or {UNKNOWN_FAMILY}
    person_like = "person" in families or families == {UNKNOWN_FAMILY}
    return parse_name(record.key, "person" if person_like else next(iter(sorted(families))))


_SIGNATURE = "="  # "=" + the sorted core words: finds a name's word-subsets exactly
_MAX_SUBSET_WORDS = 8


def _words_term(words: Iterable[str]) -> str:
    return _SIGNATURE + " ".join(sorted(set(words)))


def _fuzzy_terms(form: NameForm) -> set[str]:
    """Near-identical names have as many words and share the starts, or the ends, of their
    first and last words (a spelling variant rarely changes both ends)."""
    if not form.core or len(" ".join(form.core)) < 5:
        return set()
    n, first, last = len(form.core), form.core[0], form.core[-1]
    return {f"{_PREFIX}{n}:{first[:3]}<{last[:3]}", f"{_PREFIX}{n}:{first[-3:]}>{last[-3:]}"}


def index_terms(form: NameForm) -> set[str]:
    """Words (linking words left out: "of" would block half the graph together), the word
    set's signature, and the near-identical blocks."""
    terms = {w for w in form.core if w not in LINKING_WORDS}
    terms.add(_words_term(form.core))
    return terms | _fuzzy_terms(form)


def subset_terms(form: NameForm) -> set[str]:
    """Signatures of every non-empty subset of the name's words (at most 2^8 - 1)."""
    words = sorted(set(form.core))[:_MAX_SUBSET_WORDS]
    return {_words_term(c) for r in range(1, len(words) + 1) for c in combinations(words, r)}


def families_agree(a: NameRecord, b: NameRecord) -> bool:
    fa, fb = set(a.families) - {UNKNOWN_FAMILY}, set(b.families) - {UNKNOWN_FAMILY}
    return not fa or not fb or bool(fa & fb)


def _shortenable(a: NameRecord, b: NameRecord) -> bool:
    fa, fb = set(a.families) - {UNKNOWN_FAMILY}, set(b.families) - {UNKNOWN_FAMILY}
    shared = (fa & fb) if fa and fb else (fa or fb)
    return bool(shared & SHORTENABLE_FAMILIES)


def long_form(s: NameRecord, sf: NameForm, o: NameRecord, of: NameForm) -> bool:
    """`o` is a candidate entity for the shorter `s`: its words, or a longer form of them."""
    if not sf.words <= of.words or not families_agree(s, o) or genders_conflict(sf, of):
        return False
    return of.words == sf.words or (extends(sf, of) and _shortenable(s, o))


class EntityResolver:
    def __init__(
        self, store: SQLiteResolutionStore, *, threshold: float = 0.8, adjudicator: PairAdjudicator | None = None,
        name_vectors: NameVectors | None = None,
    ) -> None:
        self.store = store
        self.threshold = threshold
        self.adjudicator = adjudicator
        self.name_vectors = name_vectors

    def vectors_due(self) -> bool:
        """Name vectors are on and some live names may lack theirs: the next update back-fills."""
        return self.name_vectors is not None and self.name_vectors.due(self.store)

    def uncertain(self, pair: PairRecord) -> bool:
        """Worth the chat model's judgement: below the threshold, above the floor, and not a
        short name that a crowd of longer names extends ("American": 30 of them)."""
        return UNCERTAIN_FLOOR <= pair.score < self.threshold and pair.evidence.get("candidates", 0) <= MAX_ASKED

    # ------------------------------------------------------------------ update
    async def aupdate(
        self,
        live: Mapping[str, NameRecord],
        gone: Iterable[str],
        journal: Callable[[set[str]], None] = lambda keys: None,
        *,
        contexts: Contexts = lambda keys: {},
        budget: Budget | None = None,
        evidence: EvidenceOf = lambda keys: {},
        judging: Judging | None = None,
    ) -> ResolutionChange:
        """Resolves after the names in `live` appeared or changed and those in `gone` lost
        their last mention. `journal(keys)` is called with every name whose entity will
        change before any assignment is written, so a crash in between is finished by the
        next run. `contexts(keys)` gives passages that mention each name, for the chat
        model's adjudication; `budget` bounds its tokens. `evidence(keys)` gives each name's
        neighbours and description words (`resolve.evidence`); `judging`, the chat model's
        calls in the background (`adjudicate.Judging`)."""
        gone = set(gone) - set(live)
        changed = set(live) | gone
        backfill = self.vectors_due()
        if not changed and not backfill:
            return ResolutionChange()
        if self.name_vectors is None and changed:
            mark_incomplete(self.store)
        previous = self.store.names(changed)
        # A name that only gained or lost chunks (same spelling, same type families) keeps its
        # candidates and scores, so adding a document that names a hub does not score the
        # hub's word-neighbours again; only its entity's head may change (re-clustered below).
        # Not where a chat model's verdict may hang on its passages (which the chunks change).
        counted = {k for k, r in live.items()
                   if k in previous and (previous[k].name, previous[k].families) == (r.name, r.families)}
        # Nor where the score used the names' contexts (neighbours, descriptions): those
        # change with the chunks, so the pair is scored again from the live chunks.
        if counted:
            counted -= {k for p in self.store.pairs_of(counted) if "shared_neighbours" in p.evidence or (
                self.adjudicator is not None and (self.uncertain(p) or p.method.startswith("llm-")
                                                  or "adjudication" in p.evidence)) for k in (p.a, p.b)}
        # Names within the vector radius of a name that appeared or went away: whether they
        # are crowded (more than the cap nearby) changes, so they are scored again. Searched
        # before the gone names' vectors go (at the end: a crash before that searches again).
        nearby: set[str] = set()
        if self.name_vectors is not None:
            # Names embedded now beside names that have been there: scored again like new ones.
            rescored = await self.name_vectors.backfill(self.store) if backfill else set()
            counted -= rescored
            nearby |= rescored
            await self.name_vectors.add(set(live))
            found = self.name_vectors.near((set(live) - counted) | gone)
            nearby |= (set().union(*found.values()) if found else set())
            nearby -= gone | set(live)
        near_records = self.store.names(nearby)
        # Read before the gone names' rows go: their old entity must be rebuilt without them.
        old_of_changed = self.store.canonical_of(changed)
        forms_changed = [form_of(r) for k, r in previous.items() if k not in counted]
        forms_changed += [form_of(r) for k, r in live.items() if k not in counted]
        forms_changed += [form_of(r) for r in near_records.values()]
        self.store.drop_names(gone)
        self.store.put_names(live.values(), {k: index_terms(form_of(r)) for k, r in live.items()})

        # Names whose candidates may have changed: the changed ones and their word-subsets
        # (looked up by the signature of each subset of the changed names' words).
        signatures = set().union(*(subset_terms(f) for f in forms_changed)) if forms_changed else set()
        by_term = self.store.keys_with_terms(signatures)
        themselves = (set(live) - counted) | set(near_records)
        affected = themselves | (set().union(*by_term.values()) if by_term else set())
        alone, joined = self._settled(forms_changed, by_term, previous, live, themselves, affected)
        affected -= alone | joined  # their pairs stay as stored (but a crowd's with the names scored: `crowds`)
        pairs = self._score(affected, evidence, joined)
        unsettled: set[str] = set()
        judging_names: set[str] = set()
        if self.adjudicator is not None:
            judged = await self.adjudicator.adjudicate(
                pairs, self.uncertain, names=self.store.names, contexts=contexts,
                threshold=self.threshold, budget=budget, judging=judging,
            )
            pairs, unsettled, judging_names = judged.pairs, judged.unsettled, judged.judging
        self.store.replace_pairs(affected | gone, pairs)

        # Old clusters of the affected names, then the components they now belong to.
        start = affected | gone | counted
        old_canonical = self.store.canonical_of(start) | old_of_changed
        old_members = self.store.members_of(set(old_canonical.values()))
        start |= set(old_canonical.values())
        for members in old_members.values():
            start |= members
        start -= gone
        component = self._component(start)
        canonical = self._cluster(component)
        journal(component | gone | start)
        self.store.set_canonical(canonical)
        if self.name_vectors is not None:
            self.name_vectors.delete(gone)
            if backfill:
                self.name_vectors.complete(self.store)
        return ResolutionChange(
            affected=component | gone | start, canonical=canonical, unsettled=unsettled, judging=judging_names
        )

    def _settled(self, forms: list[NameForm], by_term: Mapping[str, set[str]], previous: Mapping[str, NameRecord],
                 live: Mapping[str, NameRecord], rescored: set[str], affected: set[str]) -> tuple[set[str], set[str]]:
        """Word-subsets of the changed names that keep their pairs: (those no name scored now
        is a candidate of, and crowds that gain only names scored now)."""
        shorts = unmoved_shorts(by_term, [(f.key, subset_terms(f)) for f in forms], previous, live) - rescored
        records = self.store.names(affected)
        parsed = {k: form_of(r) for k, r in records.items()}

        def is_long_form(short: str, key: str) -> bool:
            return long_form(records[short], parsed[short], records[key], parsed[key])

        def clashing(keys: list[str]) -> bool:
            fs = [form_of(r) for r in self.store.names(keys).values()]
            return any(clash(x, y) for i, x in enumerate(fs) for y in fs[i + 1 :])

        return settled(self.store, shorts, affected - shorts, {k: f.words for k, f in parsed.items()}, is_long_form, clashing)

    def _score(
        self, keys: set[str], contexts_of: EvidenceOf = lambda keys: {}, joined: Iterable[str] = (),
    ) -> list[PairRecord]:
        """The pairs of `keys`, and of each crowded short name in `joined` with those of `keys`
        that extend it (`crowds`): only these are written again, its others stay."""
        joined = set(joined)
        records = self.store.names(set(keys) | joined)
        forms = {k: form_of(r) for k, r in records.items()}
        terms = set().union(*(index_terms(f) for k, f in forms.items() if k not in joined)) if forms else set()
        by_term = self.store.keys_with_terms(terms)
        # Read only the names each one can pair with (all its words; its near-identical
        # block), not every name sharing a word: at 10^5 names that is ~10^3 per name.
        containing_of, block_of = {}, {}
        scored = WordIndex({k: f.words for k, f in forms.items() if k not in joined}) if joined else WordIndex()
        for key, sf in forms.items():
            if key in joined:  # (a near-identical pair scores alike from either name: the other's side)
                containing_of[key] = scored.holding(sf.words)
                block_of[key] = set()
                continue
            indexed = [w for w in sf.core if w not in LINKING_WORDS]
            containing_of[key] = set.intersection(*(by_term.get(w, set()) for w in indexed)) if indexed else set()
            block_of[key] = set().union(*(by_term.get(p, set()) for p in _fuzzy_terms(sf))) - {key}
        others = self.store.names(set().union(*containing_of.values(), *block_of.values()) if forms else set())
        other_forms = {k: form_of(r) for k, r in others.items()}
        core_text = {k: " ".join(f.core) for k, f in other_forms.items()}
        verdicts: dict[tuple[str, str], list[tuple[float, str, dict]]] = {}
        # short name -> the incompatible long names extending it, and those it may take
        groups: dict[str, tuple[list[str], set[str]]] = {}
        for key in sorted(records):
            s, sf = records[key], forms[key]
            containing = containing_of[key]
            longer = [o for o in sorted(containing - {key}) if long_form(s, sf, others[o], other_forms[o])]
            # Several incompatible longer names: the short one could be any of them.
            ambiguous = key in joined or any(  # (`joined`: found so, and growing only)
                clash(other_forms[x], other_forms[y]) for i, x in enumerate(longer) for y in longer[i + 1 :])
            if ambiguous and key not in joined:
                groups[key] = (longer, {o for o in longer if not wife_or_self(sf, other_forms[o])})
            # Counted up to a crowd only: a crowd's pairs then stay as they are when it grows.
            crowd = CROWDED if key in joined else min(len(longer), CROWDED)
            for other in longer:
                same = other_forms[other].words == sf.words
                # "Mrs. Fezziwig" beside a bare "Fezziwig": as often his wife as herself.
                uncertain = ambiguous or wife_or_self(sf, other_forms[other])
                score = AMBIGUOUS if uncertain else (SAME_CORE if same else EXTENDS)
                method = ("ambiguous-" if uncertain else "") + ("same-core" if same else "extends")
                evidence = {"short": key, "long": other, "candidates": crowd}
                verdicts.setdefault(_ordered(key, other), []).append((score, method, evidence))
            # (Any order: the verdicts are keyed and sorted by pair below.)
            block = list(block_of[key])
            # One vectorised pass over the block (rapidfuzz, in C), then the exact checks on the hits.
            hits = process.extract(
                " ".join(sf.core), [core_text[o] for o in block], scorer=fuzz.ratio,
                score_cutoff=NEAR_IDENTICAL_RATIO, limit=None,
            ) if block else []
            for _, _, i in hits:
                other = block[i]
                o, of = others[other], other_forms[other]
                if families_agree(s, o) and not genders_conflict(sf, of) and near_identical(sf, of):
                    ratio = round(fuzz.ratio(" ".join(sf.core), " ".join(of.core)), 1)
                    unsure = wife_or_self(sf, of)
                    verdicts.setdefault(_ordered(key, other), []).append(
                        (AMBIGUOUS if unsure else NEAR_IDENTICAL, ("ambiguous-" if unsure else "") + "near-identical", {"ratio": ratio})
                    )
        self._contexts({k: r for k, r in records.items() if k not in joined}, forms, groups, verdicts, contexts_of)
        # Where both names judged the pair (same core words), the more cautious verdict holds.
        return [
            PairRecord(a, b, score, method, evidence)
            for (a, b), found in sorted(verdicts.items())
            for score, method, evidence in [min(found, key=lambda v: (v[0], v[1]))]
        ]

    def _contexts(
        self, records: Mapping[str, NameRecord], forms: Mapping[str, NameForm],
        groups: Mapping[str, tuple[list[str], set[str]]],
        verdicts: dict[tuple[str, str], list[tuple[float, str, dict]]], evidence: EvidenceOf,
    ) -> None:
        """Adds to `verdicts` what the names' contexts say: the support of every candidate of
        an ambiguous short name with at most `MAX_ASKED` candidates (offline, the one they
        clearly single out rises to a merge; with a chat model, the model judges), and the
        pairs only the name vectors found."""
        vector_pairs = self._vector_pairs(records, forms, verdicts)
        # A crowd of long forms ("Dame Baba": 985 at 10^5 names) is left apart unread, as the
        # chat model leaves it unasked: reading every candidate's passages made an add cost
        # what the crowd is, and a pair scored from contexts is scored again whenever either
        # name gains a chunk, so one crowd member's new chunk re-read the whole crowd.
        groups = {short: g for short, g in groups.items() if len(g[0]) <= MAX_ASKED}
        wanted = set(groups).union(*(g for g, _ in groups.values())) | {k for pair in vector_pairs for k in pair}
        contexts: Mapping[str, NameEvidence] = evidence(wanted) if wanted else {}
        for short, (longer, takeable) in groups.items():
            supports = {
                other: support(contexts.get(short), contexts.get(other), {short, *longer}) for other in longer
            }
            best = clearly_best(contexts.get(short), supports) if self.adjudicator is None else None
            for other, s in supports.items():
                found = verdicts[_ordered(short, other)]
                for i, (score, method, ev) in enumerate(found):
                    if method.startswith("ambiguous-") and ev.get("short") == short:
                        raised = other == best and other in takeable
                        found[i] = (SUPPORTED, "supported-" + method.removeprefix("ambiguous-"), ev | s.as_evidence()) \
                            if raised else (score, method, ev | s.as_evidence())
        for (a, b), (cosine, candidates) in sorted(vector_pairs.items()):
            s = support(contexts.get(a), contexts.get(b), {a, b})
            # Whether a passage names both is recorded, not held against the pair: across a
            # corpus one passage often gives both forms ("Burma (Myanmar)"): on MuSiQue every
            # right pair (9 of 24) was co-mentioned, and 12 wrong ones ("Cuba" / "Havana").
            both = co_mentioned(contexts.get(a), b) or co_mentioned(contexts.get(b), a)
            score, method = (VECTOR_SUPPORTED, "vector") if supported(s) else (VECTOR_ONLY, "vector-unsupported")
            evidence_of = {"cosine": cosine, "candidates": candidates, "co_mentioned": both} | s.as_evidence()
            verdicts.setdefault((a, b), []).append((score, method, evidence_of))

    def _vector_pairs(
        self, records: Mapping[str, NameRecord], forms: Mapping[str, NameForm],
        verdicts: Mapping[tuple[str, str], list],
    ) -> dict[tuple[str, str], tuple[float, int]]:
        """Pairs within the vector radius that share no word, neither name crowded, types
        agreeing, titles not clashing: (a, b) -> (cosine, the larger crowd of the two)."""
        if self.name_vectors is None or not records:
            return {}
        near = self.name_vectors.near(set(records))
        around = set().union(*near.values()) - near.keys() if near else set()
        near |= self.name_vectors.near(around) if around else {}
        # Only live names count: the vectors of names that went away are deleted last.
        others = self.store.names(set().union(*near.values()) if near else set())
        near = {k: {o: c for o, c in found.items() if o in others} for k, found in near.items()}
        out: dict[tuple[str, str], tuple[float, int]] = {}
        for key in sorted(records):
            mine = near.get(key, {})
            # Numbers are identities a vector blurs ("1973" is close to "1974").
            if self.name_vectors.crowded(mine) or _has_digit(key):
                continue
            for other, cosine in mine.items():
                theirs = near.get(other, {})
                pair = _ordered(key, other)
                if other not in others or pair in verdicts or self.name_vectors.crowded(theirs) or _has_digit(other):
                    continue
                o = others[other]
                of = forms.get(other) or form_of(o)
                # A shared word: the string rules saw the pair and decided ("Mexico" is no
                # short form of "Mexico City"); vectors add the pairs they cannot see.
                if (forms[key].words & of.words or not families_agree(records[key], o)
                        or genders_conflict(forms[key], of)):
                    continue
                out[pair] = (cosine, max(len(mine), len(theirs)))
        return out

    def _component(self, start: set[str]) -> set[str]:
        """Every live name linked to `start` by an accepted pair or a manual merge."""
        seen = set(start)
        frontier = set(start)
        while frontier:
            nxt: set[str] = set()
            for p in self.store.pairs_of(frontier, min_score=self.threshold):
                nxt |= {p.a, p.b}
            for (a, b), decision in self.store.decisions_of(frontier).items():
                if decision == "merge":
                    nxt |= {a, b}
            frontier = nxt - seen
            seen |= frontier
        live = self.store.names(seen)
        return set(live)

    def _cluster(self, keys: set[str]) -> dict[str, str]:
        """Greedy constrained clustering of `keys` (whole components): a function of the
        pairs, decisions and names alone."""
        records = self.store.names(keys)
        forms = {k: form_of(r) for k, r in records.items()}
        decisions = self.store.decisions_of(keys)
        merges = {p for p, d in decisions.items() if d == "merge" and set(p) <= keys}
        splits = {p for p, d in decisions.items() if d == "split"}
        # The model's "different" keeps two names apart through other links too (a person's
        # split or merge overrules it).
        apart = splits | {
            (p.a, p.b) for p in self.store.pairs_of(keys, method="llm-different") if p.a in keys and p.b in keys
        }
        links = [(1.0 + 1, a, b) for a, b in merges]  # manual merges first
        links += [
            (p.score, p.a, p.b)
            for p in self.store.pairs_of(keys, min_score=self.threshold)
            if p.a in keys and p.b in keys and (p.a, p.b) not in splits
        ]
        cluster_of = {k: frozenset([k]) for k in keys}
        for _, a, b in sorted(links, key=lambda x: (-x[0], x[1], x[2])):
            ca, cb = cluster_of[a], cluster_of[b]
            if ca is cb:
                continue
            manual = (a, b) in merges
            if not manual and any(
                _ordered(x, y) in apart or clash(forms[x], forms[y]) for x in ca for y in cb
            ):
                continue
            if manual and any(_ordered(x, y) in splits for x in ca for y in cb):
                continue
            merged = ca | cb
            for k in merged:
                cluster_of[k] = merged
        canonical: dict[str, str] = {}
        for cluster in set(cluster_of.values()):
            head = min(cluster, key=lambda k: (-records[k].n_sources, -len(forms[k].core), k))
            for k in cluster:
                canonical[k] = head
        return canonical

    # ------------------------------------------------------------------ reads
    def canonical_of(self, keys: Iterable[str]) -> dict[str, str]:
        return self.store.canonical_of(keys)

    def members_of(self, canonicals: Iterable[str]) -> dict[str, set[str]]:
        canonicals = set(canonicals)
        members = self.store.members_of(canonicals)
        for c in canonicals:
            members.setdefault(c, set()).add(c)
        return members


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)
