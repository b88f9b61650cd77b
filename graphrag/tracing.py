"""OpenTelemetry spans for the stages of indexing and querying, optional.

Every stage the index report or the query timer already times (`load`, `extract`,
`reconcile`, ...; `search`, `graph`, `ppr`, ...) is also a span, nested under one span per
`index` or `query` call, when the OpenTelemetry API is installed. Without a tracer provider
the API's spans are no-ops that cost next to nothing; `configure_tracing` installs one from
`GRAPHRAG_OTEL_EXPORTER` (`console` for a quick look, `otlp` for a collector: set the usual
`OTEL_EXPORTER_OTLP_ENDPOINT`), or the application configures OpenTelemetry itself.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

log = logging.getLogger(__name__)

TRACER_NAME = "graphrag"
_configured: str | None = None  # OpenTelemetry allows one global provider per process


@functools.lru_cache(maxsize=1)
def _trace_api() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:  # the API is optional: no spans, no cost
        return None
    return trace


def span(name: str, **attributes: Any) -> Any:
    """A context manager: an OpenTelemetry span named `name` (a no-op without the API)."""
    trace = _trace_api()
    if trace is None:
        return nullcontext()
    clean = {k: v for k, v in attributes.items() if isinstance(v, (str, bool, int, float))}
    return trace.get_tracer(TRACER_NAME).start_as_current_span(name, attributes=clean)


@contextmanager
def stage_span(prefix: str, stage: str) -> Iterator[None]:
    with span(f"{prefix}.{stage}"):
        yield


def configure_tracing(exporter: str) -> None:
    """Installs a tracer provider that exports spans (`console` or `otlp`); `none` leaves
    OpenTelemetry as the application set it up. Needs the SDK (`pip install 'graphrag-kg[otel]'`)."""
    global _configured
    if exporter == "none" or _configured == exporter:
        return
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError as exc:
        from graphrag.errors import ConfigError

        raise ConfigError(
            f"GRAPHRAG_OTEL_EXPORTER={exporter} needs the OpenTelemetry SDK ({exc}): pip install 'graphrag-kg[otel]'"
        ) from None
    if exporter == "console":
        import sys

        span_exporter: Any = ConsoleSpanExporter(out=sys.stderr)  # stdout is for results (--json)
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            from graphrag.errors import ConfigError

            raise ConfigError(
                f"GRAPHRAG_OTEL_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-http ({exc}): "
                "pip install opentelemetry-exporter-otlp-proto-http"
            ) from None
        span_exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "graphrag"}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    _configured = exporter
    log.info("OpenTelemetry spans exported to %s", exporter)
