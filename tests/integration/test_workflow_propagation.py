"""Case-status changes reach alerts and the isolation follow-up through the outbox relay and
the propagation workflow: real case status, alerts and registry over gRPC, the Temporal test
server, the worker's own workflows and activities."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from dancu.case_status.v1 import case_pb2 as cpb
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.case_status.adapters.tables import outbox
from services.case_status.main import RELAYED
from services.case_status.use_cases.recompute import STATUS_CHANGED
from services.kit.auth import TokenIssuer
from services.kit.outbox_relay import OutboxRelay
from services.kit.server import Server
from tests.integration.alerts_client import resident_with_temporary_stay
from tests.integration.case_status_client import status_request
from tests.integration.registry_client import CUA_NAM, HOAN_KIEM, RegistryDatabase
from tests.integration.workflow_gateways import outbox_relay, service_gateways
from workflows.isolation.models import FollowUpResult, workflow_id
from workflows.propagation.models import Propagated
from workflows.worker import build_worker

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


@asynccontextmanager
async def _worker(
    env: WorkflowEnvironment,
    queue: str,
    token_issuer: TokenIssuer,
    case_status_server: Server,
    alerts_server: Server,
) -> AsyncIterator[Worker]:
    # Registry and welfare are not called here: their gateways point at unused addresses
    # (channels connect on first use).
    async with (
        service_gateways(
            token_issuer,
            registry=case_status_server,
            case_status=case_status_server,
            alerts=alerts_server,
            welfare=case_status_server,
        ) as gateways,
        build_worker(env.client, gateways, queue) as worker,
    ):
        yield worker


async def _relay_events_of(
    relay: OutboxRelay, env: WorkflowEnvironment, case_db: RegistryDatabase, citizen_id: str
) -> list[Propagated]:
    """Relays the outbox and waits for the propagation of each of the resident's events."""
    await relay.relay_once()
    results = []
    for row in await case_db.outbox(citizen_id, STATUS_CHANGED):
        handle = env.client.get_workflow_handle(str(row["event_id"]), result_type=Propagated)
        results.append(await handle.result())
    return results


async def test_a_status_change_alerts_both_residence_wards_and_follows_the_isolation(
    time_skipping: WorkflowEnvironment,
    case_status_database_url: str,
    case_status_server: Server,
    alerts_server: Server,
    token_issuer: TokenIssuer,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
    alerts_db: RegistryDatabase,
) -> None:
    await case_db.publish_pending_outbox()
    resident = await resident_with_temporary_stay(registrar, permanent=HOAN_KIEM, temporary=CUA_NAM)
    cid = resident.citizen_id
    await cdc.RecordStatus(status_request(cid, classification=cpb.CLASSIFICATION_F1))
    queue = f"propagation-{uuid.uuid4().hex}"
    async with (
        outbox_relay(
            time_skipping.client, case_status_database_url, outbox, RELAYED, queue
        ) as relay,
        _worker(time_skipping, queue, token_issuer, case_status_server, alerts_server),
    ):
        [f1] = await _relay_events_of(relay, time_skipping, case_db, cid)
        following = time_skipping.client.get_workflow_handle(
            workflow_id(cid), result_type=FollowUpResult
        )
        assert (await following.query("progress"))["step"] == "waiting"

        await cdc.RecordStatus(status_request(cid, classification=cpb.CLASSIFICATION_CLEARED))
        [_, cleared] = await _relay_events_of(relay, time_skipping, case_db, cid)
        assert (await following.result()).outcome == "STOPPED"

    assert sorted(f1.wards) == sorted([HOAN_KIEM, CUA_NAM])
    assert not f1.already_applied
    assert f1.isolation == "FOLLOWING"
    assert f1.lag_seconds >= 0
    assert cleared.isolation == "STOPPED"
    alerts = await alerts_db.rows(
        "SELECT event_id, ward_code FROM alerts WHERE citizen_id = %s ORDER BY event_id", cid
    )
    # One alert per ward per event.
    assert len(alerts) == 4
    assert {(str(a["event_id"]), a["ward_code"]) for a in alerts} == {
        (event, ward) for event in (f1.event_id, cleared.event_id) for ward in (HOAN_KIEM, CUA_NAM)
    }
