"""OpenTelemetry set-up: one tracer provider and one meter provider per process.

Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` spans are still created (trace ids reach the logs and
the audit log) but go nowhere, which keeps local runs and tests free of a collector. Metrics
are served for Prometheus on ``<prefix>_METRICS_PORT`` when it is set and pushed over OTLP when
the endpoint is; with neither, instruments record nothing and cost next to nothing.
"""

from __future__ import annotations

import logging

import grpc
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
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


def setup_metrics(service_name: str, env: Env, prefix: str) -> MeterProvider:
    """The process's meter provider. ``<prefix>_METRICS_PORT`` set: a Prometheus endpoint on
    ``<prefix>_HOST`` (the service's own listen host) at that port, path ``/metrics``."""
    readers: list[MetricReader] = []
    port = env.integer(f"{prefix}_METRICS_PORT", 0)
    if port:
        # Imported here: prometheus_client subclasses urllib's handlers at import, which the
        # workflow sandbox refuses, and modules that workflow tests import reach this one.
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        readers.append(PrometheusMetricReader())
        host = env.string(f"{prefix}_HOST", "127.0.0.1")
        start_http_server(port, addr=host)
        logger.info("metrics for Prometheus on http://%s:%d/metrics", host, port)
    endpoint = env.optional("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint:
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint)))
    provider = MeterProvider(
        metric_readers=readers, resource=Resource.create({"service.name": service_name})
    )
    metrics.set_meter_provider(provider)
    return provider


def server_interceptor() -> grpc.aio.ServerInterceptor:
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor()  # type: ignore[no-untyped-call]
    return interceptor


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """Client spans whose context travels in the call's metadata (W3C ``traceparent``), so
    the called service's spans join the caller's trace."""
    interceptors: list[grpc.aio.ClientInterceptor] = aio_client_interceptors()  # type: ignore[no-untyped-call]
    return interceptors


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
