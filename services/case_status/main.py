"""Composition root: settings → telemetry → engine → registry client → servicer → server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dancu.case_status.v1 import case_status_service_pb2, case_status_service_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from services.case_status.adapters.clock import SystemClock
from services.case_status.adapters.registry_client import GrpcRegistry
from services.case_status.adapters.tables import outbox
from services.case_status.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.case_status.api.errors import ERROR_DOMAIN, ERROR_TABLE
from services.case_status.api.policy import POLICY
from services.case_status.api.servicer import CaseStatusServicer
from services.case_status.config import CaseStatusSettings
from services.case_status.migrations import MIGRATIONS
from services.case_status.use_cases import CaseStatusService
from services.case_status.use_cases.recompute import STATUS_CHANGED
from services.kit.auth import TokenVerifier
from services.kit.config import ServerTls
from services.kit.db import create_engine
from services.kit.outbox_relay import relaying
from services.kit.server import Server, serve_until_signalled
from services.kit.startup import run_service
from services.kit.wards import OfficialWards

logger = logging.getLogger("services.case_status")

# Each status change starts the worker's propagation workflow (workflows/propagation).
RELAYED = {STATUS_CHANGED: "StatusChangePropagation"}
SERVICE_NAME = case_status_service_pb2.DESCRIPTOR.services_by_name["CaseStatusService"].full_name


@asynccontextmanager
async def open_case_status(
    engine: AsyncEngine, registry_address: str, registry_token: str
) -> AsyncIterator[CaseStatusService]:
    """What the use cases need; the registry channel closes before the engine is disposed
    (leave the block first)."""
    registry = GrpcRegistry.connect(registry_address, lambda: registry_token)
    try:
        yield CaseStatusService(
            uow=SqlUnitOfWorkFactory(engine),
            registry=registry,
            clock=SystemClock(),
            ward_exists=OfficialWards().exists,
        )
    finally:
        await registry.close()


def build_server(
    service: CaseStatusService, verifier: TokenVerifier, address: str, tls: ServerTls | None = None
) -> Server:
    servicer = CaseStatusServicer(service)
    return Server(
        registrations=[
            lambda server: case_status_service_pb2_grpc.add_CaseStatusServiceServicer_to_server(
                servicer, server
            )
        ],
        service_names=[SERVICE_NAME],
        verifier=verifier,
        policy=POLICY,
        error_table=ERROR_TABLE,
        error_domain=ERROR_DOMAIN,
        address=address,
        tls=tls,
    )


async def run(settings: CaseStatusSettings, verifier: TokenVerifier) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with open_case_status(
            engine, settings.registry_address, settings.registry_token
        ) as service:
            server = build_server(service, verifier, settings.server.address, settings.server.tls)
            logger.info("case status listening on %s", settings.server.address)
            async with relaying(engine, outbox, settings.temporal, RELAYED):
                await serve_until_signalled(
                    server, settings.server.grace_seconds, settings.server.drain_delay_seconds
                )
    finally:
        await engine.dispose()


def main() -> int:
    return run_service("case_status", CaseStatusSettings.from_env, MIGRATIONS, run)
