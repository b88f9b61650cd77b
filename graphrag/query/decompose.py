"""The inner question of a nested one, from its dependency parse, without a model.

"Who was the first president of the association which published Journal of Psychotherapy
Integration?" asks first for "the association which published Journal of Psychotherapy
Integration", then for that association's first president. The inner phrase names the
first hop's passage more sharply than the whole question, whose words are half about the
second hop; its closest chunks join the question's own in the walk's dense prior
(`retrieve_ppr.INNER_PRIOR_WEIGHT`). A question that nests nothing has no inner question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc

# Syntactic roles of a noun phrase that can stand for a thing the question asks about first.
_ARGUMENT_DEPS = frozenset({"pobj", "dobj", "nsubj", "nsubjpass", "attr", "appos", "poss", "conj"})
# The inner phrase is a part of the question: at most this share of its words, at least
# MIN_WORDS words (a bare name is a keyword already, not a question).
MAX_SHARE = 0.8
MIN_WORDS = 3


def inner_question(doc: "Doc") -> str | None:
    """The longest noun phrase of the parsed question (a noun and everything that depends on
    it) that names something (a proper noun or an entity) and says something about it (a
    common noun or a verb besides), shorter than MAX_SHARE of the question; None if none."""
    n_words = sum(1 for t in doc if not t.is_punct)
    best: list = []
    for token in doc:
        if token.dep_ not in _ARGUMENT_DEPS or token.pos_ not in ("NOUN", "PROPN"):
            continue
        span = list(token.subtree)
        words = [t for t in span if not t.is_punct]
        if not MIN_WORDS <= len(words) <= MAX_SHARE * n_words:
            continue
        names = any(t.pos_ == "PROPN" or t.ent_type_ for t in span)
        relates = token.pos_ == "NOUN" or any(t.pos_ in ("NOUN", "VERB") for t in span)
        if names and relates and len(words) > len(best):
            best = words
    if not best:
        return None
    return doc[best[0].i : best[-1].i + 1].text
