"""Runs `graphrag` as a user does: a subprocess, offline (hashing embedder, spaCy extractor)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def graphrag(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("GRAPHRAG_CHAT_BASE_URL", "GRAPHRAG_WORKSPACE")}
    full_env.update({"GRAPHRAG_EMBEDDER": "hashing", "GRAPHRAG_EXTRACTOR": "spacy", "PYTHONPATH": str(REPO),
                     "COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "graphrag.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout)
