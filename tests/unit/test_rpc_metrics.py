"""The server's per-method metrics: a duration point per call and an error count per failing
status code, labelled with the method and the code only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from dancu.bench.v1 import echo_service_pb2 as pb
from dancu.bench.v1 import echo_service_pb2_grpc as pb_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.kit.grpc_types import Context
from services.kit.rpc_metrics import RpcMetricsInterceptor
from tests.support.metrics import points

ECHO = "/dancu.bench.v1.EchoService/Echo"


class Echo(pb_grpc.EchoServiceServicer):
    async def Echo(self, request: pb.EchoRequest, context: Context) -> pb.EchoResponse:
        if request.payload == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
        if request.payload == "crash":
            raise RuntimeError("unexpected")
        return pb.EchoResponse(payload=request.payload)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Any, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    server = grpc.aio.server(interceptors=[RpcMetricsInterceptor(provider)])
    pb_grpc.add_EchoServiceServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield pb_grpc.EchoServiceStub(channel), reader
    finally:
        await channel.close()
        await server.stop(None)
        provider.shutdown()


async def test_a_call_records_its_duration_under_its_method_and_status(
    served: tuple[Any, InMemoryMetricReader],
) -> None:
    stub, reader = served

    await stub.Echo(pb.EchoRequest(payload="hello"))
    await stub.Echo(pb.EchoRequest(payload="again"))

    [point] = points(reader, "rpc.server.call.duration")
    assert dict(point.attributes) == {"rpc.method": ECHO, "rpc.grpc.status_code": "OK"}
    assert point.count == 2
    assert 0 < point.sum < 5
    assert points(reader, "rpc.server.errors") == []


async def test_failures_are_counted_by_status_code(
    served: tuple[Any, InMemoryMetricReader],
) -> None:
    stub, reader = served

    for payload in ("missing", "missing", "crash"):
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Echo(pb.EchoRequest(payload=payload))

    errors = {
        p.attributes["rpc.grpc.status_code"]: p.value for p in points(reader, "rpc.server.errors")
    }
    assert errors == {"NOT_FOUND": 2, "UNKNOWN": 1}
    assert {p.attributes["rpc.method"] for p in points(reader, "rpc.server.errors")} == {ECHO}
    durations = {
        p.attributes["rpc.grpc.status_code"]: p.count
        for p in points(reader, "rpc.server.call.duration")
    }
    assert durations == {"NOT_FOUND": 2, "UNKNOWN": 1}
