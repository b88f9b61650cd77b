"""Prometheus metrics of the API (`GET /metrics`): requests and latency per route, LLM calls,
tokens and cache hits by purpose and model, index runs and documents by outcome, and the
length of the write queue.

Each app has its own registry (no process-global state, so tests and several apps in one
process do not mix). Requests are counted by a small ASGI middleware; everything else is
read when Prometheus scrapes, from what the app already keeps (the LLM usage counters, the
job list), so no other module needs a hook.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from graphrag.api.deps import ApiContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Latency buckets from a cached query (~ms) to an upload or a cold LLM answer (~minute).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# Report fields counted as documents by outcome.
_OUTCOMES = {"documents_new": "new", "documents_updated": "updated", "documents_unchanged": "unchanged",
             "documents_failed": "failed", "documents_skipped": "skipped", "documents_removed": "removed",
             "documents_pending": "pending"}


class _StateCollector(Collector):
    """LLM usage, index runs and the write queue, read at scrape time."""

    def __init__(self, ctx: Callable[[], "ApiContext"]) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._counted: set[str] = set()  # finished jobs already added to the counters
        self._runs: dict[tuple[str, str], int] = {}
        self._documents: dict[str, int] = {}

    def collect(self) -> Iterator[Any]:
        ctx = self._ctx()
        yield from self._llm(ctx)
        yield from self._jobs(ctx)

    def _llm(self, ctx: "ApiContext") -> Iterator[Any]:
        # The chat model counts the usage; don't build one just to name it.
        chat = ctx.rag.__dict__.get("chat")
        model = getattr(chat, "model", None) or (ctx.settings.chat_model if ctx.settings.has_chat_model else "none")
        calls = CounterMetricFamily("graphrag_llm_calls", "LLM requests sent, by purpose and model",
                                    labels=["purpose", "model"])
        failures = CounterMetricFamily("graphrag_llm_failures", "LLM requests that failed after retries",
                                       labels=["purpose", "model"])
        tokens = CounterMetricFamily("graphrag_llm_tokens", "LLM tokens, by purpose, model and kind",
                                     labels=["purpose", "model", "kind"])
        hits = CounterMetricFamily("graphrag_llm_cache_hits", "LLM responses served from the cache",
                                   labels=["purpose", "model"])
        for purpose, u in sorted(dict(ctx.rag.usage.by_purpose).items()):
            calls.add_metric([purpose, model], u.calls)
            failures.add_metric([purpose, model], u.failures)
            tokens.add_metric([purpose, model, "prompt"], u.prompt_tokens)
            tokens.add_metric([purpose, model, "completion"], u.completion_tokens)
            hits.add_metric([purpose, model], u.cache_hits)
        yield from (calls, failures, tokens, hits)

    def _jobs(self, ctx: "ApiContext") -> Iterator[Any]:
        jobs = ctx.jobs.list()
        with self._lock:
            for job in jobs:
                if job.status not in ("done", "failed") or job.track_id in self._counted:
                    continue
                self._counted.add(job.track_id)
                key = (job.kind, job.status)
                self._runs[key] = self._runs.get(key, 0) + 1
                for field, outcome in _OUTCOMES.items():
                    value = (job.result or {}).get(field)
                    if isinstance(value, int) and value:
                        self._documents[outcome] = self._documents.get(outcome, 0) + value
            # Forget jobs the queue no longer keeps: they can never be seen again.
            self._counted &= {j.track_id for j in jobs}
            runs = CounterMetricFamily("graphrag_index_runs", "background write jobs (index, scan, delete) by outcome",
                                       labels=["kind", "outcome"])
            for (kind, outcome), n in sorted(self._runs.items()):
                runs.add_metric([kind, outcome], n)
            documents = CounterMetricFamily("graphrag_index_documents", "documents seen by index jobs, by outcome",
                                            labels=["outcome"])
            for outcome, n in sorted(self._documents.items()):
                documents.add_metric([outcome], n)
        queue = GaugeMetricFamily("graphrag_job_queue_length", "write jobs waiting or running", labels=["status"])
        for status in ("queued", "running"):
            queue.add_metric([status], sum(1 for j in jobs if j.status == status))
        yield from (runs, documents, queue)


class ApiMetrics:
    """The registry of one app and its request metrics."""

    def __init__(self, ctx: Callable[[], "ApiContext"]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("graphrag_http_requests", "HTTP requests by method, route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("graphrag_http_request_duration_seconds", "time to the end of the response",
                                 ["method", "route"], buckets=_BUCKETS, registry=self.registry)
        self.registry.register(_StateCollector(ctx))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts each HTTP request under its route template (`/documents/{document_id}`, not the
    id: one series per route), timed until the last byte of the response is sent."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("unmatched" if status == 404 else "other")
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
