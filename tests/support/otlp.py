"""A tiny OTLP/gRPC collector for tests: keeps every span it is sent, by service name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, spans: list[CollectedSpan]) -> None:
        self._spans = spans

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                self._spans.extend(
                    CollectedSpan(
                        service,
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                        span.name,
                    )
                    for span in scope_spans.spans
                )
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    """Accepts metrics (processes push them to the same endpoint) and drops them."""

    async def Export(
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: Any
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        return metrics_service_pb2.ExportMetricsServiceResponse()


class Collector:
    def __init__(self, endpoint: str, spans: list[CollectedSpan]) -> None:
        self.endpoint = endpoint
        self.spans = spans


@asynccontextmanager
async def collector() -> AsyncIterator[Collector]:
    spans: list[CollectedSpan] = []
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(spans), server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield Collector(f"http://127.0.0.1:{port}", spans)
    finally:
        await server.stop(None)
