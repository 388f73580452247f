"""OpenTelemetry traces across HTTP and the bus, exported only when configured.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (the standard OTLP variables), spans go to that collector over
OTLP/HTTP; with ``EMHANA_TRACE_FILE`` set, each service appends its spans as JSON lines to
``<file>.<service>.jsonl`` (for a quick look and for the tests). With neither, nothing is instrumented and
tracing costs nothing. The official instrumentations do the work: FastAPI (a span per HTTP request),
aio-pika (a span per publish and per consumed message, the context carried in message headers, so one
trace runs portal → gateway → signature service / АРМ → ГБД ФЛ and back) and SQLAlchemy (a span per
statement). ИИН-like numbers are masked in every span before it leaves the process (a path such as
``/persons/{iin}`` would otherwise carry one).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.platform.logs import mask


def configure(service: str, app: FastAPI, engine: AsyncEngine) -> bool:
    """Instrument this service when an exporter is configured; return whether it was."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    trace_file = os.environ.get("EMHANA_TRACE_FILE")
    if not endpoint and not trace_file:
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"emhana-{service}"}))
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(MaskingExporter(OTLPSpanExporter())))
    if trace_file:
        target = Path(f"{trace_file}.{service}.jsonl")
        provider.add_span_processor(
            BatchSpanProcessor(MaskingExporter(JsonLinesExporter(target)), schedule_delay_millis=200)
        )
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="health,metrics")
    AioPikaInstrumentor().instrument(tracer_provider=provider)
    # The instrumentation declares SQLAlchemy < 2.1; the engine events it listens to are the same in 2.1
    # (the test of traces checks that statements do appear as spans).
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True)
    return True


class MaskingExporter(SpanExporter):
    """Passes spans on with ИИН-like numbers masked in their name and string attributes."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_masked(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _masked(span: ReadableSpan) -> ReadableSpan:
    attributes = {k: mask(v) if isinstance(v, str) else v for k, v in (span.attributes or {}).items()}
    return ReadableSpan(
        name=mask(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class JsonLinesExporter(SpanExporter):
    """Appends spans to a file, one JSON object per line (trace id, span id, parent, name, attributes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            context, parent = span.context, span.parent
            assert context is not None
            lines.append(
                json.dumps(
                    {
                        "service": span.resource.attributes.get("service.name"),
                        "trace_id": format(context.trace_id, "032x"),
                        "span_id": format(context.span_id, "016x"),
                        "parent_id": format(parent.span_id, "016x") if parent else None,
                        "name": span.name,
                        "kind": str(span.kind),
                        "attributes": dict(span.attributes or {}),
                    },
                    ensure_ascii=False,
                    default=str,
                )
            )
        with self._lock, self.path.open("a") as handle:
            handle.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass
