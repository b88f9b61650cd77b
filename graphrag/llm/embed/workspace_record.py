"""A workspace's vectors are comparable only with vectors of the embedder that made them: the
state store records that embedder's model id the first time a workspace's embedder is built,
and later runs resolve `embedder = "auto"` to it, or refuse another one with advice.

So the default for NEW workspaces (`NEW_WORKSPACE_EMBEDDER`) can change without breaking the
workspaces indexed before: one indexed before the record existed was indexed with the fp32
MiniLM (then the only local model, and the default) and keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphrag.errors import ConfigError
from graphrag.llm.embed import NEW_WORKSPACE_EMBEDDER, build_embedder

if TYPE_CHECKING:
    from graphrag.llm.base import Embedder
    from graphrag.settings import Settings
    from graphrag.stores.base import StateStore

# Key in the state store's key-value table (cache_get / cache_put), beside the LLM cache.
RECORD_KEY = "workspace:embedder_model_id"

# What `embedder = "auto"` meant before the record existed.
LEGACY_EMBEDDER = "local"

# The local embedder setting that makes the vectors of a recorded model id, by its runtime
# prefix ("transformers:all-MiniLM-L6-v2" is made by local and local-torch alike).
_LOCAL_BY_RUNTIME = {"transformers": "local", "onnx-int8": "local-int8"}


def recorded_embedder(state: StateStore) -> str | None:
    """The model id the workspace's vectors were made with, if recorded."""
    return state.cache_get(RECORD_KEY)


def workspace_embedder(settings: Settings, state: StateStore) -> Embedder:
    """The embedder for the workspace behind `state`: the configured one, or with
    `embedder = "auto"` the local model the workspace was indexed with (a new workspace:
    `NEW_WORKSPACE_EMBEDDER`). Records its model id in a workspace that has none; raises a
    ConfigError when an explicit setting would mix another vector space into the workspace."""
    recorded = recorded_embedder(state)
    if settings.embedder == "auto":
        if recorded is not None:
            choice = _LOCAL_BY_RUNTIME.get(recorded.split(":", 1)[0])
            if choice is None:
                raise ConfigError(
                    f"the workspace {settings.workspace} was indexed with the embedder {recorded!r}, which "
                    "GRAPHRAG_EMBEDDER=auto cannot rebuild from the workspace alone: set GRAPHRAG_EMBEDDER "
                    "(and its model and endpoint settings) to the embedder that indexed it"
                )
        else:
            choice = LEGACY_EMBEDDER if state.count_chunks() > 0 else NEW_WORKSPACE_EMBEDDER
        settings = settings.model_copy(update={"embedder": choice})
    embedder = build_embedder(settings, state)
    if recorded is None:
        state.cache_put(RECORD_KEY, embedder.model_id)
    elif recorded != embedder.model_id:
        hint = _LOCAL_BY_RUNTIME.get(recorded.split(":", 1)[0])
        fix = (
            f"set GRAPHRAG_EMBEDDER={hint} or auto (the workspace's own)" if hint is not None
            else "set GRAPHRAG_EMBEDDER and its model settings to the embedder that indexed it"
        )
        raise ConfigError(
            f"the workspace {settings.workspace} was indexed with the embedder {recorded!r}, but the settings "
            f"give {embedder.model_id!r}: their vectors are not comparable, so searching the workspace's "
            f"vectors with it would rank at random. {fix[0].upper()}{fix[1:]}, or index into a new workspace."
        )
    return embedder
