"""Repairing and validating model answers into extractions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from graphrag.errors import LLMOutputError, LLMTruncatedError
from graphrag.extract.parse import extraction_validator, merge_extractions, parse_extraction
from graphrag.models import ExtractedEntity, ExtractedRelation, Extraction

VALID: dict[str, Any] = {
    "entities": [
        {"name": "Ada Lovelace", "type": "person", "description": "A mathematician."},
        {"name": "Analytical Engine", "type": "object", "description": "A proposed computer."},
    ],
    "relations": [
        {
            "source": "Ada Lovelace",
            "target": "Analytical Engine",
            "keywords": ["programming"],
            "description": "She wrote a program for it.",
            "weight": 8,
        }
    ],
}


def names(extraction: Extraction) -> list[str]:
    return [e.name for e in extraction.entities]


def test_valid_answer_passes_the_schema_unchanged() -> None:
    extraction_validator().validate(VALID)
    extraction = parse_extraction(json.dumps(VALID))
    assert extraction.model_dump() == {
        "entities": VALID["entities"],
        "relations": [{**VALID["relations"][0], "weight": 8.0}],
    }


@pytest.mark.parametrize(
    "answer",
    [
        "```json\n" + json.dumps(VALID) + "\n```",
        "Here is the extraction you asked for:\n" + json.dumps(VALID) + "\nLet me know if you need more.",
        "<think>The user wants entities {like this}.</think>\n" + json.dumps(VALID),
        json.dumps(VALID).replace('"', "'"),  # single quotes
        json.dumps(VALID, indent=1).replace("}\n", "},\n").replace("]\n", "],\n"),  # trailing commas
    ],
    ids=["code-fence", "prose-around", "think-block", "single-quotes", "trailing-commas"],
)
def test_repairs_common_formatting_mistakes(answer: str) -> None:
    extraction = parse_extraction(answer)
    assert names(extraction) == ["Ada Lovelace", "Analytical Engine"]
    assert extraction.relations[0].keywords == ["programming"]


@pytest.mark.parametrize("cut", [-40, -3, 30, 60], ids=lambda c: f"cut{c}")
def test_a_truncated_answer_is_never_repaired_into_data(cut: int) -> None:
    # Issue 11: `{"entities": [{"name": "Broken", "type": ` used to become one valid entity.
    answer = json.dumps(VALID)[:cut]
    with pytest.raises(LLMTruncatedError, match="cut off"):
        parse_extraction(answer)
    with pytest.raises(LLMTruncatedError):
        parse_extraction(answer, drop_invalid=True)
    with pytest.raises(LLMTruncatedError):
        parse_extraction('{"entities": [{"name": "Broken", "type": ')


@pytest.mark.parametrize(
    "answer",
    [
        "```json\n" + json.dumps(VALID) + "\n```",
        "Here it is: " + json.dumps(VALID) + " Hope this helps.",
        json.dumps(VALID, indent=1).replace("}\n", "},\n").replace("]\n", "],\n").rstrip(",\n"),
        json.dumps(VALID).replace('"', "'"),
        "// the extraction\n" + json.dumps(VALID),
    ],
    ids=["fence", "prose", "trailing-commas", "single-quotes", "comment"],
)
def test_lossless_repairs_are_accepted(answer: str) -> None:
    assert names(parse_extraction(answer)) == names(parse_extraction(json.dumps(VALID)))


@pytest.mark.parametrize("answer", ['{"entities": [{"name": "X", "type": }], "relations": []}', "{entities: []}"])
def test_lossy_repairs_are_refused(answer: str) -> None:
    with pytest.raises(LLMOutputError, match="not valid JSON"):
        parse_extraction(answer)


def test_lightrag_style_keys_and_string_values() -> None:
    answer = {
        "entities": [{"entity_name": "Ada Lovelace", "entity_type": "PERSON", "entity_description": "Writer."}],
        "relationships": [
            {
                "src_id": "Ada Lovelace",
                "tgt_id": "Charles Babbage",
                "relationship_keywords": "collaboration; correspondence",
                "relationship_description": "They worked together.",
                "relationship_strength": "9/10",
            }
        ],
    }
    extraction = parse_extraction(json.dumps(answer))
    assert extraction.entities[0] == ExtractedEntity(name="Ada Lovelace", type="PERSON", description="Writer.")
    assert extraction.relations == [
        ExtractedRelation(
            source="Ada Lovelace",
            target="Charles Babbage",
            keywords=["collaboration", "correspondence"],
            description="They worked together.",
            weight=9.0,
        )
    ]


def test_graph_style_top_level_list_and_wrapped_objects() -> None:
    flat = [
        {"id": "Ada Lovelace", "label": "person"},
        {"from": "Ada Lovelace", "to": "Analytical Engine", "type": "wrote notes on"},
    ]
    extraction = parse_extraction(json.dumps(flat))
    assert names(extraction) == ["Ada Lovelace", "Analytical Engine"]
    assert extraction.relations[0].keywords == ["wrote notes on"]
    assert parse_extraction(json.dumps({"result": VALID})) == parse_extraction(json.dumps(VALID))
    assert parse_extraction(json.dumps([VALID])) == parse_extraction(json.dumps(VALID))
    assert parse_extraction(json.dumps({"nodes": [], "edges": []})) == Extraction()


def test_entities_listed_by_name_only() -> None:
    extraction = parse_extraction('{"entities": ["Ada Lovelace", "Charles Babbage"], "relations": []}')
    assert names(extraction) == ["Ada Lovelace", "Charles Babbage"]


def test_missing_fields_get_defaults() -> None:
    extraction = parse_extraction('{"entities": [{"name": "Ada"}], "relations": []}')
    assert extraction.entities == [ExtractedEntity(name="Ada", type="UNKNOWN", description="")]
    relation = parse_extraction('{"entities": [], "relations": [{"source": "A1", "target": "B2"}]}').relations[0]
    assert (relation.keywords, relation.description, relation.weight) == ([], "", 1.0)


def test_relation_endpoints_missing_from_entities_are_added() -> None:
    answer = {
        "entities": [{"name": "Ada Lovelace", "type": "person", "description": ""}],
        "relations": [{"source": "ada lovelace", "target": "Charles Babbage", "description": "friends"}],
    }
    extraction = parse_extraction(json.dumps(answer))
    assert [(e.name, e.type) for e in extraction.entities] == [
        ("Ada Lovelace", "person"),
        ("Charles Babbage", "UNKNOWN"),
    ]
    assert len(extraction.relations) == 1


def test_duplicates_are_merged_and_self_relations_dropped() -> None:
    answer = {
        "entities": [
            {"name": "Ada Lovelace", "type": "UNKNOWN", "description": "A writer."},
            {"name": "ADA  LOVELACE", "type": "person", "description": "A mathematician."},
        ],
        "relations": [
            {"source": "Ada Lovelace", "target": "Babbage", "keywords": ["work"], "weight": 2},
            {"source": "Babbage", "target": "Ada Lovelace", "keywords": ["Work", "letters"], "weight": 5},
            {"source": "Ada Lovelace", "target": "ada lovelace"},
        ],
    }
    extraction = parse_extraction(json.dumps(answer))
    ada = extraction.entities[0]
    assert (ada.name, ada.type, ada.description) == ("Ada Lovelace", "person", "A writer.\nA mathematician.")
    assert len(extraction.relations) == 1
    assert (extraction.relations[0].keywords, extraction.relations[0].weight) == (["work", "letters"], 5.0)


def test_merge_extractions_is_what_gleaning_uses() -> None:
    first = Extraction(entities=[ExtractedEntity(name="Ada", type="person")])
    more = Extraction(
        entities=[ExtractedEntity(name="ada", description="Mathematician.")],
        relations=[ExtractedRelation(source="Ada", target="Babbage")],
    )
    merged = merge_extractions([first, more])
    assert [(e.name, e.type, e.description) for e in merged.entities] == [
        ("Ada", "person", "Mathematician."),
        ("Babbage", "UNKNOWN", ""),
    ]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "the answer is empty"),
        ("I'm sorry, I can't help with that.", "contains no JSON object"),
        ('"just a string"', "expected a JSON object, got str"),
        ('{"people": ["Ada"], "count": 1}', 'expected a JSON object with "entities" and "relations"'),
        ('{"entities": [{"type": "person"}], "relations": []}', "entities[0]: 'name' is a required property"),
        ('{"entities": [{"name": "???"}], "relations": []}', "entities[0].name: '???' has no letter or digit"),
        ('{"entities": [], "relations": [{"source": "Ada"}]}', "relations[0]: 'target' is a required property"),
        ('{"entities": "Ada, Babbage", "relations": []}', "entities: 'Ada, Babbage' is not of type 'array'"),
        ('{"entities": [{"name": ["Ada"]}], "relations": []}', "entities[0].name: ['Ada'] is not of type 'string'"),
        ('{"entities": [42], "relations": [["Ada", "Babbage"]]}', "entities[0]: 42 is not of type 'object'"),
    ],
)
def test_unrecoverable_answers_raise_with_a_precise_reason(answer: str, reason: str) -> None:
    with pytest.raises(LLMOutputError) as failure:
        parse_extraction(answer)
    assert reason in str(failure.value)


def test_drop_invalid_keeps_the_usable_items() -> None:
    answer = '{"entities": [{"name": "Ada"}, {"type": "person"}], "relations": [{"source": "Ada"}]}'
    with pytest.raises(LLMOutputError):
        parse_extraction(answer)
    assert names(parse_extraction(answer, drop_invalid=True)) == ["Ada"]
    with pytest.raises(LLMOutputError, match="no usable entity or relation"):
        parse_extraction('{"entities": [{"type": "person"}], "relations": []}', drop_invalid=True)


def test_the_fast_check_agrees_with_the_schema_on_any_document() -> None:
    """Valid answers are checked by the compiled schema, invalid ones explained by jsonschema:
    the two must agree on which is which, or an invalid answer would pass unexplained."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from graphrag.extract.parse import _is_valid_extraction

    scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False),
                       st.sampled_from(["", "Scrooge", "x", "  "]))
    value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(
        st.sampled_from(["name", "type"]), inner, max_size=2), max_leaves=4)
    names = st.one_of(st.sampled_from(["Scrooge", "", "Bob"]), value)
    entity = st.fixed_dictionaries({}, optional={"name": names, "type": names, "description": names, "extra": value})
    relation = st.fixed_dictionaries({}, optional={
        "source": names, "target": names, "description": names, "extra": value,
        "keywords": st.one_of(st.lists(st.one_of(st.text(max_size=3), value), max_size=2), value),
        "weight": st.one_of(st.floats(-1, 10, allow_nan=False), st.integers(-1, 10), value),
    })
    document = st.fixed_dictionaries({}, optional={
        "entities": st.one_of(st.lists(st.one_of(entity, value), max_size=3), value),
        "relations": st.one_of(st.lists(st.one_of(relation, value), max_size=3), value),
        "notes": value,
    })

    @settings(max_examples=400, deadline=None)
    @given(document)
    def agree(doc: dict) -> None:
        assert _is_valid_extraction()(doc) == extraction_validator().is_valid(doc), doc

    agree()
    assert _is_valid_extraction()(VALID)
