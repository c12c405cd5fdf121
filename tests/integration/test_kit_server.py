"""The shared server stack (services/kit) over real gRPC: what every service inherits.

A tiny echo servicer stands in for a service so each behaviour of the stack is shown alone:
authentication, the policy table, error mapping of unexpected failures, deadlines on client
channels, and graceful shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from dancu.bench.v1 import echo_service_pb2 as pb
from dancu.bench.v1 import echo_service_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.kit.auth import (
    Identity,
    TokenIssuer,
    TokenVerifier,
    generate_private_key_pem,
    public_key_pem,
)
from services.kit.channels import open_channel, retry_service_config
from services.kit.grpc_errors import DEFAULT_ERROR_TABLE
from services.kit.grpc_types import Context
from services.kit.server import Server
from tests.support.metrics import points

ECHO = "/dancu.bench.v1.EchoService/Echo"
SECRET_NAME = "Nguyễn Văn Bí Mật"


class ScriptedEcho(pb_grpc.EchoServiceServicer):
    """Echoes, or misbehaves as the payload says: "fail" raises, "sleep:S" sleeps S seconds,
    "flaky" answers UNAVAILABLE the first time."""

    def __init__(self) -> None:
        self.failures_raised = 0
        self.sleeps_finished = 0
        self.unavailable_sent = 0

    async def Echo(self, request: pb.EchoRequest, context: Context) -> pb.EchoResponse:
        if request.payload == "fail":
            self.failures_raised += 1
            raise RuntimeError(f"database said: duplicate key for {SECRET_NAME}")
        if request.payload == "flaky" and self.unavailable_sent == 0:
            self.unavailable_sent += 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        if request.payload.startswith("sleep:"):
            await asyncio.sleep(float(request.payload.split(":")[1]))
            self.sleeps_finished += 1
        return pb.EchoResponse(payload=request.payload)


class Stack:
    def __init__(
        self,
        server: Server,
        servicer: ScriptedEcho,
        issuer: TokenIssuer,
        metrics: InMemoryMetricReader,
    ) -> None:
        self.server = server
        self.metrics = metrics
        self.servicer = servicer
        self.issuer = issuer
        self.address = f"127.0.0.1:{server.port}"

    def token(self, roles: set[str], ttl: int = 600) -> str:
        return self.issuer.issue(Identity("tester", "test-agency", frozenset(roles)), ttl)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    private = generate_private_key_pem()
    servicer = ScriptedEcho()
    metrics = InMemoryMetricReader()
    server = Server(
        registrations=[lambda s: pb_grpc.add_EchoServiceServicer_to_server(servicer, s)],
        service_names=["dancu.bench.v1.EchoService"],
        verifier=TokenVerifier(public_key_pem(private)),
        policy={ECHO: frozenset({"echoer"})},
        error_table=DEFAULT_ERROR_TABLE,
        error_domain="test.dancu",
        address="127.0.0.1:0",
        meter_provider=MeterProvider(metric_readers=[metrics]),
    )
    await server.start()
    try:
        yield Stack(server, servicer, TokenIssuer(private), metrics)
    finally:
        await server.stop(0)


async def _echo(stack: Stack, payload: str, token: str | None) -> str:
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    async with grpc.aio.insecure_channel(stack.address) as channel:
        reply = await pb_grpc.EchoServiceStub(channel).Echo(
            pb.EchoRequest(payload=payload), metadata=metadata, timeout=5
        )
        return reply.payload


async def test_a_valid_token_with_an_allowed_role_is_served(stack: Stack) -> None:
    assert await _echo(stack, "xin chào", stack.token({"echoer"})) == "xin chào"


@pytest.mark.parametrize(
    "token_kind",
    ["missing", "garbage", "expired", "other_key"],
)
async def test_bad_credentials_are_unauthenticated(stack: Stack, token_kind: str) -> None:
    token = {
        "missing": None,
        "garbage": "not-a-token",
        "expired": stack.token({"echoer"}, ttl=-120),
        "other_key": TokenIssuer(generate_private_key_pem()).issue(
            Identity("intruder", "x", frozenset({"echoer"}))
        ),
    }[token_kind]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _echo(stack, "hi", token)
    assert error.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_a_role_the_policy_does_not_name_is_denied(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _echo(stack, "hi", stack.token({"checkpoint"}))
    assert error.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_the_metrics_count_what_callers_receive_refusals_and_internal_errors_included(
    stack: Stack,
) -> None:
    await _echo(stack, "hi", stack.token({"echoer"}))
    for payload, token in (
        ("hi", None),
        ("hi", stack.token({"checkpoint"})),
        ("fail", stack.token({"echoer"})),
    ):
        with pytest.raises(grpc.aio.AioRpcError):
            await _echo(stack, payload, token)

    errors = points(stack.metrics, "rpc.server.errors")
    durations = points(stack.metrics, "rpc.server.call.duration")
    assert {(p.attributes["rpc.method"], p.attributes["rpc.grpc.status_code"]) for p in errors} == {
        (ECHO, "UNAUTHENTICATED"),
        (ECHO, "PERMISSION_DENIED"),
        (ECHO, "INTERNAL"),
    }
    assert sum(p.count for p in durations) == 4
    # Nothing of the request reaches a label.
    assert all(set(p.attributes) == {"rpc.method", "rpc.grpc.status_code"} for p in durations)


async def test_health_and_reflection_need_no_token(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(stack.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_an_unexpected_failure_is_internal_and_leaks_nothing(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _echo(stack, "fail", stack.token({"echoer"}))
    assert stack.servicer.failures_raised == 1, "the injected fault fired"
    assert error.value.code() is grpc.StatusCode.INTERNAL
    assert error.value.details() == "internal error"
    assert SECRET_NAME not in str(error.value.debug_error_string())


async def test_client_channels_attach_the_token_and_a_deadline(stack: Stack) -> None:
    token = stack.token({"echoer"})
    channel = open_channel(stack.address, token=lambda: token, deadline_seconds=0.3)
    async with channel:
        stub = pb_grpc.EchoServiceStub(channel)
        assert (await stub.Echo(pb.EchoRequest(payload="ok"))).payload == "ok"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.Echo(pb.EchoRequest(payload="sleep:2"))
    assert error.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED


async def test_shutdown_turns_not_serving_and_lets_in_flight_calls_finish(stack: Stack) -> None:
    token = stack.token({"echoer"})
    async with grpc.aio.insecure_channel(stack.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        in_flight = asyncio.ensure_future(
            pb_grpc.EchoServiceStub(channel).Echo(
                pb.EchoRequest(payload="sleep:0.5"),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=5,
            )
        )
        await asyncio.sleep(0.1)
        stopping = asyncio.ensure_future(stack.server.stop(grace=3, drain_delay=0.3))
        await asyncio.sleep(0.05)
        status = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
        assert status.status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert (await in_flight).payload == "sleep:0.5"
        await stopping
    assert stack.servicer.sleeps_finished == 1


async def test_idempotent_calls_are_retried_on_unavailable_and_others_are_not(
    stack: Stack,
) -> None:
    token = stack.token({"echoer"})
    retrying = open_channel(
        stack.address,
        token=lambda: token,
        service_config=retry_service_config("dancu.bench.v1.EchoService", ["Echo"]),
    )
    async with retrying:
        reply = await pb_grpc.EchoServiceStub(retrying).Echo(pb.EchoRequest(payload="flaky"))
    assert reply.payload == "flaky"
    assert stack.servicer.unavailable_sent == 1, "the injected UNAVAILABLE fired"

    stack.servicer.unavailable_sent = 0
    plain = open_channel(stack.address, token=lambda: token)
    async with plain:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await pb_grpc.EchoServiceStub(plain).Echo(pb.EchoRequest(payload="flaky"))
    assert error.value.code() is grpc.StatusCode.UNAVAILABLE
