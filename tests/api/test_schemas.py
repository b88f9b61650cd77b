"""schemas/api/ holds the current JSON Schemas of the API bodies, each a valid schema."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from graphrag.api.schemas import SCHEMA_DIR, api_schemas


def test_schema_files_are_current_and_valid() -> None:
    expected = api_schemas()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.schema.json")}
    assert on_disk == expected, "run `python -m graphrag.api.schemas` to regenerate schemas/api/"
    for text in expected.values():
        Draft202012Validator.check_schema(json.loads(text))
    assert {"QueryRequest.schema.json", "CypherRequest.schema.json", "DocumentsRequest.schema.json"} <= set(expected)
