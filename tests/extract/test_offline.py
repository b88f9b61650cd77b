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
    assert types["london"] == "LOCATION"  # spaCy's GPE, in the small type set
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


def _extract(text: str):
    chunk = _chunk(text)
    return SpacyExtractor().extract_sync([chunk])[chunk.id]


def test_junk_spans_are_dropped_and_repeated_names_folded():
    extraction = _extract(
        '"Bah!" said Scrooge Scrooge. "Humbug!" Yes, Want was there. I want to go home, '
        "said Scrooge. Scrooge Scrooge walked to Jacob Marley's house."
    )
    keys = {normalize_name(e.name) for e in extraction.entities}
    assert "scrooge scrooge" not in keys and "scrooge" in keys
    assert "want" not in keys  # the text uses it as a common word
    assert "yes" not in keys and "bah" not in keys
    assert all(not k.endswith(" s") for k in keys)  # possessives stripped


def test_a_title_line_is_never_fused_with_the_text_that_follows():
    extraction = _extract("Sathish Kalathil\nSathish Kalathil is an Indian film director from Kerala.")
    keys = {normalize_name(e.name) for e in extraction.entities}
    assert "sathish kalathil" in keys
    assert not any("sathish kalathil sathish" in k for k in keys)
    director = next(e for e in extraction.entities if normalize_name(e.name) == "sathish kalathil")
    assert director.description.startswith("Sathish Kalathil is an Indian film director")


def test_hard_wrapped_prose_lines_run_on():
    extraction = _extract("The register was signed by the clergyman, the clerk, and the old\nMarley was dead as a door-nail.")
    marley = next(e for e in extraction.entities if normalize_name(e.name) == "marley")
    assert marley.description.startswith("The register was signed")


def test_sentences_without_names_give_noun_phrase_concepts():
    extraction = _extract("The machine learning research needs a data center. Nobody knew it.")
    concepts = {normalize_name(e.name): e.type for e in extraction.entities}
    assert concepts.get("machine learning research") == "CONCEPT"
    assert concepts.get("data center") == "CONCEPT"
    assert any({normalize_name(r.source), normalize_name(r.target)} == {"machine learning research", "data center"}
               for r in extraction.relations)


def test_descriptions_are_at_most_two_short_sentences():
    sentence = "Scrooge walked along the endless street of the city " + "and further " * 40 + "home."
    extraction = _extract(" ".join([sentence] * 3) + " Scrooge slept. Scrooge woke.")
    scrooge = next(e for e in extraction.entities if normalize_name(e.name) == "scrooge")
    assert len(scrooge.description) <= 2 * 245


def test_a_span_of_two_dates_is_no_date():
    extraction = _extract(
        "Peter Bonetti lived from 29 June 1870 - 17 September 1958 in Putney. "
        "The festival ran from May to September 2010 in Leeds. He was born on 27 September 1941."
    )
    dates = {normalize_name(e.name) for e in extraction.entities if e.type == "DATE"}
    assert {"1941", "2010"} <= dates  # months of one year name that year
    assert not any(" to " in d or "1870" in d or "1958" in d for d in dates), dates


def test_a_name_cut_short_after_a_linking_word_is_dropped():
    from graphrag.extract.offline import clean_entity_name

    nlp = SpacyExtractor().nlp
    doc = nlp("He joined the Communist Party of Canada in 1931.")
    stump = doc.char_span(doc.text.index("Communist"), doc.text.index(" Canada"), label="ORG")
    whole = doc.char_span(doc.text.index("Communist"), doc.text.index(" in 1931"), label="ORG")
    assert clean_entity_name(stump) is None
    assert clean_entity_name(whole) == "Communist Party of Canada"
