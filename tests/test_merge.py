"""merge_entities / merge_relations: keys, majority types, fragments, sources, order-independence."""

import itertools

from graphrag.merge import merge_entities, merge_relations, record_keys
from graphrag.models import ExtractedEntity as E
from graphrag.models import ExtractedRelation as R
from graphrag.models import Extraction, normalize_name, relation_key


def records():
    return {
        "c1": Extraction(
            entities=[E(name="Ebenezer Scrooge", type="person", description="A miser."),
                      E(name="Marley", type="PERSON", description="Scrooge's late partner.")],
            relations=[R(source="Ebenezer Scrooge", target="Marley", keywords="partner, business",
                         description="They were partners.", weight=2)],
        ),
        "c2": Extraction(
            entities=[E(name="ebenezer  scrooge!", type="Person", description="A miser."),
                      E(name="Bob Cratchit", type="PERSON", description="Scrooge's clerk.")],
            relations=[R(source="Marley", target="Ebenezer Scrooge", keywords=["partner"],
                         description="Marley haunts Scrooge.", weight=1.5),
                       R(source="Bob Cratchit", target="Ebenezer Scrooge", keywords=["employs"],
                         description="Bob works for Scrooge.")],
        ),
        "c3": Extraction(
            entities=[E(name="Ebenezer Scrooge", type="ORGANIZATION", description="The firm's owner.")],
            relations=[R(source="Tiny Tim", target="Bob Cratchit", keywords=["son"], description="Tim is Bob's son.")],
        ),
    }


def test_normalize_name_folds_case_whitespace_and_punctuation():
    assert normalize_name("  Ebenezer   SCROOGE! ") == "ebenezer scrooge"
    assert normalize_name("St. Paul's") == "st paul s"
    assert normalize_name("...") == ""


def test_entities_merge_by_normalized_name_with_majority_type_and_unique_fragments():
    merged = merge_entities(records())
    scrooge = merged["ebenezer scrooge"]
    assert scrooge.type == "PERSON"  # 2 votes against 1
    assert scrooge.fragments == ("A miser.", "The firm's owner.")  # duplicate folded, most frequent first
    assert scrooge.source_ids == ("c1", "c2", "c3")
    assert scrooge.name == "Ebenezer Scrooge"


def test_relation_endpoint_missing_from_entities_becomes_an_untyped_entity():
    merged = merge_entities(records())
    assert merged["tiny tim"].type == "UNKNOWN"
    assert merged["tiny tim"].source_ids == ("c3",)


def test_relations_are_undirected_keywords_unioned_weights_summed():
    merged = merge_relations(records())
    key = relation_key("ebenezer scrooge", "marley")
    rel = merged[key]
    assert (rel.source, rel.target) == ("ebenezer scrooge", "marley")
    assert rel.weight == 3.5
    assert rel.keywords == ("partner", "business")
    assert rel.source_ids == ("c1", "c2")
    assert set(rel.fragments) == {"They were partners.", "Marley haunts Scrooge."}


def test_merge_is_independent_of_record_order():
    recs = records()
    results = set()
    for perm in itertools.permutations(recs.items()):
        ordered = dict(perm)
        results.add((repr(merge_entities(ordered)), repr(merge_relations(ordered))))
    assert len(results) == 1


def test_merge_can_be_restricted_to_keys():
    merged = merge_entities(records(), keys=["marley"])
    assert set(merged) == {"marley"}
    assert merge_relations(records(), keys=["nope|none"]) == {}


def test_record_keys_include_relation_endpoints_and_skip_self_loops():
    ext = Extraction(entities=[E(name="A")], relations=[R(source="B", target="C"), R(source="A", target="a")])
    entity_keys, relation_keys = record_keys(ext)
    assert entity_keys == {"a", "b", "c"}
    assert relation_keys == {relation_key("b", "c")}


def test_names_types_and_keywords_are_cleaned_of_control_and_bidi_characters():
    from graphrag.merge import merge_entities, merge_relations
    from graphrag.models import ExtractedEntity, ExtractedRelation, Extraction, normalize_name

    evil = "Scr\u202eooge\x00\u2066"  # a right-to-left override, NUL and an isolate
    records = {
        "c1": Extraction(
            entities=[ExtractedEntity(name=evil, type="PER\x07SON\u200f", description="A miser.\x00\nRich.")],
            relations=[ExtractedRelation(source=evil, target="Mar\x1bley", keywords=["emp\u202dloys", "\x00"],
                                         description="Partners\u2067.")],
        ),
        "c2": Extraction(entities=[ExtractedEntity(name="Scrooge", type="PERSON")]),
    }
    assert normalize_name(evil) == "scrooge"
    (scrooge,) = [e for e in merge_entities(records).values() if e.key == "scrooge"]
    assert scrooge.name == "Scrooge" and scrooge.type == "PERSON" and scrooge.source_ids == ("c1", "c2")
    assert scrooge.fragments == ("A miser.\nRich.",)  # line breaks kept in descriptions only
    (relation,) = merge_relations(records).values()
    assert (relation.source, relation.target) == ("marley", "scrooge")
    assert relation.keywords == ("employs",) and relation.fragments == ("Partners.",)
    names = {e.name for e in merge_entities(records).values()}
    assert all(ch.isprintable() for name in names for ch in name)
