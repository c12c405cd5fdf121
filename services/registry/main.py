"""Composition root: settings → telemetry → engine → servicer → server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dancu.registry.v1 import registry_service_pb2, registry_service_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.auth import TokenVerifier
from services.kit.config import ServerTls
from services.kit.db import create_engine
from services.kit.outbox_relay import relaying
from services.kit.server import Server, serve_until_signalled
from services.kit.startup import run_service
from services.kit.wards import OfficialWards
from services.registry.adapters.audited_reads import BatchedResidentReads
from services.registry.adapters.clock import SystemClock
from services.registry.adapters.tables import outbox
from services.registry.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.registry.api.errors import ERROR_DOMAIN, ERROR_TABLE
from services.registry.api.policy import POLICY
from services.registry.api.servicer import RegistryServicer
from services.registry.config import RegistrySettings
from services.registry.migrations import MIGRATIONS
from services.registry.use_cases import DEATH_REVOKED, RESIDENCE_CHANGED, Registry

logger = logging.getLogger("services.registry")

# The registry's events that start a workflow (by workflow type name: the registry imports no
# workflow code). Others stay in the outbox until a workflow handles them.
RELAYED = {
    DEATH_REVOKED: "DeathCorrection",
    RESIDENCE_CHANGED: "ResidenceChangePropagation",
}
SERVICE_NAME = registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


@asynccontextmanager
async def open_registry(engine: AsyncEngine) -> AsyncIterator[Registry]:
    """What the use cases need, on ``engine``; what it holds goes back before the engine is
    disposed (leave the block first)."""
    reads = BatchedResidentReads(engine)
    try:
        yield Registry(
            uow=SqlUnitOfWorkFactory(engine),
            reads=reads,
            wards=OfficialWards(),
            clock=SystemClock(),
        )
    finally:
        await reads.aclose()


def build_server(
    registry: Registry, verifier: TokenVerifier, address: str, tls: ServerTls | None = None
) -> Server:
    servicer = RegistryServicer(registry)
    return Server(
        registrations=[
            lambda server: registry_service_pb2_grpc.add_RegistryServiceServicer_to_server(
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


async def run(settings: RegistrySettings, verifier: TokenVerifier) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with open_registry(engine) as registry:
            server = build_server(registry, verifier, settings.server.address, settings.server.tls)
            logger.info("registry listening on %s", settings.server.address)
            async with relaying(engine, outbox, settings.temporal, RELAYED):
                await serve_until_signalled(
                    server, settings.server.grace_seconds, settings.server.drain_delay_seconds
                )
    finally:
        await engine.dispose()


def main() -> int:
    return run_service("registry", RegistrySettings.from_env, MIGRATIONS, run)
