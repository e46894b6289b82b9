"""Tracing: spans for enqueue, lease, ack and nack, exported over OTLP when configured.

Off unless an OTLP endpoint is set (`--otlp-endpoint`, `[tracing] otlp_endpoint`, or the
standard env OTEL_EXPORTER_OTLP_ENDPOINT) and the optional extra is installed
(`pip install 'fila[tracing]'`). Off, it costs a handler one `is None` check.

A W3C `traceparent` in the request metadata becomes the span's parent, so a producer's trace
continues into the broker. Batch RPCs get one span per call with the message count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("fila.server")


class Tracing:
    def __init__(self, endpoint: str, service_name: str = "fila") -> None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        insecure = endpoint.startswith("http://") or not endpoint.startswith("https://")
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure),
                               schedule_delay_millis=200))
        self.tracer = self.provider.get_tracer("fila")
        self._propagator = TraceContextTextMapPropagator()

    @contextmanager
    def span(self, name: str, context: Any, **attributes: Any) -> Iterator[Any]:
        carrier = {k: v for k, v in (context.invocation_metadata() or ())
                   if k in ("traceparent", "tracestate") and isinstance(v, str)}
        parent = self._propagator.extract(carrier) if carrier else None
        with self.tracer.start_as_current_span(name, context=parent, attributes=attributes) as span:
            yield span

    def shutdown(self) -> None:
        self.provider.shutdown()


def make_tracing(endpoint: str) -> Tracing | None:
    if not endpoint:
        return None
    try:
        tracing = Tracing(endpoint)
    except ImportError:
        log.error("tracing needs the optional extra: pip install 'fila[tracing]'; tracing is off")
        return None
    log.info(f"tracing to {endpoint}")
    return tracing
