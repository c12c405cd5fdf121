"""A registry residence change reaches alerts (ApplyResidenceChange): a flagged resident's
warnings go where they live now, and each ward they moved into is alerted once."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import grpc
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb

from tests.integration.alerts_client import (
    OTHER_OPERATOR,
    TAY_HO_POLICE,
    AlertsClients,
    register_checkpoint,
    scan_request,
    status_change,
)
from tests.integration.registry_client import (
    CUA_NAM,
    HOAN_KIEM,
    TAY_HO,
    RegistryDatabase,
    expect_error,
    new_citizen_id,
    register,
    register_stay,
)

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


def _moved(citizen_id: str, event_id: str | None = None) -> pb.ApplyResidenceChangeRequest:
    return pb.ApplyResidenceChangeRequest(
        event_id=event_id or str(uuid.uuid4()), citizen_id=citizen_id
    )


async def test_a_flagged_resident_who_moves_in_alerts_the_new_ward_once(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_db: RegistryDatabase,
) -> None:
    resident = await register(registrar, ward=HOAN_KIEM)
    cid = resident.citizen_id
    status = status_change(cid, classification=apb.CLASSIFICATION_F1)
    await delivery.ApplyStatusChange(status)
    await register_stay(registrar, resident, CUA_NAM)
    event = _moved(cid)

    first = await delivery.ApplyResidenceChange(event)
    again = await delivery.ApplyResidenceChange(event)

    assert first.flagged
    assert [(a.ward_code, a.ward_role, a.kind, a.classification) for a in first.alerts] == [
        (
            CUA_NAM,
            apb.WARD_ROLE_TEMPORARY_RESIDENCE,
            apb.ALERT_KIND_RESIDENCE_CHANGE,
            apb.CLASSIFICATION_F1,
        )
    ]
    # The alert names the status event that flagged the resident.
    assert first.alerts[0].event_id == status.event_id
    assert [a.alert_id for a in again.alerts] == [a.alert_id for a in first.alerts]
    rows = await alerts_db.rows(
        "SELECT ward_code FROM alerts WHERE citizen_id = %s AND kind = %s ORDER BY ward_code",
        cid,
        apb.ALERT_KIND_RESIDENCE_CHANGE,
    )
    assert [r["ward_code"] for r in rows] == [CUA_NAM]


async def test_a_warning_after_the_move_reaches_the_ward_moved_into(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_db: RegistryDatabase,
) -> None:
    checkpoint = await register_checkpoint(
        alerts_clients.alerts_stub(TAY_HO_POLICE), ward=TAY_HO, agency="cong-an-phuong-tay-ho"
    )
    resident = await register(registrar, ward=HOAN_KIEM)
    cid = resident.citizen_id
    await delivery.ApplyStatusChange(status_change(cid))
    operator = alerts_clients.alerts_stub(OTHER_OPERATOR)
    before = await operator.Scan(scan_request(checkpoint.code, cid))
    await register_stay(registrar, resident, CUA_NAM)
    await delivery.ApplyResidenceChange(_moved(cid))

    after = await operator.Scan(scan_request(checkpoint.code, cid))

    async def warned(scan_id: str) -> list[str]:
        rows = await alerts_db.rows(
            "SELECT ward_code FROM alerts WHERE scan_id = %s ORDER BY ward_code", scan_id
        )
        return [r["ward_code"] for r in rows]

    assert await warned(before.scan_id) == sorted([HOAN_KIEM, TAY_HO])
    assert await warned(after.scan_id) == sorted([HOAN_KIEM, CUA_NAM, TAY_HO])


async def test_a_resident_not_flagged_is_redirected_nowhere(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_db: RegistryDatabase,
) -> None:
    never_flagged = await register(registrar, ward=HOAN_KIEM)
    recovered = await register(registrar, ward=HOAN_KIEM)
    await delivery.ApplyStatusChange(status_change(recovered.citizen_id))
    await delivery.ApplyStatusChange(
        status_change(recovered.citizen_id, outcome=apb.OUTCOME_RECOVERED)
    )
    for resident in (never_flagged, recovered):
        await register_stay(registrar, resident, CUA_NAM)

        answer = await delivery.ApplyResidenceChange(_moved(resident.citizen_id))

        assert (answer.flagged, list(answer.alerts)) == (False, [])
        rows = await alerts_db.rows(
            "SELECT 1 FROM alerts WHERE citizen_id = %s AND kind = %s",
            resident.citizen_id,
            apb.ALERT_KIND_RESIDENCE_CHANGE,
        )
        assert rows == []


async def test_a_residence_change_needs_an_event_id_and_a_known_resident(
    delivery: AlertsServiceAsyncStub, alerts_clients: AlertsClients
) -> None:
    missing = await expect_error(
        delivery.ApplyResidenceChange(pb.ApplyResidenceChangeRequest(citizen_id="12")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    unknown = await expect_error(
        delivery.ApplyResidenceChange(_moved(new_citizen_id())), grpc.StatusCode.NOT_FOUND
    )

    assert ("event_id", "EVENT_ID_REQUIRED") in missing.violations
    assert "citizen_id" in {field for field, _ in missing.violations}
    assert unknown.reason == "RESIDENT_NOT_FOUND"
    # Only services deliver registry events; ward police cannot redirect warnings.
    await expect_error(
        alerts_clients.alerts_stub(TAY_HO_POLICE).ApplyResidenceChange(_moved(new_citizen_id())),
        grpc.StatusCode.PERMISSION_DENIED,
    )
