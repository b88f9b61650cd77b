"""From a model's answer to an `Extraction`.

Tolerant of the ways models usually get the format a little wrong (prose or a code fence
around the JSON, broken JSON, LightRAG-style or graph-style key names, keywords as one
string, weights as strings), strict about what cannot be repaired: that raises
`LLMOutputError` with a reason precise enough to quote back to the model in a re-ask.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, ValidationError

from graphrag.errors import LLMOutputError
from graphrag.llm.json_output import load_model_json
from graphrag.models import ExtractedEntity, ExtractedRelation, Extraction, normalize_name, relation_key

SCHEMA_PATH = Path(__file__).parents[2] / "schemas" / "extraction.schema.json"
UNKNOWN_TYPE = "UNKNOWN"
DEFAULT_WEIGHT = 1.0

# Aliases in order of preference, compared case-insensitively.
_ENTITY_LIST_KEYS = ("entities", "entity", "nodes", "entity_list")
_RELATION_LIST_KEYS = ("relations", "relationships", "relation", "relationship", "edges", "links")
_ENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "entity_name", "entity", "id", "title"),
    "type": ("type", "entity_type", "label", "category", "kind"),
    "description": ("description", "entity_description", "desc", "summary"),
}
_RELATION_FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("source", "src_id", "source_entity", "source_name", "src", "from", "head", "subject"),
    "target": ("target", "tgt_id", "target_entity", "target_name", "tgt", "to", "tail", "object"),
    # A relation's type or predicate is the best keyword there is when no keywords are given.
    "keywords": (
        "keywords", "relationship_keywords", "relation_keywords", "keyword",
        "type", "relation_type", "relation", "predicate", "label",
    ),
    "description": ("description", "relationship_description", "relation_description", "desc", "summary"),
    "weight": ("weight", "relationship_strength", "strength", "score", "confidence"),
}

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_MAX_REASONS = 5


@lru_cache(maxsize=1)
def extraction_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@lru_cache(maxsize=1)
def _is_valid_extraction() -> Callable[[Any], bool]:
    """The same schema compiled to Python by fastjsonschema: 10-20x faster than walking it
    with jsonschema (8-17 ms per answer of two dozen entities, most of the parse), which is
    kept for what only an invalid answer needs: every error, worded for a re-ask."""
    validate = fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))

    def is_valid(document: Any) -> bool:
        try:
            validate(document)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return is_valid


def parse_extraction(text: str, *, drop_invalid: bool = False) -> Extraction:
    """The extraction in a model's answer, repaired and normalized.

    An item that stays invalid after repair (say, an entity without a name) makes the whole
    answer invalid, so the caller can re-ask; with `drop_invalid` such items are dropped
    instead, and only an answer with nothing usable left is an error.
    """
    document = _normalize_shape(load_model_json(text))
    reasons, bad_items = _problems(document)
    if reasons and not drop_invalid:
        raise LLMOutputError(_summarize(reasons))
    entities = [
        ExtractedEntity(**item) for i, item in enumerate(document["entities"]) if ("entities", i) not in bad_items
    ]
    relations = [
        ExtractedRelation(**item) for i, item in enumerate(document["relations"]) if ("relations", i) not in bad_items
    ]
    if reasons and not entities and not relations:
        raise LLMOutputError("no usable entity or relation: " + _summarize(reasons))
    return merge_extractions([Extraction(entities=entities, relations=relations)])


def _problems(document: dict[str, Any]) -> tuple[list[str], set[tuple[str, int]]]:
    """What is wrong, in document order, and the (section, index) of every invalid item.
    A wrong top-level shape raises at once: then no item can be trusted."""
    reasons: list[str] = []
    bad_items: set[tuple[str, int]] = set()
    errors = [] if _is_valid_extraction()(document) else extraction_validator().iter_errors(document)
    for error in sorted(errors, key=_error_order):
        reasons.append(f"{_json_path(error.absolute_path)}: {error.message}")
        if len(error.absolute_path) < 2:
            raise LLMOutputError(_summarize(reasons))
        bad_items.add((str(error.absolute_path[0]), int(error.absolute_path[1])))
    # Beyond the schema: a name must survive normalization, or it cannot be a graph key.
    for section, name_fields in (("entities", ("name",)), ("relations", ("source", "target"))):
        for i, item in enumerate(document[section]):
            if (section, i) in bad_items:
                continue
            for name_field in name_fields:
                if not normalize_name(item[name_field]):
                    reasons.append(f"{section}[{i}].{name_field}: {item[name_field]!r} has no letter or digit")
                    bad_items.add((section, i))
                    break
    return reasons, bad_items


def merge_extractions(extractions: Iterable[Extraction]) -> Extraction:
    """One extraction without duplicates, in first-seen order.

    Entities are deduplicated by normalized name (first spelling kept, first known type,
    distinct descriptions joined), relations by their undirected key (keywords united,
    strongest weight). A relation's endpoint missing from the entities is added with type
    UNKNOWN rather than the relation dropped; a relation from an entity to itself carries
    nothing a graph can use and is dropped.
    """
    entities: dict[str, ExtractedEntity] = {}
    relations: dict[str, ExtractedRelation] = {}
    for extraction in extractions:
        for entity in extraction.entities:
            _add_entity(entities, entity)
        for relation in extraction.relations:
            source, target = normalize_name(relation.source), normalize_name(relation.target)
            if source == target:
                continue
            key = relation_key(source, target)
            seen = relations.get(key)
            relations[key] = relation if seen is None else seen.model_copy(
                update={
                    "keywords": _union(seen.keywords, relation.keywords),
                    "description": _join(seen.description, relation.description),
                    "weight": max(seen.weight, relation.weight),
                }
            )
    for relation in relations.values():
        for endpoint in (relation.source, relation.target):
            _add_entity(entities, ExtractedEntity(name=endpoint, type=UNKNOWN_TYPE))
    return Extraction(entities=list(entities.values()), relations=list(relations.values()))


# --- JSON recovery


def _normalize_shape(data: Any) -> dict[str, Any]:
    """`{"entities": [...], "relations": [...]}` with canonical item keys, from the variants
    models produce; values keep their types unless a lossless coercion applies, so that
    schema validation still sees what cannot be fixed."""
    if isinstance(data, list):
        if len(data) == 1 and isinstance(data[0], dict) and _find(data[0], _ENTITY_LIST_KEYS + _RELATION_LIST_KEYS):
            return _normalize_shape(data[0])
        # A flat list of items: the ones with both endpoints are relations.
        entity_items = [x for x in data if not _is_relation_item(x)]
        relation_items = [x for x in data if _is_relation_item(x)]
    elif isinstance(data, dict):
        entity_items = _find(data, _ENTITY_LIST_KEYS)
        relation_items = _find(data, _RELATION_LIST_KEYS)
        if entity_items is None and relation_items is None:
            wrapped = [v for v in data.values() if isinstance(v, (dict, list))]
            if len(data) == 1 and wrapped:  # e.g. {"result": {"entities": ...}}
                return _normalize_shape(wrapped[0])
            raise LLMOutputError(
                'expected a JSON object with "entities" and "relations" lists, '
                f"got an object with keys {sorted(data)[:8]}"
            )
    else:
        raise LLMOutputError(f"expected a JSON object, got {type(data).__name__}")
    return {
        "entities": _normalize_items(entity_items, _normalize_entity),
        "relations": _normalize_items(relation_items, _normalize_relation),
    }


def _normalize_items(items: Any, normalize: Callable[[Any], Any]) -> Any:
    if items is None:
        return []
    if isinstance(items, dict):  # a single item where a list was expected
        items = [items]
    if not isinstance(items, list):
        return items  # left for the schema to report
    return [normalize(item) for item in items]


def _normalize_entity(item: Any) -> Any:
    if isinstance(item, str):  # entities listed by name only
        item = {"name": item}
    if not isinstance(item, dict):
        return item  # left for the schema to report
    fields = _pick_fields(item, _ENTITY_FIELDS)
    return _without_none(
        name=_clean_name(fields.get("name")),
        type=_clean_type(fields.get("type")),
        description=_clean_text(fields.get("description")),
    )


def _normalize_relation(item: Any) -> Any:
    if not isinstance(item, dict):
        return item  # left for the schema to report
    fields = _pick_fields(item, _RELATION_FIELDS)
    return _without_none(
        source=_clean_name(fields.get("source")),
        target=_clean_name(fields.get("target")),
        keywords=_clean_keywords(fields.get("keywords")),
        description=_clean_text(fields.get("description")),
        weight=_clean_weight(fields.get("weight")),
    )


def _without_none(**fields: Any) -> dict[str, Any]:
    """A missing name or endpoint stays missing, so the schema reports it as such."""
    return {k: v for k, v in fields.items() if v is not None}


def _is_relation_item(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    fields = _pick_fields(item, _RELATION_FIELDS)
    return fields.get("source") is not None and fields.get("target") is not None


def _find(data: Mapping[str, Any], aliases: tuple[str, ...]) -> Any:
    lowered = {str(k).lower(): v for k, v in data.items()}
    return next((lowered[a] for a in aliases if lowered.get(a) is not None), None)


def _pick_fields(item: Mapping[str, Any], aliases: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {name: value for name, keys in aliases.items() if (value := _find(item, keys)) is not None}


# --- value coercions


def _clean_name(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip().strip("\"'").strip()
    return value


def _clean_type(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return UNKNOWN_TYPE
    return value.strip() if isinstance(value, str) else value


def _clean_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(v.strip() for v in value if v.strip())
    return value.strip() if isinstance(value, str) else value


def _clean_keywords(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [k.strip() for k in re.split(r"[,;]", value) if k.strip()]
    if isinstance(value, list):
        return [str(k).strip() for k in value if isinstance(k, (str, int, float)) and str(k).strip()]
    return value


def _clean_weight(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return DEFAULT_WEIGHT
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        # "8", "8/10", "0.7 (strong)"; a weight in words carries no number: use the default.
        number = _NUMBER.search(value)
        return float(number.group()) if number else DEFAULT_WEIGHT
    return value


# --- merging


def _add_entity(entities: dict[str, ExtractedEntity], entity: ExtractedEntity) -> None:
    key = normalize_name(entity.name)
    seen = entities.get(key)
    if seen is None:
        entities[key] = entity
        return
    entities[key] = seen.model_copy(
        update={
            "type": seen.type if seen.type != UNKNOWN_TYPE else entity.type,
            "description": _join(seen.description, entity.description),
        }
    )


def _join(first: str, second: str) -> str:
    if not second or second.casefold() in first.casefold():
        return first
    if not first or first.casefold() in second.casefold():
        return second
    return f"{first}\n{second}"


def _union(first: list[str], second: list[str]) -> list[str]:
    united = list(first)
    seen = {k.casefold() for k in first}
    for keyword in second:
        if keyword.casefold() not in seen:
            seen.add(keyword.casefold())
            united.append(keyword)
    return united


# --- messages


def _error_order(error: ValidationError) -> list[tuple[bool, Any]]:
    """Document order, so the reasons (and the re-ask that quotes them) are deterministic."""
    return [(isinstance(part, int), part) for part in error.absolute_path]


def _json_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _summarize(reasons: list[str]) -> str:
    more = len(reasons) - _MAX_REASONS
    return "; ".join(reasons[:_MAX_REASONS]) + (f"; and {more} more problems" if more > 0 else "")

