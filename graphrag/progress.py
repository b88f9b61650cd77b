"""Progress of long work (load, extract, describe, embed, write, query) as the indexer and
the evaluation report it: `(stage, done, total)` calls.

Two reporters behind that one call: bars with counts, rate and ETA on a terminal (rich), and
periodic log lines otherwise (pipes, log files, containers), as text or JSON
(`--log-format json`). `EmbedProgress` wraps an embedder so a large embedding pass reports
as it goes instead of jumping from 0 to done.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)
LogFormat = Literal["text", "json"]

log = logging.getLogger("graphrag.progress")

# What the count of each stage is, for the log lines.
UNITS = {"load": "files", "extract": "chunks", "describe": "descriptions", "embed": "texts",
         "write": "rows", "query": "questions", "delete": "documents"}


@dataclass
class StageClock:
    """Rate and ETA of one stage, measured from its first report."""

    total: int = 0
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    start_done: int | None = None  # the count at the first report: the rate counts from there

    def update(self, done: int, total: int) -> None:
        self.total = total
        if self.start_done is None or done < self.done:  # first report, or the stage started over
            self.started, self.start_done = time.monotonic(), done
        self.done = done

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float | None:
        elapsed = self.elapsed
        progressed = self.done - (self.start_done or 0)
        return progressed / elapsed if elapsed > 0 and progressed > 0 else None

    @property
    def eta(self) -> float | None:
        rate = self.rate
        if rate is None or self.total <= 0:
            return None
        return max(self.total - self.done, 0) / rate


def _duration(seconds: float | None) -> str:
    if seconds is None or math.isinf(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class StageReporter:
    """A progress callback that also takes increments (`advance`), for work reported piece
    by piece against a total announced earlier."""

    def __init__(self) -> None:
        self.clocks: dict[str, StageClock] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        clock = self.clocks.setdefault(stage, StageClock())
        clock.update(done, total)
        self.show(stage, clock)

    def advance(self, stage: str, n: int) -> None:
        clock = self.clocks.get(stage)
        if clock is None or not clock.total:
            return
        self(stage, min(clock.done + n, clock.total), clock.total)

    def show(self, stage: str, clock: StageClock) -> None:
        raise NotImplementedError


class LogProgress(StageReporter):
    """A log line when a stage starts, every `interval` seconds while it runs, and when it
    ends: `extract 120/400 chunks (30%), 4.1/s, ETA 1m08s`. JSON logs carry the numbers
    as fields (see `JsonLogFormatter`)."""

    def __init__(self, interval: float = 10.0, logger: logging.Logger = log) -> None:
        super().__init__()
        self.interval = interval
        self.logger = logger
        self.last_logged: dict[str, float] = {}
        self.finished: set[str] = set()

    def show(self, stage: str, clock: StageClock) -> None:
        now = time.monotonic()
        finished = clock.total > 0 and clock.done >= clock.total
        if not finished:
            self.finished.discard(stage)
        elif stage in self.finished:
            return  # already said it was done
        last = self.last_logged.get(stage)
        if last is None or finished or now - last >= self.interval:
            self.last_logged[stage] = now
            if finished:
                self.finished.add(stage)
            self._log(stage, clock, finished)

    def _log(self, stage: str, clock: StageClock, finished: bool) -> None:
        unit = UNITS.get(stage, "items")
        rate = clock.rate
        parts = [f"{stage} {clock.done:,}/{clock.total:,} {unit}"]
        if clock.total:
            parts[0] += f" ({100 * clock.done / clock.total:.0f}%)"
        if rate is not None:
            parts.append(f"{rate:.1f}/s")
        if finished:
            parts.append(f"done in {_duration(clock.elapsed)}")
        elif clock.done:
            parts.append(f"ETA {_duration(clock.eta)}")
        fields = {"stage": stage, "done": clock.done, "total": clock.total, "unit": unit,
                  "rate": round(rate, 3) if rate is not None else None,
                  "eta_seconds": round(clock.eta, 1) if clock.eta is not None and not finished else None,
                  "elapsed_seconds": round(clock.elapsed, 1)}
        self.logger.info(", ".join(parts), extra={"progress": fields})


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")


class RichProgress(StageReporter):
    """One bar per stage: counts, rate, elapsed time and ETA."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def show(self, stage: str, clock: StageClock) -> None:
        total = clock.total or None
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=clock.done, total=total)


@contextmanager
def progress_reporter(console: Console, *, enabled: bool = True, interval: float = 10.0) -> Iterator[ProgressCallback | None]:
    """Bars when `console` is a terminal, log lines otherwise; None when not `enabled`
    (e.g. `--json` output, which must stay clean)."""
    if not enabled:
        yield None
        return
    if not console.is_terminal:
        yield LogProgress(interval)
        return
    with Progress(
        TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, transient=False,
    ) as bars:
        yield RichProgress(bars)


class EmbedProgress:
    """An embedder that advances the `embed` stage as the inner embedder's batches finish, so
    a pass over thousands of texts moves the bar as it goes. The total is the one the indexer
    announced with `progress("embed", 0, total)`."""

    def __init__(self, inner: Any, reporter: "StageReporter") -> None:
        self.inner = inner
        self.reporter = reporter

    def __getattr__(self, name: str) -> Any:  # model_id, dim, close, ...
        return getattr(self.inner, name)

    def embed(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        from graphrag.llm.embed import embed_with_progress

        reported = 0

        def advance(done: int, total: int) -> None:
            nonlocal reported
            if done > reported:
                self.reporter.advance("embed", done - reported)
                reported = done
            if progress is not None:
                progress(done, total)

        vectors = embed_with_progress(self.inner, texts, advance)
        advance(len(texts), len(texts))
        return vectors


class DescribeProgress:
    """A description summarizer that advances the `describe` stage as each merged entity or
    relation gets its description (with an LLM, the slow part of a large merge)."""

    def __init__(self, inner: Any, reporter: "StageReporter") -> None:
        self.inner = inner
        self.reporter = reporter

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def describe(self, name: str, fragments: Sequence[str], **kwargs: Any) -> str:
        try:
            return await self.inner.describe(name, fragments, **kwargs)
        finally:
            self.reporter.advance("describe", 1)

    async def describe_checked(self, name: str, fragments: Sequence[str], **kwargs: Any) -> tuple[str, bool]:
        try:
            return await self.inner.describe_checked(name, fragments, **kwargs)
        finally:
            self.reporter.advance("describe", 1)


def with_describe_progress(summarizer: Any, progress: ProgressCallback | None) -> Any:
    """`summarizer`, reporting to `progress` as it goes when that is a `StageReporter`."""
    return DescribeProgress(summarizer, progress) if isinstance(progress, StageReporter) else summarizer


def with_embed_progress(embedder: Any, progress: ProgressCallback | None) -> Any:
    """`embedder`, reporting to `progress` as it goes when that is a `StageReporter`."""
    return EmbedProgress(embedder, progress) if isinstance(progress, StageReporter) else embedder


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the progress fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        progress = getattr(record, "progress", None)
        if progress is not None:
            data["progress"] = progress
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(log_format: LogFormat = "text", level: str = "INFO") -> None:
    """Logs of graphrag to stderr, as text lines or JSON lines. Called once by the CLI."""
    handler = _StderrHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
        handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("graphrag")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
