"""The spaCy extractor: named entities with their label, relations through connecting verbs."""

from graphrag.extract.offline import SpacyExtractor
from graphrag.models import Chunk, chunk_id, normalize_name


def _chunk(text: str) -> Chunk:
    return Chunk(id=chunk_id("doc", text), document_id="doc", text=text, order=0, n_tokens=0)


def test_entities_carry_their_spacy_label_and_relations_their_connecting_verb():
    text = (
        "Ebenezer Scrooge employed Bob Cratchit in London. "
        "Bob Cratchit loved his son Tiny Tim. The year was cold."
    )
    chunk = _chunk(text)
    extraction = SpacyExtractor().extract_sync([chunk])[chunk.id]
    types = {normalize_name(e.name): e.type for e in extraction.entities}
    assert types["ebenezer scrooge"] == "PERSON"
    assert types["london"] == "GPE"
    assert "the year" not in types and "year" not in types  # a DATE that names nothing is dropped
    pairs = {(normalize_name(r.source), normalize_name(r.target)): r for r in extraction.relations}
    employ = pairs.get(("bob cratchit", "ebenezer scrooge")) or pairs[("ebenezer scrooge", "bob cratchit")]
    assert "employ" in employ.keywords
    assert employ.description.startswith("Ebenezer Scrooge employed Bob Cratchit")
    scrooge = next(e for e in extraction.entities if normalize_name(e.name) == "ebenezer scrooge")
    assert "employed Bob Cratchit" in scrooge.description


def test_extractor_id_changes_with_the_model():
    assert SpacyExtractor().extractor_id != SpacyExtractor(model="en_core_web_md").extractor_id


def test_a_chunk_without_entities_gives_an_empty_extraction():
    chunk = _chunk("it was cold and dark and nothing happened at all.")
    extraction = SpacyExtractor().extract_sync([chunk])[chunk.id]
    assert extraction.entities == [] and extraction.relations == []
