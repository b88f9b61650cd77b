"""The `auto` mode: picks a retrieval mode per question from what kind of question it is.

Four kinds, told apart by the question's form and its keywords (no model needed):
- lookup:     one named thing, asked about directly ("Who founded Vantor?", "What is X?");
- comparison: two or more named things set against each other ("Which is older, X or Y?");
- theme:      no named thing, a subject or a trend ("What are the main themes of ...?" when
              nothing in it is a name, "How do cities handle flooding?");
- bridge:     everything else with names: a chain of facts to follow ("Who is the spouse of
              the director of the film that ...?").

With a chat model and `query_auto_classifier = "llm"`, the model names the kind instead
(one short call, cached; a reply that is not one of the kinds falls back to the rules).
Each kind runs the mode that serves it (ROUTES): graph walks for chains and comparisons,
entity-centred for lookups, relation-centred for themes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from graphrag.llm.base import ChatModel
from graphrag.prompts import render_prompt
from graphrag.query.result import Keywords
from graphrag.query.usage import QueryUsage

log = logging.getLogger(__name__)

QuestionKind = Literal["lookup", "bridge", "comparison", "theme"]
KINDS: tuple[str, ...] = ("lookup", "bridge", "comparison", "theme")
ROUTES: dict[str, str] = {"lookup": "local", "bridge": "mix", "comparison": "mix", "theme": "global"}

_COMPARATIVE = re.compile(
    r"\b(?:more|less|fewer|most|least|older|younger|oldest|youngest|earlier|later|earliest|latest|first|last|"
    r"bigger|smaller|larger|largest|smallest|longer|shorter|longest|shortest|higher|lower|highest|lowest|"
    r"taller|closer|farther|further|better|worse|same|both|either|neither|differ\w*|compar\w*|versus|vs\.?)\b",
    re.I,
)
_OR = re.compile(r"\bor\b", re.I)
_AND = re.compile(r"\b(?:and|both)\b", re.I)
_THEME_CUES = re.compile(
    r"\b(?:themes?|overall|main ideas?|summar\w*|trends?|patterns?|in general|generally|overview|"
    r"common|kinds? of|types? of|role of|impact of|why do|how do)\b",
    re.I,
)
# Question words that start a direct question about one thing.
_LOOKUP_START = re.compile(r"^\s*(?:who|what|when|where|which|how (?:many|much|old|long))\b", re.I)
# A clause or phrase that hangs another fact on the first: "the X of the Y", "that/which/who ...",
# and the possessive "Y's X" (the same chain as "the X of Y": "the first president of
# Damerjog's country" asks for the country first).
_NESTING = re.compile(
    r"\b(?:of the|of a|that|which|whose|who (?:was|is|were|did|has|had)|where .* (?:was|is))\b|\w['\u2019]s\s+(?!own\b)[a-z]",
    re.I,
)
_WORD = re.compile(r"\w+")
LOOKUP_MAX_WORDS = 9


@dataclass(frozen=True)
class Route:
    kind: str
    mode: str
    by: Literal["rules", "llm"]

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "mode": self.mode, "by": self.by}


def classify(question: str, keywords: Keywords) -> str:
    """The kind of a question, from its form and keywords."""
    names = len(distinct_names(keywords.low_level))
    words = len(_WORD.findall(question))
    if _COMPARATIVE.search(question) and (
        (names >= 1 and _OR.search(question)) or (names >= 2 and _AND.search(question))
    ):
        return "comparison"
    if names == 0:
        return "theme"
    # The question word opens the question; a "who was" after it opens a nested clause.
    rest = question.strip().split(" ", 1)[-1] if " " in question.strip() else ""
    nested = len(_NESTING.findall(rest))
    if _THEME_CUES.search(question) and names <= 1 and not nested:
        return "theme"
    if names == 1 and words <= LOOKUP_MAX_WORDS and nested == 0 and _LOOKUP_START.search(question):
        return "lookup"
    return "bridge"


def distinct_names(names: tuple[str, ...]) -> list[str]:
    """Names that are not part of a longer one ("Cratchit" of "Bob Cratchit")."""
    lowered = [n.lower() for n in names]
    return [n for n, low in zip(names, lowered) if not any(low != other and low in other for other in lowered)]


def route(question: str, keywords: Keywords) -> Route:
    kind = classify(question, keywords)
    return Route(kind, ROUTES[kind], "rules")


async def route_with_model(
    chat: ChatModel, question: str, keywords: Keywords, usage: QueryUsage | None = None
) -> Route:
    """The chat model names the kind; the rules decide when its reply is not a kind."""
    prompt = render_prompt("query_route", question=question, kinds=", ".join(KINDS))
    result = await chat.complete([{"role": "user", "content": prompt}], purpose="route")
    if usage is not None:
        usage.record("route", result)
    reply = result.text.strip().lower()
    found = [k for k in KINDS if re.search(rf"\b{k}\b", reply)]
    if len(found) == 1:
        return Route(found[0], ROUTES[found[0]], "llm")
    log.warning("the route classifier replied %r, not one of %s; using the rules", result.text[:80], KINDS)
    return route(question, keywords)
