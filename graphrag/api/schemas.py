"""JSON Schemas of the API bodies, written to `schemas/api/` for clients:
`python -m graphrag.api.schemas` regenerates them (a test checks they are current)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "api"


def openapi_spec() -> dict[str, Any]:
    from graphrag.api.app import create_app
    from graphrag.core import GraphRAG
    from graphrag.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:  # nothing is opened: stores are built on first use
        app = create_app(GraphRAG(Settings(workspace=Path(tmp))), api_key="")
        try:
            return app.openapi()
        finally:
            app.state.ctx.jobs.close()


def _relink(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/components/schemas/", "./") + ".schema.json"
                    if k == "$ref" and isinstance(v, str) else _relink(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_relink(v) for v in node]
    return node


def api_schemas() -> dict[str, str]:
    """file name -> JSON text, one file per body model."""
    components = openapi_spec()["components"]["schemas"]
    out = {}
    for name, schema in sorted(components.items()):
        body = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{name}.schema.json",
                **_relink(schema)}
        out[f"{name}.schema.json"] = json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    from graphrag.api.models import DocumentsRequest  # the JSON form of POST /documents (inlined in the spec)

    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "DocumentsRequest.schema.json",
            **DocumentsRequest.model_json_schema()}
    out["DocumentsRequest.schema.json"] = json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return dict(sorted(out.items()))


def write_schemas(out_dir: Path = SCHEMA_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in api_schemas().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(p)
