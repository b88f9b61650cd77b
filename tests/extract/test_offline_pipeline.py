"""The extractor runs spaCy without its lemmatizer and lemmatises the few tokens it reads on
demand: the extraction must be the one of the whole pipeline."""

import pytest

from graphrag.extract.offline import SpacyExtractor, extraction_from_doc
from graphrag.spacy_import import import_spacy

# Verbs between names (relation keywords are lemmas: "founded" -> "found"), plural heads of
# repeated noun phrases (concepts are lemmatised: "neural networks" -> "neural network"), and
# tokens whose lemma the attribute ruler sets rather than the lemmatizer ("'d", "me").
PASSAGES = [
    "Ebenezer Scrooge employed Bob Cratchit in London. Bob Cratchit was visiting his son Tiny Tim in 1843.",
    "The Ford Motor Company was founded by Henry Ford in Dearborn, Michigan, and later built plants in Brazil.",
    "Neural networks learn quickly. Researchers trained the neural networks on large data sets; "
    "large data sets were scarce.",
    "She said she'd give me the letters that Marie Curie had written to Pierre Curie while they were studying in Paris.",
    "Tropical storms struck the coastal towns. The coastal towns were rebuilt after the tropical storms had passed.",
]


@pytest.fixture(scope="module")
def extractor() -> SpacyExtractor:
    return SpacyExtractor()


@pytest.fixture(scope="module")
def whole_pipeline(extractor: SpacyExtractor):
    return import_spacy().load(extractor.model)


def test_only_the_lemmatizer_is_left_out(extractor: SpacyExtractor, whole_pipeline) -> None:
    assert [n for n in whole_pipeline.pipe_names if n not in extractor.nlp.pipe_names] == ["lemmatizer"]


def test_lemmas_on_demand_are_the_lemmatizers(extractor: SpacyExtractor, whole_pipeline) -> None:
    for text in PASSAGES:
        ours, theirs = extractor.nlp(text), whole_pipeline(text)
        assert [extractor.lemma(t) for t in ours] == [t.lemma_ for t in theirs]


def test_the_extraction_is_the_whole_pipelines(extractor: SpacyExtractor, whole_pipeline) -> None:
    for text in PASSAGES:
        ours = extraction_from_doc(extractor.nlp(text), extractor.lemma)
        assert ours == extraction_from_doc(whole_pipeline(text), lambda t: t.lemma_)


def test_the_passages_depend_on_lemmas(extractor: SpacyExtractor) -> None:
    """Without this, the comparison above would pass with lemmas ignored."""
    docs = [extractor.nlp(text) for text in PASSAGES]
    with_lemmas = [extraction_from_doc(d, extractor.lemma) for d in docs]
    keywords = {k for e in with_lemmas for r in e.relations for k in r.keywords}
    concepts = {e.name for x in with_lemmas for e in x.entities if e.type == "CONCEPT"}
    assert {"found", "employ"} <= keywords, keywords
    assert "neural network" in concepts, concepts
    assert with_lemmas != [extraction_from_doc(d, lambda t: t.text) for d in docs]
