"""spaCy is imported without torch (issue 14: peak memory of offline indexing)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

PROBE = """
import sys
from graphrag.spacy_import import import_spacy
from graphrag.extract.offline import SpacyExtractor
import_spacy()
SpacyExtractor().nlp("Ada Lovelace met Charles Babbage in London.")
print("torch" in sys.modules)
import torch  # still importable afterwards, for the local-torch embedder
print(torch.tensor([1.0]).sum().item())
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed: nothing to hide")
def test_spacy_is_imported_without_torch_and_torch_stays_importable():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "1.0"]
