"""The chat model's verdict on candidate pairs that string evidence leaves uncertain.

A pair scored between the review floor and the merge threshold ("Cratchit" when Bob,
Martha and Peter Cratchit all exist) is shown to the chat model with a few passages that
mention each name; the model answers "same", "different" or "unsure" for several pairs
per call. A verdict is a function of the pair and what it was shown: it is cached in the
state store under a digest of exactly that (and the model and prompt), so the same pair
with the same evidence never costs a second call, whatever order the documents arrived in
and however the pairs happened to be batched.

- "same" lifts the pair to the threshold (merged, unless a cannot-link forbids it);
- "different" sinks it and keeps the names apart even through other links;
- "unsure" leaves it where it was: apart, listed for review.

A pair the model could not judge now (unreachable, malformed or empty answer, no verdict
for it, or the token budget spent) stays apart with the reason in its evidence, and its
names are returned as unsettled so that the next run asks again. Never merged by accident.

Judging need not hold up the rest of an update: with a `Judging` (see there), the pairs are
asked in the background and wait apart, unsettled, while the caller gets on with what they
cannot change; a second pass over the same pairs takes the answers as they arrive.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from graphrag.errors import LLMError, LLMOutputError
from graphrag.llm.base import ChatModel, ChatResult
from graphrag.llm.json_output import load_model_json
from graphrag.models import sha256_hex
from graphrag.prompts import fence, load_prompt, render_prompt
from graphrag.resolve.store import NameRecord, PairRecord
from graphrag.tokens import count_tokens

log = logging.getLogger(__name__)

PURPOSE = "resolve"
LLM_SAME = 0.82  # at least the threshold: a confirmed pair merges, after string evidence of the same strength
LLM_DIFFERENT = 0.1
VERDICTS = ("same", "different", "unsure")
_CACHE_PREFIX = "resolve:"
_CONTEXT_WORDS = 40
_ANSWER_TOKENS_PER_PAIR = 30  # for the budget estimate: {"pair": n, "verdict": ..., "reason": ...}
_NO_VERDICT = "the model gave no verdict for this pair"

Contexts = Callable[[set[str]], Mapping[str, Sequence[str]]]
"""name key -> a few passages that mention it, chosen as a function of the live records."""


class KeyValueStore(Protocol):
    def cache_get(self, key: str) -> str | None: ...
    def cache_put(self, key: str, value: str) -> None: ...


class Budget(Protocol):
    """What adjudication needs of `graphrag.budget.TokenBudget`."""

    stopped: str | None

    def admit(self, tokens: int) -> bool: ...


@dataclass
class Adjudication:
    pairs: list[PairRecord]  # every pair handed in, the judged ones with their verdict applied
    unsettled: set[str] = field(default_factory=set)  # names of pairs to judge again next run
    calls: int = 0  # model calls made (cached verdicts cost none)
    judging: set[str] = field(default_factory=set)  # names of pairs asked in the background (also unsettled)


Answer = dict[int, dict[str, Any]] | str  # verdicts by position in the batch, or why there are none


class Judging:
    """Name pairs put to the chat model beside the rest of a reconcile, not before it.

    A verdict can only change the entities of the names it judges, yet asking first left
    every summary waiting a whole model round trip behind it. In a first pass
    (`final` false) `adjudicate` starts the calls and leaves the pairs apart for now, their
    names unsettled; the caller holds back what depends on those names and goes on with the
    rest. In the final pass the same pairs (keyed by what the model was shown) take the
    answers of those calls instead of asking again; anything new is asked there and then.
    """

    def __init__(self) -> None:
        self.final = False
        self._asks: dict[str, tuple[asyncio.Future[Answer], int]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._asks

    def __bool__(self) -> bool:
        return bool(self._asks)

    def start(self, keys: Sequence[str], ask: Awaitable[Answer]) -> None:
        task = asyncio.ensure_future(ask)
        for i, key in enumerate(keys):
            self._asks[key] = (task, i)

    async def answer(self, key: str) -> dict[str, Any] | str:
        task, i = self._asks[key]
        return _verdict_of(await task, i)

    async def close(self) -> None:
        """Calls of a reconcile that failed before its final pass are not left running, and
        a call that failed for a reason other than the model's is reported, not dropped."""
        tasks = {task for task, _ in self._asks.values()}
        for task in tasks:
            task.cancel()  # a finished one stays as it is
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.warning("a call judging name pairs failed: %r", outcome)


def _verdict_of(answer: Answer, i: int) -> dict[str, Any] | str:
    """The verdict on the i-th pair of a batch's answer, or why there is none."""
    if isinstance(answer, str):
        return answer
    return answer.get(i, _NO_VERDICT)


def describe_name(record: NameRecord, contexts: Sequence[str]) -> str:
    types = ", ".join(f for f in record.families if f != "unknown") or "type unknown"
    lines = [f'"{record.name}" ({types})']
    lines += [f"  - {_clip(c)}" for c in contexts[:2]]
    return "\n".join(lines)


def _clip(text: str) -> str:
    words = text.split()
    return " ".join(words[:_CONTEXT_WORDS]) + (" ..." if len(words) > _CONTEXT_WORDS else "")


class PairAdjudicator:
    def __init__(self, chat: ChatModel, cache: KeyValueStore, *, batch_size: int = 8) -> None:
        self.chat = chat
        self.cache = cache
        self.batch_size = max(1, batch_size)

    async def adjudicate(
        self,
        pairs: Sequence[PairRecord],
        uncertain: Callable[[PairRecord], bool],
        *,
        names: Callable[[set[str]], Mapping[str, NameRecord]],
        contexts: Contexts,
        threshold: float,
        budget: Budget | None = None,
        judging: Judging | None = None,
    ) -> Adjudication:
        """`pairs` with a verdict applied to each one `uncertain` selects; with `judging`
        not final, the calls run in the background and the pairs wait (see `Judging`)."""
        todo = sorted((p for p in pairs if uncertain(p)), key=lambda p: (p.a, p.b))
        out = Adjudication(pairs=list(pairs))
        if not todo:
            return out
        keys = {k for p in todo for k in (p.a, p.b)}
        records = names(keys)
        passages = contexts(keys)
        blocks: dict[tuple[str, str], str] = {}
        for p in todo:
            if p.a in records and p.b in records:
                blocks[(p.a, p.b)] = (
                    describe_name(records[p.a], passages.get(p.a, ()))
                    + "\n"
                    + describe_name(records[p.b], passages.get(p.b, ()))
                )
        cache_keys = {pair: self._cache_key(block) for pair, block in blocks.items()}
        verdicts: dict[tuple[str, str], dict[str, Any]] = {}
        asked: list[tuple[str, str]] = []
        in_flight: list[tuple[str, str]] = []
        for pair, key in cache_keys.items():
            cached = self.cache.cache_get(key)
            if cached is not None:
                verdicts[pair] = json.loads(cached)
                self.chat.usage.record(PURPOSE, cache_hit=True)
            elif judging is not None and key in judging:
                in_flight.append(pair)
            else:
                asked.append(pair)
        failures: dict[tuple[str, str], str] = {}
        batches = [asked[i : i + self.batch_size] for i in range(0, len(asked), self.batch_size)]
        admitted: list[list[tuple[str, str]]] = []
        for batch in batches:
            prompt = self._prompt([blocks[p] for p in batch])
            if budget is not None and not budget.admit(count_tokens(prompt) + _ANSWER_TOKENS_PER_PAIR * len(batch)):
                for p in batch:
                    failures[p] = f"not asked: {budget.stopped or 'token budget reached'}"
                continue
            admitted.append(batch)
        out.calls = len(admitted)
        waiting: set[tuple[str, str]] = set()
        if judging is not None and not judging.final:
            for batch in admitted:
                judging.start([cache_keys[p] for p in batch], self._ask([blocks[p] for p in batch]))
                waiting.update(batch)
            admitted = []
        answers = await asyncio.gather(*(self._ask([blocks[p] for p in batch]) for batch in admitted))
        got = {pair: _verdict_of(answer, i) for batch, answer in zip(admitted, answers) for i, pair in enumerate(batch)}
        for pair in in_flight:
            assert judging is not None
            got[pair] = await judging.answer(cache_keys[pair])
        for pair, verdict in got.items():
            if isinstance(verdict, str):
                failures[pair] = verdict
            else:
                verdicts[pair] = verdict
                self.cache.cache_put(cache_keys[pair], json.dumps(verdict, sort_keys=True))
        if failures:
            log.warning(
                "%d uncertain name pair(s) left apart for now, judged again on the next run: %s",
                len(failures), next(iter(failures.values())),
            )
        judged = []
        for p in out.pairs:
            pair = (p.a, p.b)
            if pair in verdicts:
                judged.append(_apply(p, verdicts[pair], threshold))
            elif pair in failures:
                judged.append(replace(p, evidence={**p.evidence, "adjudication": failures[pair]}))
                out.unsettled |= {p.a, p.b}
            elif pair in waiting:
                judged.append(replace(p, evidence={**p.evidence, "adjudication": "being judged"}))
                out.unsettled |= {p.a, p.b}
                out.judging |= {p.a, p.b}
            else:
                judged.append(p)
        out.pairs = judged
        return out

    def _cache_key(self, block: str) -> str:
        return _CACHE_PREFIX + sha256_hex(self.chat.model, load_prompt("resolve_pairs"), block)

    def _prompt(self, blocks: Sequence[str]) -> str:
        text = "\n\n".join(f"Pair {i}\n{block}" for i, block in enumerate(blocks, 1))
        return render_prompt("resolve_pairs", pairs=fence(text, "PAIRS"))

    async def _ask(self, blocks: Sequence[str]) -> dict[int, dict[str, Any]] | str:
        """Verdicts by position in `blocks`, or why there are none. A malformed or empty
        answer is asked once more (it was not cached); then the pairs wait for the next run."""
        messages = [{"role": "user", "content": self._prompt(blocks)}]
        parsed: dict[int, dict[str, Any]] = {}

        def validate(result: ChatResult) -> None:
            parsed.clear()
            parsed.update(parse_verdicts(result.text, len(blocks)))

        reason = ""
        for _ in range(2):
            try:
                await self.chat.complete(messages, purpose=PURPOSE, json_mode=True, validate=validate)
                return dict(parsed)
            except LLMOutputError as exc:  # not cached: asking again is a fresh answer
                reason = f"unusable answer: {exc}"
            except LLMError as exc:  # the client already retried 429s, 5xx and timeouts
                return f"model unavailable: {exc}"
        return reason


def parse_verdicts(text: str, n_pairs: int) -> dict[int, dict[str, Any]]:
    """Position (0-based) -> {"verdict", "reason"}; LLMOutputError when the answer holds no
    usable verdict at all (a partial answer is used for the pairs it covers)."""
    data = load_model_json(text)
    items = data.get("verdicts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise LLMOutputError('the answer has no "verdicts" list')
    out: dict[int, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            index = int(item.get("pair")) - 1
        except (TypeError, ValueError):
            continue
        verdict = str(item.get("verdict", "")).strip().lower()
        if 0 <= index < n_pairs and verdict in VERDICTS:
            out[index] = {"verdict": verdict, "reason": " ".join(str(item.get("reason", "")).split())[:200]}
    if not out:
        raise LLMOutputError(f'no usable verdict in the answer (expected "pair" 1..{n_pairs} and a verdict of {VERDICTS})')
    return out


def _apply(pair: PairRecord, verdict: Mapping[str, Any], threshold: float) -> PairRecord:
    evidence = {**pair.evidence, "scored": pair.method, "string_score": pair.score, "adjudication": dict(verdict)}
    if verdict["verdict"] == "same":
        return PairRecord(pair.a, pair.b, max(LLM_SAME, threshold), "llm-same", evidence)
    if verdict["verdict"] == "different":
        return PairRecord(pair.a, pair.b, LLM_DIFFERENT, "llm-different", evidence)
    return replace(pair, evidence=evidence)
