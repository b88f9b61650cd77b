"""An in-process `ChatModel` for tests, and a deterministic responder that plays the LLM.

`ScriptedChatModel(responder)` answers every call with `responder(messages, purpose)`,
counting usage and using the cache exactly like the HTTP client does.

`derived_extraction_responder` answers from the prompt alone, so runs are reproducible
and independent of the order in which chunks are extracted:
- extract / extract_reask: entities = capitalised word sequences of the fenced document
  (type from simple rules), relations = pairs of entities in the same sentence, with that
  sentence as description;
- glean: nothing missed;
- summarize: the distinct first sentences of the fenced fragments, sorted;
- keywords: capitalised sequences of the question as low-level keywords, its other long
  words as high-level ones;
- resolve: "unsure" for every pair (a cautious judge: pairs stay as string evidence left
  them; `pair_verdict_responder` plays a judge that decides);
- anything else: a short answer quoting the first fenced block.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from graphrag.llm.base import ChatResult, Message, Usage, Validator
from graphrag.llm.cache import LLMCache, check_answer
from graphrag.models import normalize_name, relation_key
from graphrag.tokens import count_tokens

Responder = Callable[[Sequence[Message], str], str]


class ScriptedChatModel:
    """`ChatModel` whose answers come from a function instead of an endpoint.

    `requests` lists the (purpose, messages) of every call that reached the responder
    (cache hits do not). A responder may raise to simulate a failing endpoint; the call is
    then counted as a failure. `latency` makes calls take time so concurrency shows.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        model: str = "scripted-model",
        cache: LLMCache | None = None,
        usage: Usage | None = None,
        latency: float = 0.0,
    ) -> None:
        self.responder = responder or derived_extraction_responder
        self.model = model
        self.cache = cache
        self.usage = usage if usage is not None else Usage()
        self.latency = latency
        self.requests: list[tuple[str, list[Message]]] = []
        self.closed = False

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        purpose: str,
        json_mode: bool = False,
        validate: Validator | None = None,
        use_cache: bool = True,
        **params: Any,
    ) -> ChatResult:
        key = LLMCache.key(self.model, messages, {"json_mode": json_mode, **params})
        if use_cache and self.cache is not None and (cached := self.cache.get_valid(key, validate)) is not None:
            self.usage.record(purpose, cache_hit=True)
            return cached
        self.requests.append((purpose, [dict(m) for m in messages]))
        await asyncio.sleep(self.latency)  # also yields, so concurrent calls interleave
        prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
        try:
            text = self.responder(messages, purpose)
        except Exception:
            self.usage.record(purpose, prompt_tokens=prompt_tokens, failed=True)
            raise
        result = ChatResult(text, prompt_tokens, count_tokens(text), finish_reason="stop")
        self.usage.record(purpose, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)
        check_answer(result, validate)
        if self.cache is not None:
            self.cache.put_if_worth_it(key, result)
        return result

    async def stream(self, messages: Sequence[Message], *, purpose: str, **params: Any) -> AsyncIterator[str]:
        result = await self.complete(messages, purpose=purpose, **params)
        for piece in re.findall(r"\S+\s*|\s+", result.text):
            yield piece

    async def aclose(self) -> None:
        self.closed = True

    def purposes(self) -> list[str]:
        return [purpose for purpose, _ in self.requests]


class DictCacheStore:
    """The cache half of a StateStore, in a dict: enough for `LLMCache`."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def cache_get(self, key: str) -> str | None:
        return self.data.get(key)

    def cache_put(self, key: str, value: str) -> None:
        self.data[key] = value


# --- reading prompts

_FENCE = re.compile(
    r"^<<<(?P<label>[A-Z_]+) (?P<tag>[0-9a-f]{8})\n(?P<body>.*?)\n(?P=label) (?P=tag)>>>$",
    re.DOTALL | re.MULTILINE,
)


def fenced_text(messages: Sequence[Message] | str, label: str | None = None) -> str | None:
    """The text of the first block fenced by `graphrag.prompts.fence` (with that label, if
    given) in a prompt or a conversation; None when there is none."""
    prompts = [messages] if isinstance(messages, str) else [m["content"] for m in messages]
    for prompt in prompts:
        for match in _FENCE.finditer(prompt):
            if label is None or match["label"] == label:
                return match["body"]
    return None


def pair_blocks(messages: Sequence[Message]) -> list[list[str]]:
    """The name pairs of a `resolve_pairs` prompt: per pair, its lines after "Pair n"."""
    body = fenced_text(messages, "PAIRS")
    if body is None:
        raise AssertionError('no fenced PAIRS block in the resolve prompt; render it with fence(..., "PAIRS")')
    blocks: list[list[str]] = []
    for line in body.splitlines():
        if re.fullmatch(r"Pair \d+", line.strip()):
            blocks.append([])
        elif blocks and line.strip():
            blocks[-1].append(line)
    return blocks


def judge_pair(block: Sequence[str]) -> dict[str, str]:
    """A judge that reads the shorter name's passages: one that names both -> different;
    the names differ by a title -> same, unless the pronouns disagree with it; the longer
    name's extra words all appear -> same; otherwise unsure."""
    names: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith('"'):
            names.append((line[1 : line.index('"', 1)], []))
        elif names:
            names[-1][1].append(line.strip().removeprefix("- "))
    if len(names) != 2:
        return {"verdict": "unsure", "reason": "could not read the pair"}
    def words(name: str) -> tuple[set[str], set[str]]:  # (core words, title words)
        all_words = normalize_name(name).split()
        return {w for w in all_words if w not in _HONORIFIC_WORDS}, {w for w in all_words if w in _HONORIFIC_WORDS}

    # The shorter name has fewer identifying words, then fewer titles.
    (short, passages), (long, _) = sorted(names, key=lambda n: (len(words(n[0])[0]), len(words(n[0])[1]), n[0]))
    (short_core, short_titles), (long_core, long_titles) = words(short), words(long)
    extra = long_core - short_core
    text = normalize_name(" ".join(passages))
    seen = set(text.split()) - short_core
    if not passages:
        return {"verdict": "unsure", "reason": "the passages do not tell"}
    if f" {normalize_name(long)} " in f" {text} ":
        return {"verdict": "different", "reason": "one passage names both"}
    if not extra and long_titles != short_titles:  # "Mr Scrooge" / "Scrooge": one, unless the pronouns disagree
        female = bool((long_titles | short_titles) & _FEMALE_TITLES)
        pronouns = seen & {"he", "his", "him", "she", "her", "hers"}
        if pronouns and (female != bool(pronouns & {"she", "her", "hers"})):
            return {"verdict": "different", "reason": "the pronouns disagree with the title"}
        return {"verdict": "same", "reason": "the same name with a title"}
    if extra and extra <= seen:
        return {"verdict": "same", "reason": f"{short!r} is called {' '.join(sorted(extra))!r} too"}
    return {"verdict": "unsure", "reason": "the passages do not tell"}


def pair_verdict_responder(messages: Sequence[Message], purpose: str) -> str:
    """`derived_extraction_responder`, with `judge_pair` deciding the name pairs."""
    if purpose == "resolve":
        return json.dumps({"verdicts": [
            {"pair": i, **judge_pair(block)} for i, block in enumerate(pair_blocks(messages), 1)
        ]})
    return derived_extraction_responder(messages, purpose)


# --- a model that reads a story as an LLM would, a little better than the derived one

_HONORIFIC_DOT = re.compile(r"\b(Mr|Mrs|Ms|Dr|St|Messrs)\.\s+(?=[A-Z])")
_SPEECH_VERBS = "said|cried|replied|asked|returned|exclaimed|answered|observed|thought|rejoined|added|whispered"
_HONORIFIC_WORDS = frozenset("mr mrs ms miss master dr old young little sir lady madam st uncle aunt".split())
# Words a model knows open a sentence but never a name ("Here Scrooge", "Whereat Scrooge").
_NOT_NAMES = frozenset(
    "here there now then perhaps whereat whereupon up down well why ah oh alas yes no poor dear hallo hello".split()
)
_FEMALE_TITLES = frozenset("mrs ms miss lady madam aunt".split())


def story_extraction_responder(messages: Sequence[Message], purpose: str) -> str:
    """`pair_verdict_responder` whose extraction reads names as a model would: "Mr." does not
    end a sentence and belongs to the name; a lone word the chunk also uses inside a
    person's full name, as the speaker of "said" or as someone addressed (", Ebenezer!") is a
    person; a doubled name ("Scrooge Scrooge") is one name. Generic rules on the chunk
    alone: no list of names."""
    if purpose not in ("extract", "extract_reask"):
        return pair_verdict_responder(messages, purpose)
    document = fenced_text(messages, "DOCUMENT")
    if document is None:
        raise AssertionError(f"no fenced DOCUMENT in the {purpose} prompt")
    return json.dumps(derive_story_extraction(document), ensure_ascii=False)


def derive_story_extraction(text: str) -> dict[str, list[dict[str, Any]]]:
    text = _HONORIFIC_DOT.sub(lambda m: m.group(1) + " ", text)
    extraction = derive_extraction(text, story=True)

    def undoubled(name: str) -> str:
        words = name.split()
        return words[0] if len(words) > 1 and len({w.lower() for w in words}) == 1 else name

    person_words = {
        w for e in extraction["entities"] if e["type"] == "person"
        for w in normalize_name(e["name"]).split() if w not in _HONORIFIC_WORDS
    }
    flat = " ".join(text.split())
    entities: dict[str, dict[str, Any]] = {}
    for e in extraction["entities"]:
        name = undoubled(e["name"])
        words = normalize_name(name).split()
        # The speaker of "said", or someone addressed (", Ebenezer!"): a person.
        speaker = re.search(
            rf"(?:\b(?:{_SPEECH_VERBS})\s+{re.escape(name)}\b|\b{re.escape(name)}\s+(?:{_SPEECH_VERBS})\b"
            rf"|,\s+{re.escape(name)}\s*[!?])",
            flat,
        )
        if e["type"] == "concept" and len(words) == 1 and (words[0] in person_words or speaker):
            e = {**e, "type": "person"}
        elif words and words[0] in _HONORIFIC_WORDS and len(words) > 1:
            e = {**e, "type": "person"}
        entities.setdefault(normalize_name(name), {**e, "name": name})
    relations = [
        {**r, "source": undoubled(r["source"]), "target": undoubled(r["target"])}
        for r in extraction["relations"]
        if normalize_name(undoubled(r["source"])) != normalize_name(undoubled(r["target"]))
    ]
    return {"entities": list(entities.values()), "relations": relations}


# --- the deterministic "LLM"

EMPTY_EXTRACTION = json.dumps({"entities": [], "relations": []})


def derived_extraction_responder(messages: Sequence[Message], purpose: str) -> str:
    if purpose in ("extract", "extract_reask"):
        document = fenced_text(messages, "DOCUMENT")
        if document is None:
            raise AssertionError(f"no fenced DOCUMENT in the {purpose} prompt")
        return json.dumps(derive_extraction(document), ensure_ascii=False)
    if purpose == "glean":
        return EMPTY_EXTRACTION
    if purpose == "summarize":
        return derive_summary(messages[-1]["content"])
    if purpose == "keywords":
        return json.dumps(derive_keywords(_question(messages[-1]["content"])), ensure_ascii=False)
    if purpose == "resolve":
        return json.dumps({"verdicts": [
            {"pair": i, "verdict": "unsure", "reason": "scripted"} for i in range(1, len(pair_blocks(messages)) + 1)
        ]})
    quoted = fenced_text(messages) or messages[-1]["content"]
    return f"Scripted {purpose} answer. {_sentences(quoted)[0] if quoted.strip() else ''}".strip()


_STOPWORDS = frozenset(
    """a an and as at but by for from he her his i if in into it its of on or our she that the
    their then there these they this those to was we were what when where which while who why
    with how does did do is are be been not no yes after before during since until also however
    although because so than once all some any each every many most other such my your me him
    them us nobody somebody everybody nothing even now yet still oh about between over under
    it's i'll i'm i've i'd that's there's what's let's we'll you're he's she's""".split()
)
_ORGANIZATION_WORDS = frozenset(
    """inc corp corporation ltd llc company co university college school institute academy agency
    bank council party union society association foundation group committee ministry department
    laboratory labs museum church army navy court""".split()
)
_LOCATION_WORDS = frozenset(
    """city town village river mountain mount lake island islands street road county province
    state states bay valley sea ocean park kingdom republic empire coast harbour harbor""".split()
)
_EVENT_WORDS = frozenset(
    "war battle conference summit olympics festival revolution election treaty prize award games".split()
)
_DATE_WORDS = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday christmas easter""".split()
)
_LOCATION_PREPOSITIONS = frozenset({"in", "at", "near", "from"})
_WORD = re.compile(r"[^\W_][\w'’]*(?:-[^\W_][\w'’]*)*")
_MAX_ENTITIES_PER_SENTENCE = 6


def derive_extraction(text: str, *, story: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The extraction a simple, consistent "model" would give for this text. `story`: a
    word that only opens the sentence is no part of a longer name either ("Whereat
    Scrooge"), and a description also has the sentence before the mention."""
    sentences = _sentences(text)
    names_in_text = _capitalised_mid_sentence(sentences)
    entities: dict[str, dict[str, Any]] = {}
    relations: dict[str, dict[str, Any]] = {}
    for i, sentence in enumerate(sentences):
        found: list[tuple[str, int, int]] = []  # (name, start, end) in the sentence
        for name, start, end, type_ in _mentions(sentence, names_in_text, story=story):
            key = normalize_name(name)
            if key not in entities:
                described = " ".join(sentences[max(0, i - 1) : i + 1]) if story else sentence
                entities[key] = {"name": name, "type": type_, "description": described}
            if all(normalize_name(n) != key for n, _, _ in found):
                found.append((name, start, end))
        found = found[:_MAX_ENTITIES_PER_SENTENCE]
        for i, (source, _, source_end) in enumerate(found):
            for target, target_start, _ in found[i + 1 :]:
                pair = relation_key(normalize_name(source), normalize_name(target))
                if pair in relations:
                    continue
                between = [
                    w.lower() for w in _WORD.findall(sentence[source_end:target_start])
                    if not _is_stopword(w) and len(w) > 2
                ]
                relations[pair] = {
                    "source": source,
                    "target": target,
                    "keywords": between[:2] or ["related"],
                    "description": sentence,
                    "weight": 1.0,
                }
    return {"entities": list(entities.values()), "relations": list(relations.values())}


def derive_summary(prompt: str) -> str:
    """Order-independent: the distinct first sentences of the fragments, sorted."""
    body = fenced_text(prompt, "DESCRIPTIONS")
    if body is None:
        raise AssertionError(
            "no fenced DESCRIPTIONS block in the summarize prompt; render it with render_prompt("
            '"summarize_descriptions", ..., fragments=fence(lines, "DESCRIPTIONS"))'
        )
    fragments = [line.strip().removeprefix("- ").strip() for line in body.splitlines() if line.strip()]
    firsts = sorted({_sentences(f)[0] for f in fragments if f})
    words = " ".join(firsts).split()
    return " ".join(words[:80])


def derive_keywords(question: str) -> dict[str, list[str]]:
    low = list(dict.fromkeys(name for name, *_ in _mentions(question, None)))
    mentioned = {normalize_name(w) for name in low for w in name.split()}
    high = [
        w for w in dict.fromkeys(normalize_name(_strip_possessive(w)) for w in _WORD.findall(question))
        if len(w) > 3 and w not in _STOPWORDS and w not in mentioned
    ]
    return {"high_level_keywords": high[:8], "low_level_keywords": low[:8]}


def _question(prompt: str) -> str:
    """The question in a keywords prompt: fenced, or after the last "Question:"."""
    fenced = fenced_text(prompt)
    if fenced is not None:
        return fenced
    _, found, question = prompt.rpartition("Question:")
    return question.strip() if found else prompt


def _sentences(text: str) -> list[str]:
    """Sentences, with hard-wrapped lines joined; a blank line always ends a sentence."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        sentences += [s for s in re.split(r"(?<=[.!?])\s+", flat) if s]
    return sentences or [""]


def _capitalised_mid_sentence(sentences: Sequence[str]) -> set[str]:
    """Words capitalised where grammar does not require it: likely names."""
    return {
        word.lower() for sentence in sentences for word in _WORD.findall(sentence)[1:] if word[0].isupper()
    }


def _mentions(
    sentence: str, names_in_text: set[str] | None, *, story: bool = False
) -> list[tuple[str, int, int, str]]:
    """Runs of capitalised words as (name, start, end, type). Leading stopwords are dropped,
    and so is a lone word that opens the sentence unless `names_in_text` has it."""
    runs: list[list[re.Match[str]]] = []
    previous_end = -1
    for word in _WORD.finditer(sentence):
        capitalised = word.group()[0].isupper()
        if capitalised and previous_end >= 0 and sentence[previous_end : word.start()] == " ":
            runs[-1].append(word)
        elif capitalised:
            runs.append([word])
        previous_end = word.end() if capitalised else -1
    first_word = _WORD.search(sentence)
    mentions = []
    for run in runs:
        while run and _is_stopword(run[0].group()):
            run = run[1:]
        if not run:
            continue
        opens_sentence = first_word is not None and run[0].start() == first_word.start()
        unknown = names_in_text is not None and run[0].group().lower() not in names_in_text
        if len(run) == 1 and opens_sentence and unknown:
            continue
        if story and len(run) > 1 and ((opens_sentence and unknown) or run[0].group().lower() in _NOT_NAMES):
            run = run[1:]
        name = _strip_possessive(sentence[run[0].start() : run[-1].end()])
        before = sentence[: run[0].start()].split()
        preposition = before[-1].lower() if before else ""
        mentions.append((name, run[0].start(), run[-1].end(), _guess_type(name, preposition)))
    return mentions


def _is_stopword(word: str) -> bool:
    return word.lower().replace("’", "'") in _STOPWORDS


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s?$", "", word)


def _guess_type(name: str, preposition: str) -> str:
    words = [w.lower().strip(".") for w in name.split()]
    if any(w in _ORGANIZATION_WORDS for w in words) or (len(words) == 1 and name.isupper() and len(name) > 1):
        return "organization"
    if any(w in _LOCATION_WORDS for w in words) or preposition in _LOCATION_PREPOSITIONS:
        return "location"
    if any(w in _EVENT_WORDS for w in words):
        return "event"
    if any(w in _DATE_WORDS for w in words):
        return "date"
    return "person" if 2 <= len(words) <= 3 else "concept"
