"""When case status cannot be reached, welfare decides nothing and answers UNAVAILABLE
(retryable with the same request id), instead of assessing a claim without its facts."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import grpc
from dancu.welfare.v1 import welfare_service_pb2_grpc as pb_grpc

from services.kit.auth import TokenIssuer, TokenVerifier, public_key_pem
from services.kit.db import create_engine
from services.welfare.domain.examples import MEAL_SUPPORT
from services.welfare.main import build_server, open_welfare
from tests.integration.registry_client import (
    SERVICE_CALLER,
    RegistryDatabase,
    expect_error,
    register,
)
from tests.integration.welfare_client import OFFICER, WelfareClients, check, open_request

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

    from services.kit.server import Server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the probe is closed


async def test_case_status_outage_is_unavailable_and_opens_no_case(
    welfare_database_url: str,
    welfare_clients: WelfareClients,  # publishes the example programs
    registry_server: Server,
    registrar: RegistryServiceAsyncStub,
    signing_key: bytes,
    token_issuer: TokenIssuer,
    welfare_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    engine = create_engine(welfare_database_url, pool_size=2)
    try:
        async with open_welfare(
            engine,
            f"127.0.0.1:{registry_server.port}",
            f"127.0.0.1:{_closed_port()}",
            token_issuer.issue(SERVICE_CALLER),
        ) as svc:
            server = build_server(svc, TokenVerifier(public_key_pem(signing_key)), "127.0.0.1:0")
            await server.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                    stub = pb_grpc.WelfareServiceStub(channel)
                    auth = [("authorization", f"Bearer {token_issuer.issue(OFFICER)}")]
                    checked = await expect_error(
                        stub.CheckEligibility(
                            check(resident.citizen_id, MEAL_SUPPORT), metadata=auth, timeout=30
                        ),
                        grpc.StatusCode.UNAVAILABLE,
                    )
                    opened = await expect_error(
                        stub.OpenBenefitCase(
                            open_request(MEAL_SUPPORT, resident.citizen_id),
                            metadata=auth,
                            timeout=30,
                        ),
                        grpc.StatusCode.UNAVAILABLE,
                    )
            finally:
                await server.stop(1.0)
    finally:
        await engine.dispose()

    assert (checked.reason, opened.reason) == ("FACTS_UNAVAILABLE", "FACTS_UNAVAILABLE")
    cases = await welfare_db.scalar(
        "SELECT count(*) FROM benefit_cases WHERE beneficiary_id = %s", resident.citizen_id
    )
    assert cases == 0
