"""OpenTelemetry spans of the index and query stages (optional: no-ops without the API)."""

from __future__ import annotations

import pytest

from graphrag import tracing
from graphrag.errors import ConfigError

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the OpenTelemetry SDK is in the dev extra")


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch):
    """Spans recorded in memory: the module's tracer source swapped for an SDK provider, so
    the process-wide provider (settable once) is left alone."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    class Api:
        get_tracer = staticmethod(provider.get_tracer)

    monkeypatch.setattr(tracing, "_trace_api", lambda: Api)
    return exporter


def test_index_and_query_stages_are_spans_under_one_span_per_call(make_rag, write_docs, spans) -> None:
    rag = make_rag("traced")
    rag.index(write_docs({"a": "Scrooge employs Bob Cratchit. Bob Cratchit is the father of Tiny Tim."}))
    rag.retrieve("Who employs Bob Cratchit?", mode="ppr")
    finished = spans.get_finished_spans()
    by_name = {s.name: s for s in finished}
    assert {"graphrag.index", "graphrag.retrieve"} <= by_name.keys()
    index_stages = [s for s in finished if s.name.startswith("index.")]
    query_stages = [s for s in finished if s.name.startswith("query.")]
    assert {"index.extract", "index.reconcile"} <= {s.name for s in index_stages}
    assert query_stages and all(s.parent.span_id == by_name["graphrag.retrieve"].context.span_id
                                for s in query_stages if s.parent is not None)
    assert all(s.parent is not None and s.context.trace_id == by_name["graphrag.index"].context.trace_id
               for s in index_stages)


def test_an_exporter_that_is_not_installed_says_what_to_install() -> None:
    pytest.importorskip("opentelemetry.sdk")
    try:
        import opentelemetry.exporter.otlp.proto.http  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="pip install opentelemetry-exporter-otlp-proto-http"):
            tracing.configure_tracing("otlp")
    else:
        pytest.skip("the OTLP exporter is installed here")


def test_without_the_api_a_span_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "_trace_api", lambda: None)
    with tracing.span("graphrag.index", sources=1):
        pass
