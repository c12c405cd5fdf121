"""OpenTelemetry set-up: one tracer provider per process, exporting over OTLP when configured.

Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` spans are still created (trace ids reach the logs and
the audit log) but go nowhere, which keeps local runs and tests free of a collector.
"""

from __future__ import annotations

import logging

import grpc
from opentelemetry import trace
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
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError:
            logger.warning("OTLP exporter is not installed; spans are not exported")
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def server_interceptor() -> grpc.aio.ServerInterceptor:
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor()  # type: ignore[no-untyped-call]
    return interceptor


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
