"""Composition root: settings → telemetry → engine → registry and case-status clients and the
Temporal client → servicer → server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dancu.welfare.v1 import welfare_service_pb2, welfare_service_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.auth import TokenVerifier
from services.kit.config import ServerTls
from services.kit.db import create_engine
from services.kit.server import Server, serve_until_signalled
from services.kit.startup import run_service
from services.kit.temporal import TemporalSettings, connect
from services.welfare.adapters.case_metrics import observing_cases_by_state
from services.welfare.adapters.case_status_client import GrpcCaseStatus
from services.welfare.adapters.case_workflows import TemporalCaseWorkflows
from services.welfare.adapters.clock import SystemClock
from services.welfare.adapters.registry_client import GrpcRegistry
from services.welfare.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.welfare.api.errors import ERROR_DOMAIN, ERROR_TABLE
from services.welfare.api.policy import POLICY
from services.welfare.api.servicer import WelfareServicer
from services.welfare.config import WelfareSettings
from services.welfare.migrations import MIGRATIONS
from services.welfare.ports import CaseWorkflows
from services.welfare.use_cases import WelfareService

logger = logging.getLogger("services.welfare")

SERVICE_NAME = welfare_service_pb2.DESCRIPTOR.services_by_name["WelfareService"].full_name


@asynccontextmanager
async def open_welfare(
    engine: AsyncEngine,
    registry_address: str,
    case_status_address: str,
    token: str,
    workflows: CaseWorkflows | None = None,
) -> AsyncIterator[WelfareService]:
    """What the use cases need; the channels close before the engine is disposed (leave the
    block first). ``workflows``: where officers' acts on workflow-driven cases go (None: they
    are recorded directly)."""
    registry = GrpcRegistry.connect(registry_address, lambda: token)
    case_status = GrpcCaseStatus.connect(case_status_address, lambda: token)
    try:
        yield WelfareService(
            uow=SqlUnitOfWorkFactory(engine),
            registry=registry,
            case_status=case_status,
            clock=SystemClock(),
            workflows=workflows,
        )
    finally:
        await case_status.close()
        await registry.close()


def build_server(
    service: WelfareService, verifier: TokenVerifier, address: str, tls: ServerTls | None = None
) -> Server:
    servicer = WelfareServicer(service)
    return Server(
        registrations=[
            lambda server: welfare_service_pb2_grpc.add_WelfareServiceServicer_to_server(
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


async def case_workflows(temporal: TemporalSettings | None) -> CaseWorkflows | None:
    """Officers' acts reach the cases' workflows when Temporal is configured. The client
    connects on its first call, so welfare serves while Temporal is away (an act on a
    workflow-driven case is then UNAVAILABLE)."""
    if temporal is None:
        return None
    client = await connect(temporal.address, temporal.namespace, lazy=True)
    return TemporalCaseWorkflows(client)


async def run(settings: WelfareSettings, verifier: TokenVerifier) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with open_welfare(
            engine,
            settings.registry_address,
            settings.case_status_address,
            settings.service_token,
            await case_workflows(settings.temporal),
        ) as service:
            server = build_server(service, verifier, settings.server.address, settings.server.tls)
            logger.info("welfare listening on %s", settings.server.address)
            async with observing_cases_by_state(engine):
                await serve_until_signalled(
                    server, settings.server.grace_seconds, settings.server.drain_delay_seconds
                )
    finally:
        await engine.dispose()


def main() -> int:
    return run_service("welfare", WelfareSettings.from_env, MIGRATIONS, run)
