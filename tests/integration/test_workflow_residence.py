"""A registry residence change reaches case status and alerts through the registry's outbox
relay and the residence-change propagation: real registry, case status and alerts over gRPC,
the Temporal test server, the worker's own workflows and activities."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from dancu.alerts.v1 import alert_pb2 as apb
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as cspb
from temporalio.testing import WorkflowEnvironment

from services.kit.auth import TokenIssuer
from services.kit.server import Server
from services.registry.adapters.tables import outbox as registry_outbox
from services.registry.main import RELAYED as REGISTRY_RELAYED
from services.registry.use_cases import RESIDENCE_CHANGED
from tests.integration.alerts_client import status_change
from tests.integration.case_status_client import status_request
from tests.integration.registry_client import (
    RegistryDatabase,
    register,
    register_stay,
)
from tests.integration.workflow_gateways import outbox_relay, service_gateways
from workflows.residence.models import ResidenceChangePropagated
from workflows.worker import build_worker

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

# Wards no other test lists cases in.
HOME, STAY = "00316", "00319"


async def test_a_flagged_resident_who_moves_is_listed_and_alerted_in_the_new_ward(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    registry_database_url: str,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    delivery: AlertsServiceAsyncStub,
    registry_db: RegistryDatabase,
    alerts_db: RegistryDatabase,
) -> None:
    await registry_db.publish_pending_outbox()
    resident = await register(registrar, ward=HOME)
    cid = resident.citizen_id
    await cdc.RecordStatus(status_request(cid, classification=cpb.CLASSIFICATION_F0))
    await delivery.ApplyStatusChange(status_change(cid))
    await register_stay(registrar, resident, STAY)
    queue = f"residence-{uuid.uuid4().hex}"
    client = time_skipping.client
    async with (
        outbox_relay(
            client, registry_database_url, registry_outbox, REGISTRY_RELAYED, queue
        ) as relay,
        service_gateways(
            token_issuer,
            registry=registry_server,
            case_status=case_status_server,
            alerts=alerts_server,
            welfare=alerts_server,
        ) as gateways,
        build_worker(client, gateways, queue),
    ):
        await relay.relay_once()
        [row] = await registry_db.outbox(cid, RESIDENCE_CHANGED)
        propagated = await client.get_workflow_handle(
            str(row["event_id"]), result_type=ResidenceChangePropagated
        ).result()

    assert propagated.case_status_refreshed
    assert propagated.flagged
    assert propagated.alerted_wards == [STAY]
    listed = await cdc.ListCases(
        cspb.ListCasesRequest(ward_code=STAY, ward_role=cspb.WARD_ROLE_TEMPORARY_RESIDENCE)
    )
    assert [(c.citizen_id, c.classification) for c in listed.cases] == [
        (cid, cpb.CLASSIFICATION_F0)
    ]
    alerts = await alerts_db.rows(
        "SELECT ward_code, source_id FROM alerts WHERE citizen_id = %s AND kind = %s",
        cid,
        apb.ALERT_KIND_RESIDENCE_CHANGE,
    )
    assert [(a["ward_code"], a["source_id"]) for a in alerts] == [(STAY, str(row["event_id"]))]
