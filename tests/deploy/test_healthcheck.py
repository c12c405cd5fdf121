"""deploy/healthcheck.py against a real gRPC health service: exit 0 only on SERVING."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.deploy.compose_checks import load
from tests.deploy.config_table import ROOT
from tests.support.certificates import Authority
from tests.support.temporal import dev_server


def load_healthcheck() -> ModuleType:
    # Loaded by path: in the image it is a lone script, not part of a package.
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[str, health.aio.HealthServicer]]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        await server.stop(None)


async def run_check(address: str, *service: str) -> int:
    module = load_healthcheck()
    code: int = await asyncio.to_thread(module.main, [address, *service])
    return code


async def test_serving_is_healthy(health_server: tuple[str, health.aio.HealthServicer]) -> None:
    address, servicer = health_server
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("dancu.x.v1.X", health_pb2.HealthCheckResponse.SERVING)
    assert await run_check(address) == 0
    assert await run_check(address, "dancu.x.v1.X") == 0


async def test_not_serving_is_unhealthy(
    health_server: tuple[str, health.aio.HealthServicer], capsys: pytest.CaptureFixture[str]
) -> None:
    address, servicer = health_server
    # A draining service turns NOT_SERVING before it stops accepting calls.
    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert await run_check(address) == 1
    assert capsys.readouterr().err.strip() == f"{address}: NOT_SERVING"


async def test_unknown_service_and_no_server_are_unhealthy(
    health_server: tuple[str, health.aio.HealthServicer],
) -> None:
    address, _ = health_server
    assert await run_check(address, "dancu.unknown.v1.Nothing") == 1
    assert await run_check("127.0.0.1:1") == 1


def test_usage() -> None:
    assert load_healthcheck().main([]) == 64


async def test_the_workers_check_asks_a_temporal_frontend() -> None:
    # compose's worker check: the health of the frontend it polls, by the frontend's own
    # health service name, which a Temporal server answers.
    test = load()["services"]["worker"]["healthcheck"]["test"]
    service = test[test.index("healthcheck") + 2]
    async with dev_server() as env:
        address = env.client.service_client.config.target_host
        assert await run_check(address, service) == 0
        assert await run_check(address, "temporal.api.workflowservice.v1.NoSuchService") == 1


async def test_a_tls_port_is_checked_over_mutual_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A service container's check runs with the container's DANCU_TLS_* settings.
    ca = Authority(tmp_path, "dancu")
    served, client = ca.issue("registry"), ca.issue("probe")
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    credentials = grpc.ssl_server_credentials(
        [(served.key_file.read_bytes(), served.cert_file.read_bytes())],
        root_certificates=ca.cert_file.read_bytes(),
        require_client_auth=True,
    )
    address = f"127.0.0.1:{server.add_secure_port('127.0.0.1:0', credentials)}"
    await server.start()
    try:
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert await run_check(address) == 1
        monkeypatch.setenv("DANCU_TLS_CA_FILE", str(ca.cert_file))
        assert await run_check(address) == 1
        monkeypatch.setenv("DANCU_TLS_CERT_FILE", str(client.cert_file))
        monkeypatch.setenv("DANCU_TLS_KEY_FILE", str(client.key_file))
        assert await run_check(address) == 0
    finally:
        await server.stop(None)
