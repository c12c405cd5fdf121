"""Composition root: settings → telemetry → engine → watchlist → clients → servicer → server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dancu.alerts.v1 import alerts_service_pb2, alerts_service_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from services.alerts.adapters.case_status_client import GrpcCaseStatus
from services.alerts.adapters.clock import SystemClock
from services.alerts.adapters.registry_client import GrpcRegistry
from services.alerts.adapters.repository import CachedCheckpoints, SqlWatchlistSource
from services.alerts.adapters.scan_recorder import BatchedScanRecorder
from services.alerts.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.alerts.adapters.watchlist_metrics import observe_watchlist
from services.alerts.api.errors import ERROR_DOMAIN, ERROR_TABLE
from services.alerts.api.policy import POLICY
from services.alerts.api.servicer import AlertsServicer
from services.alerts.config import AlertsSettings
from services.alerts.domain.model import Classification
from services.alerts.domain.rules import DEFAULT_WARN_LEVELS
from services.alerts.domain.watchlist import Watchlist
from services.alerts.migrations import MIGRATIONS
from services.alerts.use_cases import AlertsService
from services.alerts.use_cases.watchlist import WatchlistFollower
from services.kit.auth import TokenVerifier
from services.kit.config import ServerTls
from services.kit.db import create_engine
from services.kit.server import Server, serve_until_signalled
from services.kit.startup import run_service
from services.kit.wards import OfficialWards

logger = logging.getLogger("services.alerts")

SERVICE_NAME = alerts_service_pb2.DESCRIPTOR.services_by_name["AlertsService"].full_name


@asynccontextmanager
async def open_alerts(
    engine: AsyncEngine,
    registry_address: str,
    case_status_address: str,
    service_token: str,
    *,
    watchlist_poll_seconds: float = 0.5,
    warn_levels: frozenset[Classification] = DEFAULT_WARN_LEVELS,
) -> AsyncIterator[AlertsService]:
    """What the use cases need, with the watchlist loaded and followed. Leave the block before
    disposing of the engine: it stops the follower, closes the channels and gives the scan
    recorder's connection back."""
    watchlist = Watchlist()
    follower = WatchlistFollower(SqlWatchlistSource(engine), watchlist, watchlist_poll_seconds)
    await follower.catch_up()
    logger.info("watchlist loaded: %d flagged residents", len(watchlist))
    observe_watchlist(watchlist, follower)
    registry = GrpcRegistry.connect(registry_address, lambda: service_token)
    case_status = GrpcCaseStatus.connect(case_status_address, lambda: service_token)
    recorder = BatchedScanRecorder(engine)
    following = asyncio.create_task(follower.run(), name="watchlist-follower")
    try:
        yield AlertsService(
            uow=SqlUnitOfWorkFactory(engine),
            checkpoints=CachedCheckpoints(engine),
            scans=recorder,
            watchlist=watchlist,
            registry=registry,
            case_status=case_status,
            clock=SystemClock(),
            ward_exists=OfficialWards().exists,
            warn_levels=warn_levels,
            feed_poll_seconds=watchlist_poll_seconds,
            watchlist_changed=follower.catch_up,
        )
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await recorder.aclose()
        await case_status.close()
        await registry.close()


def build_server(
    service: AlertsService, verifier: TokenVerifier, address: str, tls: ServerTls | None = None
) -> Server:
    servicer = AlertsServicer(service)
    return Server(
        registrations=[
            lambda server: alerts_service_pb2_grpc.add_AlertsServiceServicer_to_server(
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


async def run(settings: AlertsSettings, verifier: TokenVerifier) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with open_alerts(
            engine,
            settings.registry_address,
            settings.case_status_address,
            settings.service_token,
            watchlist_poll_seconds=settings.watchlist_poll_ms / 1000,
            warn_levels=settings.warn_levels,
        ) as service:
            server = build_server(service, verifier, settings.server.address, settings.server.tls)
            logger.info("alerts listening on %s", settings.server.address)
            await serve_until_signalled(
                server, settings.server.grace_seconds, settings.server.drain_delay_seconds
            )
    finally:
        await engine.dispose()


def main() -> int:
    return run_service("alerts", AlertsSettings.from_env, MIGRATIONS, run)
