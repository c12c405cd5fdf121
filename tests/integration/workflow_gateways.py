"""The worker's gateways to the session's real servers, with a service token; a service's
outbox relay on a test's own task queue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from sqlalchemy import Table
from temporalio.client import Client

from services.kit.auth import TokenIssuer
from services.kit.db import create_engine
from services.kit.outbox_relay import OutboxRelay, Route
from services.kit.server import Server
from tests.integration.registry_client import SERVICE_CALLER
from workflows.death.models import SlaPolicy
from workflows.gateways.alerts import AlertsGateway
from workflows.gateways.case_status import CaseStatusGateway
from workflows.gateways.registry import RegistryGateway
from workflows.gateways.welfare import WelfareGateway
from workflows.worker import Gateways


@asynccontextmanager
async def service_gateways(
    token_issuer: TokenIssuer,
    *,
    registry: Server,
    case_status: Server,
    alerts: Server,
    welfare: Server,
    sla: SlaPolicy | None = None,
) -> AsyncIterator[Gateways]:
    token = token_issuer.issue(SERVICE_CALLER)
    gateways = Gateways(
        CaseStatusGateway.connect(f"127.0.0.1:{case_status.port}", lambda: token),
        AlertsGateway.connect(f"127.0.0.1:{alerts.port}", lambda: token),
        RegistryGateway.connect(f"127.0.0.1:{registry.port}", lambda: token),
        WelfareGateway.connect(f"127.0.0.1:{welfare.port}", lambda: token),
        sla or SlaPolicy(72 * 3600, 168 * 3600),
    )
    try:
        yield gateways
    finally:
        await gateways.welfare.close()
        await gateways.registry.close()
        await gateways.alerts.close()
        await gateways.case_status.close()


@asynccontextmanager
async def outbox_relay(
    client: Client, database_url: str, table: Table, relayed: Mapping[str, str], queue: str
) -> AsyncIterator[OutboxRelay]:
    """A service's relay with its own routes (``relayed``: its ``main.RELAYED``), starting the
    workflows on ``queue``."""
    engine = create_engine(database_url, pool_size=2)
    routes = {kind: Route(name, queue) for kind, name in relayed.items()}
    try:
        yield OutboxRelay(engine, table, client, routes, batch=10_000)
    finally:
        await engine.dispose()
