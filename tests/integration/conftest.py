"""Integration fixtures: the real registry server (gRPC on 127.0.0.1, port 0) on a real,
freshly migrated PostgreSQL database, signed tokens, and a direct database connection.

One server and one database serve the whole session (starting them dominates the run time);
tests stay independent by making their own residents (``registry_client.new_citizen_id``,
``name_tag``) and by counting rows of those residents only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
from dancu.welfare.v1 import welfare_service_pb2 as welfare_pb
from temporalio.testing import WorkflowEnvironment

from services.alerts.main import build_server as build_alerts_server
from services.alerts.main import open_alerts
from services.alerts.migrations import MIGRATIONS as ALERTS_MIGRATIONS
from services.alerts.use_cases import AlertsService
from services.case_status.main import build_server as build_case_status_server
from services.case_status.main import open_case_status
from services.case_status.migrations import MIGRATIONS as CASE_STATUS_MIGRATIONS
from services.kit.auth import TokenIssuer, TokenVerifier, generate_private_key_pem, public_key_pem
from services.kit.db import create_engine
from services.kit.server import Server
from services.registry.main import build_server, open_registry
from services.registry.migrations import MIGRATIONS
from services.welfare.api.convert import program_message
from services.welfare.domain.examples import example_programs
from services.welfare.main import build_server as build_welfare_server
from services.welfare.main import open_welfare
from services.welfare.migrations import MIGRATIONS as WELFARE_MIGRATIONS
from services.welfare.ports import CaseWorkflows
from tests.integration.alerts_client import AlertsClients
from tests.integration.case_status_client import CDC, CaseStatusClients
from tests.integration.registry_client import (
    CIVIL_OFFICER,
    HEALTH_AGENCY,
    HOAN_KIEM_POLICE,
    HOAN_KIEM_REGISTRAR,
    REGISTRAR,
    SECOND_CIVIL_OFFICER,
    SERVICE_CALLER,
    RegistryClients,
    RegistryDatabase,
)
from tests.integration.welfare_client import CHECKER as WELFARE_CHECKER
from tests.integration.welfare_client import OFFICER as WELFARE_OFFICER
from tests.integration.welfare_client import SUPERVISOR as WELFARE_SUPERVISOR
from tests.integration.welfare_client import WelfareClients
from tests.support.postgres import DatabaseFactory
from tests.support.temporal import time_skipping_server

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub


def verifier(signing_key: bytes) -> TokenVerifier:
    return TokenVerifier(public_key_pem(signing_key))


@asynccontextmanager
async def serving(server: Server) -> AsyncIterator[Server]:
    """``server`` started on its port, stopped (1 s grace) when the block ends."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop(1.0)


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[RegistryDatabase]:
    """Direct SQL on a service's database (every database has audit_log, outbox...)."""
    database = await RegistryDatabase.connect(database_url)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture(scope="session")
def registry_database_url(fresh_database_url: DatabaseFactory) -> str:
    """A brand-new database at the registry's migration head."""
    url = fresh_database_url("registry")
    MIGRATIONS.upgrade(url)
    return url


@pytest.fixture(scope="session")
def signing_key() -> bytes:
    """The private key of this run's token issuer (the server holds its public key)."""
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def token_issuer(signing_key: bytes) -> TokenIssuer:
    return TokenIssuer(signing_key)


@pytest.fixture(scope="session")
async def registry_server(registry_database_url: str, signing_key: bytes) -> AsyncIterator[Server]:
    engine = create_engine(registry_database_url, pool_size=5)
    try:
        async with (
            open_registry(engine) as registry,
            serving(build_server(registry, verifier(signing_key), "127.0.0.1:0")) as server,
        ):
            yield server
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def registry_clients(
    registry_server: Server, token_issuer: TokenIssuer
) -> AsyncIterator[RegistryClients]:
    clients = RegistryClients(f"127.0.0.1:{registry_server.port}", token_issuer)
    try:
        yield clients
    finally:
        await clients.close()


@pytest.fixture(scope="session")
async def registry_db(registry_database_url: str) -> AsyncIterator[RegistryDatabase]:
    async with connected(registry_database_url) as database:
        yield database


@pytest.fixture
def registrar(registry_clients: RegistryClients) -> RegistryServiceAsyncStub:
    """A nationwide household-registration officer."""
    return registry_clients.stub(REGISTRAR)


@pytest.fixture
def ward_registrar(registry_clients: RegistryClients) -> RegistryServiceAsyncStub:
    """A household-registration officer scoped to Phường Hoàn Kiếm."""
    return registry_clients.stub(HOAN_KIEM_REGISTRAR)


@pytest.fixture
def ward_police(registry_clients: RegistryClients) -> RegistryServiceAsyncStub:
    """A police officer scoped to Phường Hoàn Kiếm (token wards=["00070"])."""
    return registry_clients.stub(HOAN_KIEM_POLICE)


@pytest.fixture
def civil_officer(registry_clients: RegistryClients) -> RegistryServiceAsyncStub:
    return registry_clients.stub(CIVIL_OFFICER)


@pytest.fixture
def second_civil_officer(registry_clients: RegistryClients) -> RegistryServiceAsyncStub:
    """Another civil-status officer: the one who may approve the first one's proposals."""
    return registry_clients.stub(SECOND_CIVIL_OFFICER)


@pytest.fixture
def health_agency(registry_clients: RegistryClients) -> RegistryServiceAsyncStub:
    return registry_clients.stub(HEALTH_AGENCY)


@pytest.fixture
def service_caller(registry_clients: RegistryClients) -> RegistryServiceAsyncStub:
    """Another dancu service (nationwide, role "service")."""
    return registry_clients.stub(SERVICE_CALLER)


# --- case status ---------------------------------------------------------------------------
# The case-status server on its own fresh database, calling the session's registry server
# with a service token (as deployed: over gRPC, nothing shared but the protos).


@pytest.fixture(scope="session")
def case_status_database_url(fresh_database_url: DatabaseFactory) -> str:
    url = fresh_database_url("case_status")
    CASE_STATUS_MIGRATIONS.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def case_status_server(
    case_status_database_url: str,
    registry_server: Server,
    signing_key: bytes,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Server]:
    engine = create_engine(case_status_database_url, pool_size=5)
    token = token_issuer.issue(SERVICE_CALLER, ttl_seconds=6 * 3600)
    try:
        async with (
            open_case_status(engine, f"127.0.0.1:{registry_server.port}", token) as svc,
            serving(build_case_status_server(svc, verifier(signing_key), "127.0.0.1:0")) as server,
        ):
            yield server
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def case_status_clients(
    case_status_server: Server, token_issuer: TokenIssuer
) -> AsyncIterator[CaseStatusClients]:
    clients = CaseStatusClients(f"127.0.0.1:{case_status_server.port}", token_issuer)
    try:
        yield clients
    finally:
        await clients.close()


@pytest.fixture(scope="session")
async def case_db(case_status_database_url: str) -> AsyncIterator[RegistryDatabase]:
    """Direct SQL on the case-status database (the same helper: audit_log, outbox...)."""
    async with connected(case_status_database_url) as database:
        yield database


@pytest.fixture
def cdc(case_status_clients: CaseStatusClients) -> CaseStatusServiceAsyncStub:
    """A nationwide health agency."""
    return case_status_clients.case_stub(CDC)


@pytest.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of its own per test: skipping time is global to a server, and a test
    that follows real case-status dates needs a clock no earlier test has moved."""
    async with time_skipping_server() as env:
        yield env


# --- alerts --------------------------------------------------------------------------------
# The alerts server on its own fresh database, calling the session's registry and case-status
# servers with a service token. Its watchlist catches up every 50 ms so that tests of other
# replicas' changes stay quick.

ALERTS_POLL_SECONDS = 0.05


@pytest.fixture(scope="session")
def alerts_database_url(fresh_database_url: DatabaseFactory) -> str:
    url = fresh_database_url("alerts")
    ALERTS_MIGRATIONS.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def alerts_service(
    alerts_database_url: str,
    registry_server: Server,
    case_status_server: Server,
    token_issuer: TokenIssuer,
) -> AsyncIterator[AlertsService]:
    engine = create_engine(alerts_database_url, pool_size=5)
    token = token_issuer.issue(SERVICE_CALLER, ttl_seconds=6 * 3600)
    try:
        async with open_alerts(
            engine,
            f"127.0.0.1:{registry_server.port}",
            f"127.0.0.1:{case_status_server.port}",
            token,
            watchlist_poll_seconds=ALERTS_POLL_SECONDS,
        ) as service:
            yield service
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def alerts_server(alerts_service: AlertsService, signing_key: bytes) -> AsyncIterator[Server]:
    async with serving(
        build_alerts_server(alerts_service, verifier(signing_key), "127.0.0.1:0")
    ) as server:
        yield server


@pytest.fixture(scope="session")
async def alerts_clients(
    alerts_server: Server, token_issuer: TokenIssuer
) -> AsyncIterator[AlertsClients]:
    clients = AlertsClients(f"127.0.0.1:{alerts_server.port}", token_issuer)
    try:
        yield clients
    finally:
        await clients.close()


@pytest.fixture(scope="session")
async def alerts_db(alerts_database_url: str) -> AsyncIterator[RegistryDatabase]:
    """Direct SQL on the alerts database."""
    async with connected(alerts_database_url) as database:
        yield database


@pytest.fixture
def delivery(alerts_clients: AlertsClients) -> AlertsServiceAsyncStub:
    """The caller delivering case-status events (a dancu service, nationwide)."""
    return alerts_clients.alerts_stub(SERVICE_CALLER)


# --- welfare -------------------------------------------------------------------------------
# The welfare server on its own fresh database, asking the session's registry and case-status
# servers for facts with a service token; the example programs are published once.


@pytest.fixture(scope="session")
def welfare_database_url(fresh_database_url: DatabaseFactory) -> str:
    url = fresh_database_url("welfare")
    WELFARE_MIGRATIONS.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def welfare_server(
    welfare_database_url: str,
    registry_server: Server,
    case_status_server: Server,
    signing_key: bytes,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Server]:
    engine = create_engine(welfare_database_url, pool_size=5)
    token = token_issuer.issue(SERVICE_CALLER, ttl_seconds=6 * 3600)
    try:
        async with (
            open_welfare(
                engine,
                f"127.0.0.1:{registry_server.port}",
                f"127.0.0.1:{case_status_server.port}",
                token,
            ) as svc,
            serving(build_welfare_server(svc, verifier(signing_key), "127.0.0.1:0")) as server,
        ):
            yield server
    finally:
        await engine.dispose()


@asynccontextmanager
async def forwarding_welfare(
    welfare_database_url: str,
    registry_server: Server,
    case_status_server: Server,
    signing_key: bytes,
    token_issuer: TokenIssuer,
    workflows: CaseWorkflows,
) -> AsyncIterator[Server]:
    """Another welfare process on the session's welfare database, configured with Temporal:
    officers' acts on workflow-driven cases go to the cases' workflows (the session's
    welfare_server has no Temporal and records every act directly)."""
    engine = create_engine(welfare_database_url, pool_size=3)
    token = token_issuer.issue(SERVICE_CALLER, ttl_seconds=3600)
    try:
        async with (
            open_welfare(
                engine,
                f"127.0.0.1:{registry_server.port}",
                f"127.0.0.1:{case_status_server.port}",
                token,
                workflows,
            ) as svc,
            serving(build_welfare_server(svc, verifier(signing_key), "127.0.0.1:0")) as server,
        ):
            yield server
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def welfare_clients(
    welfare_server: Server, token_issuer: TokenIssuer
) -> AsyncIterator[WelfareClients]:
    clients = WelfareClients(f"127.0.0.1:{welfare_server.port}", token_issuer)
    try:
        for program in example_programs():
            await clients.welfare_stub(WELFARE_SUPERVISOR).PublishProgram(
                welfare_pb.PublishProgramRequest(
                    request_id=f"examples-{program.code}", program=program_message(program)
                )
            )
        yield clients
    finally:
        await clients.close()


@pytest.fixture(scope="session")
async def welfare_db(welfare_database_url: str) -> AsyncIterator[RegistryDatabase]:
    """Direct SQL on the welfare database (the same helper: audit_log, outbox...)."""
    async with connected(welfare_database_url) as database:
        yield database


@pytest.fixture
def officer(welfare_clients: WelfareClients) -> WelfareServiceAsyncStub:
    """A nationwide welfare officer: the maker."""
    return welfare_clients.welfare_stub(WELFARE_OFFICER)


@pytest.fixture
def checker(welfare_clients: WelfareClients) -> WelfareServiceAsyncStub:
    """Another nationwide welfare officer: the checker."""
    return welfare_clients.welfare_stub(WELFARE_CHECKER)


@pytest.fixture
def supervisor(welfare_clients: WelfareClients) -> WelfareServiceAsyncStub:
    return welfare_clients.welfare_stub(WELFARE_SUPERVISOR)
