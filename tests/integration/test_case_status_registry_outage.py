"""When the registry cannot be reached, case status records nothing and answers UNAVAILABLE
(retryable with the same request id), instead of guessing that the resident exists."""

from __future__ import annotations

import socket

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc

from services.case_status.main import build_server, open_case_status
from services.kit.auth import TokenIssuer, TokenVerifier, public_key_pem
from services.kit.db import create_engine
from tests.integration.case_status_client import CDC, status_request
from tests.integration.registry_client import (
    SERVICE_CALLER,
    RegistryDatabase,
    expect_error,
    new_citizen_id,
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the probe is closed


async def test_registry_outage_is_unavailable_and_writes_nothing(
    case_status_database_url: str,
    signing_key: bytes,
    token_issuer: TokenIssuer,
    case_db: RegistryDatabase,
) -> None:
    engine = create_engine(case_status_database_url, pool_size=2)
    dead_registry = f"127.0.0.1:{_closed_port()}"
    try:
        async with open_case_status(
            engine, dead_registry, token_issuer.issue(SERVICE_CALLER)
        ) as svc:
            server = build_server(svc, TokenVerifier(public_key_pem(signing_key)), "127.0.0.1:0")
            await server.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                    stub = pb_grpc.CaseStatusServiceStub(channel)
                    cid = new_citizen_id()
                    error = await expect_error(
                        stub.RecordStatus(
                            status_request(cid, classification=cpb.CLASSIFICATION_F0),
                            metadata=[("authorization", f"Bearer {token_issuer.issue(CDC)}")],
                            timeout=30,
                        ),
                        grpc.StatusCode.UNAVAILABLE,
                    )
            finally:
                await server.stop(1.0)
    finally:
        await engine.dispose()
    assert error.reason == "REGISTRY_UNAVAILABLE"
    assert await case_db.outbox(cid) == []
    assert await case_db.rows("SELECT 1 FROM status_events WHERE citizen_id = %s", cid) == []
