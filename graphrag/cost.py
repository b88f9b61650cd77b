"""What indexing will cost, before anything is sent: chunks to extract, LLM calls, tokens,
and money when prices are configured.

Only chunk texts with no stored extraction record count (an unchanged or already
extracted text costs nothing). Per chunk text, the LLM extractor makes one "extract"
call, up to `gleaning` "glean" calls, and now and then one "extract_reask":

- prompt tokens are counted on the prompts as they will be rendered (exact for the
  extract call; a glean prompt is the chunk plus the list of names found so far, whose
  size is estimated from the answers; a re-ask carries the conversation so far);
- completion tokens are estimated from the chunk's size (`CostModel` holds the ratios).

Description summaries, made while merging, are not included: how many there are depends
on what extraction finds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from graphrag.ingest.chunk import chunk_document
from graphrag.models import Chunk, Document
from graphrag.prompts import fence, render_prompt
from graphrag.settings import Settings
from graphrag.tokens import count_tokens

if TYPE_CHECKING:
    from graphrag.extract.base import Extractor
    from graphrag.stores.base import StateStore


class IndexPlanner(Protocol):
    """What the dry run needs of the indexer (a protocol, so this module never imports it)."""

    settings: Settings
    extractor: "Extractor"

    def plan(self, paths: Sequence[str]) -> Any: ...
    def chunks_to_extract(self, docs: Sequence[Document]) -> tuple[list[Chunk], list[Chunk]]: ...

# The templates the LLM extractor renders (graphrag/extract/llm.py).
_EXTRACT, _GLEAN, _REASK = "extract_entities", "extract_glean", "extract_reask"
_TYPICAL_PARSE_ERROR = "the answer is not valid JSON: Expecting ',' delimiter: line 12 column 5 (char 431)"


@dataclass(frozen=True)
class CostModel:
    """The assumptions of the estimate; everything else is counted."""

    # Completion tokens of an extract answer per token of chunk text: the JSON of the
    # entities and relations found, with a description for each.
    completion_ratio: float = 0.6
    # A glean answer lists what the first answer missed: a fraction of its size.
    glean_completion_ratio: float = 0.25
    # The FOUND list of a glean prompt (names and relation pairs) against the answers so far.
    found_list_ratio: float = 0.2
    # Re-asks per chunk: answers that cannot be repaired into a valid extraction.
    reask_rate: float = 0.05


@dataclass
class PurposeEstimate:
    calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0

    def add(self, calls: float, prompt_tokens: float, completion_tokens: float) -> None:
        self.calls += calls
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens

    def rounded(self) -> dict[str, int]:
        return {
            "calls": math.ceil(self.calls),
            "prompt_tokens": math.ceil(self.prompt_tokens),
            "completion_tokens": math.ceil(self.completion_tokens),
        }


@dataclass
class ExtractionEstimate:
    """Expected LLM use for extracting a set of chunk texts."""

    chunks: int = 0
    by_purpose: dict[str, PurposeEstimate] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return math.ceil(sum(p.calls for p in self.by_purpose.values()))

    @property
    def prompt_tokens(self) -> int:
        return math.ceil(sum(p.prompt_tokens for p in self.by_purpose.values()))

    @property
    def completion_tokens(self) -> int:
        return math.ceil(sum(p.completion_tokens for p in self.by_purpose.values()))

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ExtractionCostEstimator:
    """Token arithmetic for one extractor configuration (settings + whether it uses an LLM)."""

    def __init__(self, settings: Settings, *, uses_llm: bool, model: CostModel | None = None) -> None:
        self.settings = settings
        self.uses_llm = uses_llm
        self.model = model or CostModel()
        types = ", ".join(settings.entity_types)
        self._glean_prompt = count_tokens(
            render_prompt(_GLEAN, entity_types=types, language=settings.language, found="", document="")
        )
        self._reask_prompt = count_tokens(render_prompt(_REASK, error=_TYPICAL_PARSE_ERROR))

    def extract_prompt_tokens(self, text: str) -> int:
        return count_tokens(
            render_prompt(
                _EXTRACT,
                entity_types=", ".join(self.settings.entity_types),
                language=self.settings.language,
                document=fence(text, "DOCUMENT"),
            )
        )

    def estimate(self, chunks: Iterable[Chunk]) -> ExtractionEstimate:
        """LLM use for extracting these chunks (identical texts counted once)."""
        texts = {c.text_hash: c for c in chunks}
        result = ExtractionEstimate(chunks=len(texts))
        if not self.uses_llm or not texts:
            return result
        extract = result.by_purpose.setdefault("extract", PurposeEstimate())
        glean = result.by_purpose.setdefault("glean", PurposeEstimate()) if self.settings.gleaning else None
        reask = result.by_purpose.setdefault("extract_reask", PurposeEstimate())
        cap = self.settings.chat_max_tokens
        for chunk in texts.values():
            prompt = self.extract_prompt_tokens(chunk.text)
            answer = min(cap, max(1.0, self.model.completion_ratio * chunk.n_tokens))
            extract.add(1, prompt, answer)
            reask.add(self.model.reask_rate, self.model.reask_rate * (prompt + answer + self._reask_prompt),
                      self.model.reask_rate * answer)
            # Each glean pass sends the chunk and the names found so far, not the conversation.
            found = answer
            document = count_tokens(fence(chunk.text, "DOCUMENT")) if self.settings.gleaning else 0
            glean_answer = min(cap, max(1.0, self.model.glean_completion_ratio * answer))
            for _ in range(self.settings.gleaning):
                assert glean is not None
                glean.add(1, self._glean_prompt + document + self.model.found_list_ratio * found, glean_answer)
                found += glean_answer
        return result


def price(prompt_tokens: int, completion_tokens: int, settings: Settings) -> float | None:
    """Cost in the currency of the configured prices; None when no price is set."""
    if settings.price_prompt_per_1k is None and settings.price_completion_per_1k is None:
        return None
    return round(
        prompt_tokens / 1000 * (settings.price_prompt_per_1k or 0.0)
        + completion_tokens / 1000 * (settings.price_completion_per_1k or 0.0),
        6,
    )


def format_cost(cost: float | None, currency: str) -> str:
    """`0.0123 USD`, or how to get a cost when no price is set."""
    if cost is None:
        return "no prices configured (GRAPHRAG_PRICE_PROMPT_PER_1K, GRAPHRAG_PRICE_COMPLETION_PER_1K)"
    return f"{cost:,.4f} {currency}"


@dataclass
class CostEstimate:
    """What `index(paths)` would do and send to the LLM, computed without sending anything."""

    extractor: str
    uses_llm: bool
    documents_to_index: int = 0  # new or changed
    documents_unchanged: int = 0
    documents_unloadable: int = 0
    documents_gone: int = 0  # indexed, but their source is gone: removed with --prune
    chunks: int = 0  # of the documents to index
    chunks_reused: int = 0  # their text has a stored extraction: free
    chunks_to_extract: int = 0  # distinct texts that go to the extractor
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_purpose: dict[str, dict[str, int]] = field(default_factory=dict)
    cost: float | None = None
    price_prompt_per_1k: float | None = None
    price_completion_per_1k: float | None = None
    currency: str = "USD"
    notes: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens": self.tokens}


def chunks_to_extract(
    settings: Settings, state: "StateStore", extractor_id: str, docs: Sequence[Document]
) -> tuple[list[Chunk], list[Chunk]]:
    """(all chunks of `docs`, those whose text has no stored extraction record yet)."""
    chunks = [c for doc in docs for c in chunk_document(doc, settings.chunk_size, settings.chunk_overlap)]
    stored = state.get_extractions({c.text_hash for c in chunks}, extractor_id)
    return chunks, [c for c in chunks if c.text_hash not in stored]


def estimator_for(indexer: IndexPlanner, model: CostModel | None = None) -> ExtractionCostEstimator:
    return ExtractionCostEstimator(
        indexer.settings, uses_llm=indexer.extractor.extractor_id.startswith("llm:"), model=model
    )


def estimate_index(indexer: IndexPlanner, paths: Sequence[str], model: CostModel | None = None) -> CostEstimate:
    """The dry run: loads and diffs the sources like `index` would, writes nothing and
    sends nothing."""
    settings = indexer.settings
    estimator = estimator_for(indexer, model)
    plan = indexer.plan(paths)
    chunks, todo = indexer.chunks_to_extract(plan.todo)
    extraction = estimator.estimate(todo)
    result = CostEstimate(
        extractor=indexer.extractor.extractor_id,
        uses_llm=estimator.uses_llm,
        documents_to_index=len(plan.todo),
        documents_unchanged=len(plan.unchanged),
        documents_unloadable=len(plan.unloadable),
        documents_gone=len(plan.removed),
        chunks=len(chunks),
        chunks_reused=len(chunks) - len(todo),
        chunks_to_extract=extraction.chunks,
        llm_calls=extraction.calls,
        prompt_tokens=extraction.prompt_tokens,
        completion_tokens=extraction.completion_tokens,
        by_purpose={purpose: p.rounded() for purpose, p in extraction.by_purpose.items()},
        price_prompt_per_1k=settings.price_prompt_per_1k,
        price_completion_per_1k=settings.price_completion_per_1k,
        currency=settings.price_currency,
    )
    result.cost = price(result.prompt_tokens, result.completion_tokens, settings)
    if not estimator.uses_llm:
        result.notes.append(f"extractor {result.extractor} runs locally: no LLM calls")
    else:
        if result.cost is None:
            result.notes.append(
                "set GRAPHRAG_PRICE_PROMPT_PER_1K and GRAPHRAG_PRICE_COMPLETION_PER_1K to see the cost"
            )
        result.notes.append(
            "completion tokens are estimated; description summaries made while merging are not included"
        )
    return result
