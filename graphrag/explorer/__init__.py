"""The graph explorer: the single-page app `graphrag serve` answers at `/` (static files in
`static/`, no network at run time) and the reads it needs beyond the rest of the API
(entity search with counts, weight-sampled neighbourhoods, provenance)."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
