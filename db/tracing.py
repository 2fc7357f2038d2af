"""DevMesh's own traces (OpenTelemetry): the tracer, built once where a process starts
(the server's lifespan, a CLI command) and handed down. Trace ids go on our log lines
through graphs/terminal.TraceIds.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set:
then every layer gets the API's no-op tracer (no SDK imported, no exporter, a span costs a
function call). On, spans go over OTLP/HTTP (protobuf) through a batch processor; the SDK
reads its own standard variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
OTEL_EXPORTER_OTLP_HEADERS / _TIMEOUT, OTEL_TRACES_SAMPLER, OTEL_BSP_*); OTEL_SDK_DISABLED=true
turns it off again. It lives in db/, the bottom layer, because every layer (ingest,
detectors, tools, agents, graphs) starts spans.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Mapping

from opentelemetry.trace import NoOpTracer, Tracer

NAME = "devmesh"
NOOP: Tracer = NoOpTracer()


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard variables ask for an OTLP trace export."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def build_provider(exporter=None, batch: bool = True, version: str = "0.1.0"):
    """The SDK's TracerProvider with an OTLP/HTTP exporter (the SDK reads its variables), or
    with `exporter` (tests: InMemorySpanExporter, `batch=False` to export on each span's end);
    None when tracing is off. The caller shuts it down (flushes) when the process ends."""
    if exporter is None and not enabled():
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()            # endpoint + /v1/traces, headers, timeout from OTEL_*
    resource = Resource.create({"service.version": version})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": NAME}))     # OTEL_SERVICE_NAME wins when set
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return provider


def tracer_of(provider) -> Tracer:
    """The tracer every layer uses: the provider's, or the no-op one."""
    return provider.get_tracer(NAME) if provider is not None else NOOP



@contextmanager
def process_provider(version: str = "0.1.0") -> Iterator:
    """The provider of one CLI command (None when tracing is off), shut down (flushed) at its end."""
    provider = build_provider(version=version)
    try:
        yield provider
    finally:
        if provider is not None:
            provider.shutdown()
