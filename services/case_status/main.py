"""Composition root: settings → telemetry → engine → registry client → servicer → server."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dancu.case_status.v1 import case_status_service_pb2, case_status_service_pb2_grpc
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.case_status.adapters.clock import SystemClock
from services.case_status.adapters.registry_client import GrpcRegistry
from services.case_status.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.case_status.adapters.wards import ward_exists
from services.case_status.api.errors import ERROR_DOMAIN, ERROR_TABLE
from services.case_status.api.policy import POLICY
from services.case_status.api.servicer import CaseStatusServicer
from services.case_status.config import CaseStatusSettings
from services.case_status.migrations import MIGRATIONS
from services.case_status.use_cases import CaseStatusService
from services.kit.auth import InvalidPublicKey, TokenVerifier
from services.kit.config import ConfigError, Env
from services.kit.db import create_engine
from services.kit.migrations import SchemaBehind
from services.kit.server import Server, serve_until_signalled
from services.kit.telemetry import configure_logging, setup_tracing

logger = logging.getLogger("services.case_status")

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
            ward_exists=ward_exists,
        )
    finally:
        await registry.close()


def build_server(service: CaseStatusService, verifier: TokenVerifier, address: str) -> Server:
    # The RPCs not built yet are left to the generated base class, which answers UNIMPLEMENTED
    # at run time; its type stub declares them abstract.
    servicer = CaseStatusServicer(service)  # type: ignore[abstract]
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
    )


async def run(settings: CaseStatusSettings, verifier: TokenVerifier) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with open_case_status(
            engine, settings.registry_address, settings.registry_token
        ) as service:
            server = build_server(service, verifier, settings.server.address)
            logger.info("case status listening on %s", settings.server.address)
            await serve_until_signalled(
                server, settings.server.grace_seconds, settings.server.drain_delay_seconds
            )
    finally:
        await engine.dispose()


def main() -> int:
    env = Env()
    configure_logging(env.string("DANCU_LOG_LEVEL", "INFO"))
    # The schema check runs Alembic, whose INFO lines would read like a migration happening.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = CaseStatusSettings.from_env(env)
        verifier = TokenVerifier(settings.auth_public_key)
        MIGRATIONS.ensure_current(settings.database_url)
    except (ConfigError, SchemaBehind, InvalidPublicKey) as error:
        print(f"case_status: cannot start: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        # The driver's message names host and database, never data.
        print(
            f"case_status: cannot start: database unreachable: {_first_line(error)}",
            file=sys.stderr,
        )
        return 2
    setup_tracing("dancu-case-status", env)
    asyncio.run(run(settings, verifier))
    return 0


def _first_line(error: SQLAlchemyError) -> str:
    # libpq appends hints on further lines; the operator needs the cause, on one line.
    return str(getattr(error, "orig", error)).strip().splitlines()[0]
