"""TLS and mutual TLS on the shared server stack (services/kit) over real gRPC sockets.

Certificates come from a throwaway CA made per test. Clients are opened as every process opens
them (``open_channel``, which reads ``DANCU_TLS_*`` once per process); the cache is cleared
around each test so each sees the environment it sets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from dancu.bench.v1 import echo_service_pb2 as pb
from dancu.bench.v1 import echo_service_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit.auth import (
    Identity,
    TokenIssuer,
    TokenVerifier,
    generate_private_key_pem,
    public_key_pem,
)
from services.kit.channels import client_tls, open_channel
from services.kit.config import Env, ServerTls
from services.kit.grpc_errors import DEFAULT_ERROR_TABLE
from services.kit.grpc_types import Context
from services.kit.server import Server
from tests.support.certificates import Authority, Issued

ECHO = "/dancu.bench.v1.EchoService/Echo"


class Echo(pb_grpc.EchoServiceServicer):
    def __init__(self) -> None:
        self.served = 0

    async def Echo(self, request: pb.EchoRequest, context: Context) -> pb.EchoResponse:
        self.served += 1
        return pb.EchoResponse(payload=request.payload)


class TlsStack:
    def __init__(self, folder: Path) -> None:
        self.ca = Authority(folder, "dancu")
        self.server_cert = self.ca.issue("registry")
        self.private_key = generate_private_key_pem()
        self.echo = Echo()
        self._servers: list[Server] = []

    def server_tls(self, client_ca: Path | None) -> ServerTls | None:
        """As a service process reads it from its environment."""
        environ = {
            "DANCU_TLS_CERT_FILE": str(self.server_cert.cert_file),
            "DANCU_TLS_KEY_FILE": str(self.server_cert.key_file),
        }
        if client_ca is not None:
            environ["DANCU_TLS_CLIENT_CA_FILE"] = str(client_ca)
        return ServerTls.from_env(Env(environ))

    async def serve(self, *, client_ca: Path | None = None) -> str:
        tls = self.server_tls(client_ca)
        assert tls is not None
        server = Server(
            registrations=[lambda s: pb_grpc.add_EchoServiceServicer_to_server(self.echo, s)],
            service_names=["dancu.bench.v1.EchoService"],
            verifier=TokenVerifier(public_key_pem(self.private_key)),
            policy={ECHO: frozenset({"echoer"})},
            error_table=DEFAULT_ERROR_TABLE,
            error_domain="test.dancu",
            address="127.0.0.1:0",
            tls=tls,
        )
        await server.start()
        self._servers.append(server)
        return f"127.0.0.1:{server.port}"

    def token(self) -> str:
        issuer = TokenIssuer(self.private_key)
        return issuer.issue(Identity("tester", "test-agency", frozenset({"echoer"})), 600)

    async def aclose(self) -> None:
        for server in self._servers:
            await server.stop(0)


@pytest.fixture
def tls_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in list(os.environ):
        if name.startswith("DANCU_TLS_"):
            monkeypatch.delenv(name)
    client_tls.cache_clear()
    yield monkeypatch
    client_tls.cache_clear()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[TlsStack]:
    stack = TlsStack(tmp_path)
    try:
        yield stack
    finally:
        await stack.aclose()


def _trust(env: pytest.MonkeyPatch, ca: Authority, client: Issued | None = None) -> None:
    env.setenv("DANCU_TLS_CA_FILE", str(ca.cert_file))
    if client is not None:
        env.setenv("DANCU_TLS_CERT_FILE", str(client.cert_file))
        env.setenv("DANCU_TLS_KEY_FILE", str(client.key_file))
    client_tls.cache_clear()


async def _echo(channel: grpc.aio.Channel, token: str, payload: str = "xin chào") -> str:
    async with channel:
        reply = await pb_grpc.EchoServiceStub(channel).Echo(
            pb.EchoRequest(payload=payload),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=5,
        )
        return reply.payload


async def test_a_tls_server_answers_a_client_that_trusts_its_ca(
    stack: TlsStack, tls_env: pytest.MonkeyPatch
) -> None:
    address = await stack.serve()
    _trust(tls_env, stack.ca)
    assert await _echo(open_channel(address), stack.token()) == "xin chào"
    assert stack.echo.served == 1


async def test_health_is_served_over_tls_on_the_same_port(
    stack: TlsStack, tls_env: pytest.MonkeyPatch
) -> None:
    address = await stack.serve()
    _trust(tls_env, stack.ca)
    async with open_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_plaintext_client_is_refused(stack: TlsStack, tls_env: pytest.MonkeyPatch) -> None:
    address = await stack.serve()
    assert client_tls() is None
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _echo(open_channel(address), stack.token())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stack.echo.served == 0


async def test_a_client_that_trusts_another_ca_refuses_the_server(
    stack: TlsStack, tls_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    address = await stack.serve()
    _trust(tls_env, Authority(tmp_path, "other"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _echo(open_channel(address), stack.token())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stack.echo.served == 0


async def test_mutual_tls_refuses_a_client_without_a_certificate(
    stack: TlsStack, tls_env: pytest.MonkeyPatch
) -> None:
    address = await stack.serve(client_ca=stack.ca.cert_file)
    _trust(tls_env, stack.ca)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _echo(open_channel(address), stack.token())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stack.echo.served == 0


async def test_mutual_tls_refuses_a_certificate_another_ca_signed(
    stack: TlsStack, tls_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    address = await stack.serve(client_ca=stack.ca.cert_file)
    _trust(tls_env, stack.ca, Authority(tmp_path, "other").issue("intruder"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _echo(open_channel(address), stack.token())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stack.echo.served == 0


async def test_mutual_tls_serves_a_client_with_a_certificate_of_the_ca(
    stack: TlsStack, tls_env: pytest.MonkeyPatch
) -> None:
    address = await stack.serve(client_ca=stack.ca.cert_file)
    _trust(tls_env, stack.ca, stack.ca.issue("workflows"))
    assert await _echo(open_channel(address), stack.token()) == "xin chào"
    assert stack.echo.served == 1


async def test_the_server_name_override_checks_another_name(
    stack: TlsStack, tls_env: pytest.MonkeyPatch
) -> None:
    address = await stack.serve()
    _trust(tls_env, stack.ca)
    # The certificate names localhost and 127.0.0.1 only: a name it lacks fails the check,
    # which shows the override is what is checked.
    tls_env.setenv("DANCU_TLS_SERVER_NAME", "registry.dancu.internal")
    client_tls.cache_clear()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _echo(open_channel(address), stack.token())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    tls_env.setenv("DANCU_TLS_SERVER_NAME", "localhost")
    client_tls.cache_clear()
    assert await _echo(open_channel(address), stack.token()) == "xin chào"


def _start_registry(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANCU_")}
    given = {
        "DANCU_REGISTRY_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/unused",
        "DANCU_AUTH_PUBLIC_KEY": public_key_pem(generate_private_key_pem()).decode(),
        "DANCU_REGISTRY_PORT": "0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.registry"],
        env={**clean, **given},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_certificate_without_its_key_stops_the_start_with_one_line(tmp_path: Path) -> None:
    issued = Authority(tmp_path, "dancu").issue("registry")
    finished = _start_registry({"DANCU_TLS_CERT_FILE": str(issued.cert_file)})
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "registry: cannot start: DANCU_TLS_CERT_FILE is set but DANCU_TLS_KEY_FILE is not; "
        "set both or neither"
    ]


def test_an_unreadable_ca_stops_the_start_with_one_line(tmp_path: Path) -> None:
    finished = _start_registry({"DANCU_TLS_CA_FILE": str(tmp_path / "missing.pem")})
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "registry: cannot start: DANCU_TLS_CA_FILE cannot be read: No such file or directory"
    ]


def test_the_worker_refuses_half_a_key_pair_with_one_line(tmp_path: Path) -> None:
    issued = Authority(tmp_path, "dancu").issue("worker")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANCU_")}
    finished = subprocess.run(
        [sys.executable, "-m", "workflows"],
        env={**clean, "DANCU_WORKFLOWS_TOKEN": "t", "DANCU_TLS_KEY_FILE": str(issued.key_file)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "workflows: cannot start: DANCU_TLS_KEY_FILE is set but DANCU_TLS_CERT_FILE is not; "
        "set both or neither"
    ]
