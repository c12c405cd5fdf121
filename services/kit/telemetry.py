"""OpenTelemetry set-up: one tracer provider per process, exporting over OTLP when configured.

Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` spans are still created (trace ids reach the logs and
the audit log) but go nowhere, which keeps local runs and tests free of a collector.
"""

from __future__ import annotations

import logging

import grpc
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from services.kit.config import Env

logger = logging.getLogger(__name__)


def setup_tracing(service_name: str, env: Env) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    endpoint = env.optional("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def server_interceptor() -> grpc.aio.ServerInterceptor:
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor()  # type: ignore[no-untyped-call]
    return interceptor


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class _TraceIdFilter(logging.Filter):
    """Stamps each record with the current trace id, so a log line leads to its trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id() or "-"
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_TraceIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s trace=%(trace_id)s %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
