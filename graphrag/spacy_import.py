"""Import spaCy without the torch it does not use.

spaCy's thinc imports torch whenever it is installed (`thinc.compat`), for GPU and PyTorch
layers that the small CPU pipelines never touch. Where torch is installed (the `torch`
extra, or a shared environment), that import costs about 2 s and 450 MB of peak memory in
every offline index run (measured: 1,194 MB → 731 MB indexing three passages). So torch is
hidden from thinc while spaCy is imported — unless torch is already imported, or
spacy-transformers is installed (its pipelines run on torch through thinc). torch itself
stays importable afterwards (the `local-torch` embedder imports it as usual).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def import_spacy() -> ModuleType:
    if "spacy" in sys.modules or "torch" in sys.modules or importlib.util.find_spec("spacy_transformers"):
        return importlib.import_module("spacy")
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError meanwhile
    try:
        return importlib.import_module("spacy")
    finally:
        if sys.modules.get("torch", False) is None:
            del sys.modules["torch"]
