"""What resolution compares: a name's core words, its honorific, its type family.

Works on entity keys (`models.normalize_name`: case, Unicode and punctuation already
folded), so "Mr. Scrooge's" arrives as "mr scrooge s".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

# Honorifics and titles are not part of who someone is ("Mr. Scrooge" is "Scrooge"), but a
# gendered one tells "Mr. Fezziwig" from "Mrs. Fezziwig".
HONORIFICS: dict[str, str] = {
    "mr": "m", "mister": "m", "master": "m", "sir": "m", "lord": "m", "monsieur": "m", "herr": "m",
    "mrs": "f", "ms": "f", "miss": "f", "madam": "f", "madame": "f", "mme": "f", "mlle": "f",
    "lady": "f", "dame": "f", "frau": "f",
    "dr": "", "doctor": "", "prof": "", "professor": "", "rev": "", "reverend": "", "old": "",
    "young": "", "little": "", "capt": "", "captain": "", "st": "", "saint": "",
    # How relatives name someone ("Uncle Scrooge"): a title too, and a gendered one.
    "uncle": "m", "aunt": "f", "auntie": "f",
}
# Titles that only people carry; "St." starts places as often as people.
PERSONAL_TITLES = frozenset(HONORIFICS) - {"st", "saint", "little"}
# Words that make a longer name about something else: "Bank of England" is not "England",
# "Scrooge and Marley" is not "Scrooge", "Scrooge's nephew" is not "Scrooge".
LINKING_WORDS = frozenset({"of", "the", "and", "s", "for", "in", "on", "at", "to", "a", "an", "with", "by", "from", "or"})

NEAR_IDENTICAL_RATIO = 90.0  # rapidfuzz ratio of the whole name
NEAR_IDENTICAL_WORD = 80.0  # ... and of every word with its counterpart
# Words a letter or two apart that name opposite things.
DIRECTIONS = frozenset({
    "north", "south", "east", "west", "northern", "southern", "eastern", "western", "northeast", "northwest",
    "southeast", "southwest", "northeastern", "northwestern", "southeastern", "southwestern", "upper", "lower",
})
# Types that name the same kind of thing across extractors (spaCy labels, LLM types).
TYPE_FAMILIES: dict[str, str] = {
    "PERSON": "person", "PER": "person", "CHARACTER": "person", "PEOPLE": "person", "HUMAN": "person",
    "ORGANIZATION": "organization", "ORG": "organization", "COMPANY": "organization",
    "INSTITUTION": "organization",
    "LOCATION": "location", "LOC": "location", "GPE": "location", "FAC": "location", "PLACE": "location",
    "GEO": "location", "CITY": "location", "COUNTRY": "location", "FACILITY": "location",
    "EVENT": "event", "DATE": "date", "TIME": "date",
    "WORK": "work", "WORK_OF_ART": "work", "PRODUCT": "product", "TECHNOLOGY": "product",
    # The offline extractor's GROUP is spaCy's NORP (nationalities, religious and political
    # groups): "American" is no short form of "American Airlines".
    "CONCEPT": "concept", "NORP": "group", "GROUP": "group",
}
# Names of these families are often shortened to a part ("Scrooge" for "Ebenezer Scrooge",
# "Microsoft" for "Microsoft Corporation"); "Christmas" is not short for "Christmas Eve".
SHORTENABLE_FAMILIES = frozenset({"person", "organization"})
UNKNOWN_FAMILY = "unknown"


def type_family(entity_type: str) -> str:
    return TYPE_FAMILIES.get(entity_type.upper(), entity_type.lower() or UNKNOWN_FAMILY) if entity_type and entity_type.upper() != "UNKNOWN" else UNKNOWN_FAMILY


def compatible_types(a: str, b: str) -> bool:
    fa, fb = type_family(a), type_family(b)
    return fa == fb or UNKNOWN_FAMILY in (fa, fb)


@dataclass(frozen=True)
class NameForm:
    key: str
    core: tuple[str, ...]  # words that identify, honorifics and a trailing possessive removed
    gender: str  # "m", "f" or "" (from a gendered honorific)
    titled: bool = False  # an honorific was set aside ("Old Fezziwig", "Dr. Watson")

    @property
    def words(self) -> frozenset[str]:
        return frozenset(self.core)


def parse_name(key: str, family: str = UNKNOWN_FAMILY) -> NameForm:
    words = key.split()
    if len(words) > 1 and words[-1] == "s":  # "scrooge s" (a possessive left by the extractor)
        words = words[:-1]
    words = _initials_joined(words)
    gender = ""
    titled = False
    if family in ("person", UNKNOWN_FAMILY):
        while len(words) > 1 and words[0] in HONORIFICS:
            gender = gender or HONORIFICS[words[0]]
            words = words[1:]
            titled = True
    return NameForm(key=key, core=tuple(words), gender=gender, titled=titled)


def _initials_joined(words: list[str]) -> list[str]:
    """Initials are one word however they were punctuated: "U.S. Congress" ("u s congress")
    is "US Congress", "J. R. R. Tolkien" is "JRR Tolkien". A lone initial stays ("John F Kennedy")."""
    out: list[str] = []
    run: list[str] = []
    for w in [*words, ""]:
        if len(w) == 1 and w.isalpha():
            run.append(w)
            continue
        out.extend(["".join(run)] if len(run) > 1 else run)
        run = []
        if w:
            out.append(w)
    return out


def genders_conflict(a: NameForm, b: NameForm) -> bool:
    """Gendered titles that differ ("Mr." / "Mrs."), or a woman's title beside another title
    ("Mrs. Fezziwig" / "Old Fezziwig": a wife and her husband far more often than one person)."""
    if a.gender and b.gender and a.gender != b.gender:
        return True
    return a.titled and b.titled and (a.gender == "f") != (b.gender == "f")


def wife_or_self(a: NameForm, b: NameForm) -> bool:
    """One name has a woman's title and the other no title at all ("Mrs. Fezziwig" /
    "Fezziwig": as often his wife as herself)."""
    return (a.gender == "f" and not b.titled) or (b.gender == "f" and not a.titled)


def extends(short: NameForm, long: NameForm) -> bool:
    """`long` is `short` with more identifying words ("Ebenezer Scrooge" extends "Scrooge"),
    not a name about something else ("Scrooge's nephew", "Scrooge and Marley"). The short
    name opens or ends the long one, or keeps its first and last words ("Peter Bonetti" /
    "Peter Phillip Bonetti"): a name inside another ("African American" in "Northwest
    African American Museum", "York" in "New York Times") is a part, not a short form."""
    extra = set(long.core) - set(short.core)
    if not extra or not set(short.core) < set(long.core) or extra & LINKING_WORDS:
        return False
    s, l = short.core, long.core
    return l[: len(s)] == s or l[-len(s) :] == s or (len(s) > 1 and s[0] == l[0] and s[-1] == l[-1])


def near_identical(a: NameForm, b: NameForm) -> bool:
    """Spelling variants ("Fezziwigs", "Cratchet"): same number of words, each close to its
    counterpart, numbers identical ("26th" is not "36th"), directions too ("Eastern Europe"
    is not "Western Europe")."""
    if a.core == b.core or len(a.core) != len(b.core) or len(" ".join(a.core)) < 5:
        return False
    for x, y in zip(a.core, b.core):
        if x != y and (
            any(ch.isdigit() for ch in x + y) or fuzz.ratio(x, y) < NEAR_IDENTICAL_WORD
            or (x.rstrip("s") in DIRECTIONS and y.rstrip("s") in DIRECTIONS)
        ):
            return False
    return fuzz.ratio(" ".join(a.core), " ".join(b.core)) >= NEAR_IDENTICAL_RATIO


def clash(a: NameForm, b: NameForm) -> bool:
    """Names that cannot be one entity: clashing gendered titles, or a shared word with
    different extensions ("Bob Cratchit" / "Martha Cratchit")."""
    if genders_conflict(a, b):
        return True
    wa, wb = a.words, b.words
    return bool(wa & wb) and not (wa <= wb or wb <= wa) and not near_identical(a, b)


class WordIndex:
    """Names by word, to find the names holding every word of a shorter one (its possible
    long forms) without comparing it with each name."""

    def __init__(self, words: Mapping[str, frozenset[str]] | None = None) -> None:
        self._names: set[str] = set()
        self._by_word: dict[str, set[str]] = {}
        if words:
            self.add(words)

    def add(self, words: Mapping[str, frozenset[str]]) -> None:
        for key, ws in words.items():
            self._names.add(key)
            for word in ws:
                self._by_word.setdefault(word, set()).add(key)

    def holding(self, words: frozenset[str]) -> set[str]:
        if not words:
            return set(self._names)
        return set.intersection(*(self._by_word.get(w, set()) for w in words))
