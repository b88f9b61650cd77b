"""Prompt templates from `prompts/` and the fence that marks document text as data.

Templates use `$placeholders` (string.Template) rather than `{}` so the JSON examples in
them need no escaping, and substituted values are never re-interpreted as template syntax.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template

from graphrag.models import sha256_hex

PROMPTS_DIR = Path(__file__).parents[1] / "prompts"


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """The template `prompts/<name>.txt` (the `.txt` may be given or not)."""
    path = PROMPTS_DIR / (name if name.endswith(".txt") else f"{name}.txt")
    return path.read_text(encoding="utf-8")


def render_prompt(template: str, /, **values: object) -> str:
    """The template `prompts/<template>.txt` with every placeholder filled; a missing value
    raises KeyError. (Positional-only, so that a template may have a `$name` placeholder.)"""
    return Template(load_prompt(template)).substitute({k: str(v) for k, v in values.items()})


def fence(text: str, label: str = "DOCUMENT") -> str:
    """Encloses untrusted text between `<<<LABEL tag` and `LABEL tag>>>` lines.

    The tag is derived from the text itself, so a document cannot contain the closing line
    of its own fence (it would have to contain its own hash), yet the same text always gets
    the same fence and the prompt stays cacheable.
    """
    tag = sha256_hex(label, text)[:8]
    return f"<<<{label} {tag}\n{text}\n{label} {tag}>>>"
