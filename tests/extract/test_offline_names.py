"""The offline extractor's names: short names inside one passage, structures, dates."""

from graphrag.extract.coref import short_name_targets
from graphrag.extract.offline import SpacyExtractor, _years, type_of_mention
from graphrag.models import Chunk, chunk_id, normalize_name


def _extract(text: str):
    chunk = Chunk(id=chunk_id("doc", text), document_id="doc", text=text, order=0, n_tokens=0)
    return SpacyExtractor().extract_sync([chunk])[chunk.id]


def test_a_short_name_is_the_one_full_name_of_its_passage():
    targets = short_name_targets(
        {"jones": "PERSON", "david jones": "PERSON", "david hugh jones": "PERSON", "wales": "LOCATION"}
    )
    assert targets == {"jones": "david hugh jones", "david jones": "david hugh jones"}
    assert short_name_targets({"braves": "ORGANIZATION", "atlanta braves": "ORGANIZATION"}) == {
        "braves": "atlanta braves"
    }


def test_a_short_name_several_full_names_extend_stays_apart():
    assert short_name_targets({"cratchit": "PERSON", "bob cratchit": "PERSON", "martha cratchit": "PERSON"}) == {}


def test_titles_places_and_longer_names_about_something_else_never_fold():
    # "Mrs. Cratchit" beside "Bob Cratchit" is as often his wife.
    assert short_name_targets({"mrs cratchit": "PERSON", "bob cratchit": "PERSON"}) == {}
    # A place inside a place is another place.
    assert short_name_targets({"utah": "LOCATION", "utah county": "LOCATION"}) == {}
    # "Scrooge's nephew" and "Bank of England" are no longer forms of "Scrooge" and "England".
    assert short_name_targets({"scrooge": "PERSON", "scrooge s nephew": "PERSON"}) == {}
    assert short_name_targets({"england": "ORGANIZATION", "bank of england": "ORGANIZATION"}) == {}
    # Another type family: the person "Jordan" is not short for the organisation "Jordan Grand Prix".
    assert short_name_targets({"jordan": "PERSON", "jordan grand prix": "ORGANIZATION"}) == {}


def test_the_extractor_folds_a_short_name_into_its_passages_full_name():
    extraction = _extract(
        "Nelson Mandela became president of South Africa in 1994. Mandela then met Bill Clinton in Washington."
    )
    keys = {normalize_name(e.name) for e in extraction.entities}
    assert "nelson mandela" in keys and "mandela" not in keys
    ends = {frozenset((normalize_name(r.source), normalize_name(r.target))) for r in extraction.relations}
    assert frozenset(("nelson mandela", "bill clinton")) in ends  # the short name's relations too
    assert all("mandela" not in e for e in ends)
    mandela = next(e for e in extraction.entities if normalize_name(e.name) == "nelson mandela")
    assert "met Bill Clinton" in mandela.description


def test_structures_are_typed_apart_from_the_places_they_are_in():
    assert type_of_mention("GPE", "munich airport") == "FACILITY"
    assert type_of_mention("ORG", "penticton regional airport") == "FACILITY"
    assert type_of_mention("FAC", "golden gate") == "FACILITY"
    assert type_of_mention("GPE", "munich") == "LOCATION"
    assert type_of_mention("PERSON", "cook strait") == "LOCATION"  # no person is called "... Strait"
    assert type_of_mention("PERSON", "nathan lane") == "PERSON"  # a surname that is also a structure word
    assert type_of_mention("PERSON", "airport") == "PERSON"  # one word: no head to go by
    assert type_of_mention("GPE", "san francisco state university") == "ORGANIZATION"
    assert type_of_mention("GPE", "british united airways") == "ORGANIZATION"


def test_a_date_is_named_without_its_modifiers_and_never_without_its_year():
    extraction = _extract(
        "The base opened in early December 1941. It was closed on 1 August and sold in March. "
        "The order came at Christmas Eve."
    )
    dates = {normalize_name(e.name) for e in extraction.entities if e.type == "DATE"}
    assert "1941" in dates
    assert "christmas eve" in dates  # a date without a year that names something
    assert not dates & {"early december 1941", "december 1941", "1 august", "march"}


def test_a_date_is_the_entity_of_its_year():
    extraction = _extract(
        "She was born on 16 December 2015 in Leeds. The school opened in December 2015. "
        "It was sold on May 5, 1990. The war lasted 1000 years."
    )
    dates = {normalize_name(e.name) for e in extraction.entities if e.type == "DATE"}
    assert {"2015", "1990"} <= dates
    assert not {d for d in dates if "december" in d or d == "1000"}, dates
    born = next(e for e in extraction.entities if normalize_name(e.name) == "2015")
    assert "16 December 2015" in born.description  # the day is in the year's description


def test_a_year_keeps_its_era_and_a_duration_is_no_year():
    nlp = SpacyExtractor().nlp
    assert _years(list(nlp("300 BC"))) == {"300 BC"}
    assert _years(list(nlp("1000 years"))) == set()
    assert _years(list(nlp("29 June 1870 - 17 September 1958"))) == {"1870", "1958"}  # two: no one date


def test_who_someone_is_is_no_part_of_their_name():
    extraction = _extract("Thomas Bevan was, with fellow Welshman David Jones, the first missionary in Madagascar.")
    keys = {normalize_name(e.name) for e in extraction.entities if e.type == "PERSON"}
    assert "david jones" in keys and "welshman david jones" not in keys


def test_a_given_name_that_ends_in_man_is_kept():
    extraction = _extract("The sermon was given by Norman Vincent Peale in New York.")
    keys = {normalize_name(e.name) for e in extraction.entities if e.type == "PERSON"}
    assert "norman vincent peale" in keys


def test_what_kind_of_thing_a_name_is_standing_alone_is_no_name():
    extraction = _extract(
        "The Council met in Leeds with the Army. Later the Church of England and the Leeds City Council "
        "wrote to Mr. Hall."
    )
    keys = {normalize_name(e.name) for e in extraction.entities}
    assert not keys & {"council", "army", "church"}, keys
    assert "leeds city council" in keys
    assert "hall" in keys  # a surname that is also a kind word
