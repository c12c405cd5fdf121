"""Checkpoints: registration, PASS/WARN answered from the watchlist, nothing more told."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

import grpc
import psycopg
import pytest
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb

from services.alerts.adapters.repository import FEED_LOCK
from tests.integration.alerts_client import (
    CHECKPOINT_OPERATOR,
    CUA_NAM_POLICE,
    HOAN_KIEM_POLICE,
    OTHER_OPERATOR,
    TAY_HO_POLICE,
    AlertsClients,
    new_checkpoint_code,
    now,
    register_checkpoint,
    resident_with_temporary_stay,
    scan_request,
    status_change,
    timestamp,
)
from tests.integration.registry_client import (
    CUA_NAM,
    HOAN_KIEM,
    TAY_HO,
    RegistryDatabase,
    expect_error,
    new_citizen_id,
    new_request_id,
    register,
)

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


def test_a_checkpoint_is_answered_only_a_verdict_a_scan_id_and_at_most_a_level() -> None:
    fields = {f.name: f for f in pb.ScanResponse.DESCRIPTOR.fields}

    assert set(fields) == {"scan_id", "verdict", "level"}
    # No nested message can smuggle a record in: every field is a scalar or an enum.
    assert all(f.message_type is None for f in fields.values())
    verdict, level = fields["verdict"].enum_type, fields["level"].enum_type
    assert verdict is not None
    assert level is not None
    assert verdict.name == "Verdict"
    assert {v.name for v in level.values} == {
        "CLASSIFICATION_UNSPECIFIED",
        "CLASSIFICATION_F0",
        "CLASSIFICATION_F1",
        "CLASSIFICATION_F2",
        "CLASSIFICATION_F3",
        "CLASSIFICATION_CLEARED",
    }


async def test_a_warn_tells_the_level_only_where_the_checkpoint_policy_allows(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)
    operator = alerts_clients.alerts_stub(CHECKPOINT_OPERATOR)
    discreet = await register_checkpoint(police)
    revealing = await register_checkpoint(police, reveal_level=True)
    flagged = (await register(registrar)).citizen_id
    clear = (await register(registrar)).citizen_id
    await delivery.ApplyStatusChange(status_change(flagged, classification=apb.CLASSIFICATION_F0))

    told = await operator.Scan(scan_request(discreet.code, flagged))
    told_level = await operator.Scan(scan_request(revealing.code, flagged))
    passed = await operator.Scan(scan_request(revealing.code, clear))

    assert (told.verdict, told.level) == (apb.VERDICT_WARN, apb.CLASSIFICATION_UNSPECIFIED)
    assert (told_level.verdict, told_level.level) == (apb.VERDICT_WARN, apb.CLASSIFICATION_F0)
    assert (passed.verdict, passed.level) == (apb.VERDICT_PASS, apb.CLASSIFICATION_UNSPECIFIED)
    # On the wire, a PASS carries the scan id and the verdict, nothing else.
    assert {f.name for f, _ in passed.ListFields()} == {"scan_id", "verdict"}


async def test_a_warn_alerts_the_checkpoint_ward_and_the_residence_wards(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_db: RegistryDatabase,
) -> None:
    police = alerts_clients.alerts_stub(TAY_HO_POLICE)
    checkpoint = await register_checkpoint(police, ward=TAY_HO, agency="cong-an-phuong-tay-ho")
    resident = await resident_with_temporary_stay(registrar, permanent=HOAN_KIEM, temporary=CUA_NAM)
    cid = resident.citizen_id
    await delivery.ApplyStatusChange(status_change(cid))

    answer = await alerts_clients.alerts_stub(OTHER_OPERATOR).Scan(
        scan_request(checkpoint.code, cid)
    )

    assert answer.verdict == apb.VERDICT_WARN
    rows = await alerts_db.rows(
        "SELECT ward_code, ward_role, checkpoint_code, citizen_id FROM alerts"
        " WHERE scan_id = %s ORDER BY ward_role",
        answer.scan_id,
    )
    assert [(r["ward_code"], r["ward_role"]) for r in rows] == [
        (HOAN_KIEM, apb.WARD_ROLE_PERMANENT_RESIDENCE),
        (CUA_NAM, apb.WARD_ROLE_TEMPORARY_RESIDENCE),
        (TAY_HO, apb.WARD_ROLE_CHECKPOINT),
    ]
    listed = await police.ListAlerts(
        pb.ListAlertsRequest(ward_code=TAY_HO, kind=apb.ALERT_KIND_CHECKPOINT_WARNING)
    )
    mine = [a for a in listed.alerts if a.scan_id == answer.scan_id]
    assert [(a.citizen_id, a.checkpoint_code, a.classification) for a in mine] == [
        (cid, checkpoint.code, apb.CLASSIFICATION_F0)
    ]
    cua_nam = await alerts_clients.alerts_stub(CUA_NAM_POLICE).ListAlerts(
        pb.ListAlertsRequest(ward_code=CUA_NAM, kind=apb.ALERT_KIND_CHECKPOINT_WARNING)
    )
    assert answer.scan_id in {a.scan_id for a in cua_nam.alerts}


async def test_a_retried_scan_is_answered_alike_and_recorded_once(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_db: RegistryDatabase,
) -> None:
    operator = alerts_clients.alerts_stub(CHECKPOINT_OPERATOR)
    checkpoint = await register_checkpoint(alerts_clients.alerts_stub(HOAN_KIEM_POLICE))
    cid = (await register(registrar)).citizen_id
    await delivery.ApplyStatusChange(status_change(cid))
    request = scan_request(checkpoint.code, cid)

    answers = await asyncio.gather(*(operator.Scan(request) for _ in range(4)))
    again = await operator.Scan(request)

    assert {(a.scan_id, a.verdict) for a in [*answers, again]} == {
        (answers[0].scan_id, apb.VERDICT_WARN)
    }
    assert await alerts_db.scalar("SELECT count(*) FROM scans WHERE citizen_id = %s", cid) == 1
    assert (
        await alerts_db.scalar("SELECT count(*) FROM alerts WHERE scan_id = %s", answers[0].scan_id)
        == 1
    )
    reused = await expect_error(
        operator.Scan(
            scan_request(checkpoint.code, new_citizen_id(), request_id=request.request_id)
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert reused.reason == "REQUEST_ID_REUSED"
    # The scan row is the scan's audit record, and as append-only as the audit log.
    [record] = await alerts_db.rows(
        "SELECT subject, agency, roles, purpose, request_id FROM scans WHERE citizen_id = %s", cid
    )
    assert record == {
        "subject": CHECKPOINT_OPERATOR.subject,
        "agency": CHECKPOINT_OPERATOR.agency,
        "roles": ["checkpoint"],
        "purpose": CHECKPOINT_OPERATOR.purpose,
        "request_id": request.request_id,
    }
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        await alerts_db.rows("DELETE FROM scans WHERE citizen_id = %s RETURNING 1", cid)


async def test_an_unknown_checkpoint_or_another_agency_s_is_not_found(
    alerts_clients: AlertsClients,
) -> None:
    checkpoint = await register_checkpoint(alerts_clients.alerts_stub(HOAN_KIEM_POLICE))
    cid = new_citizen_id()

    unknown = await expect_error(
        alerts_clients.alerts_stub(CHECKPOINT_OPERATOR).Scan(
            scan_request(new_checkpoint_code(), cid)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    foreign = await expect_error(
        alerts_clients.alerts_stub(OTHER_OPERATOR).Scan(scan_request(checkpoint.code, cid)),
        grpc.StatusCode.NOT_FOUND,
    )

    assert unknown.reason == foreign.reason == "CHECKPOINT_NOT_FOUND"
    assert unknown.message == foreign.message


async def test_bad_scans_name_the_field_and_never_echo_the_payload(
    alerts_clients: AlertsClients,
) -> None:
    operator = alerts_clients.alerts_stub(CHECKPOINT_OPERATOR)
    checkpoint = await register_checkpoint(alerts_clients.alerts_stub(HOAN_KIEM_POLICE))

    wrong_format = await expect_error(
        operator.Scan(
            pb.ScanRequest(
                request_id=new_request_id(),
                checkpoint_code=checkpoint.code,
                qr_payload="VNEID:001085000001",
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    bad_id = await expect_error(
        operator.Scan(
            pb.ScanRequest(
                request_id=new_request_id(), checkpoint_code=checkpoint.code, citizen_id="1234"
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    no_request_id = await expect_error(
        operator.Scan(pb.ScanRequest(checkpoint_code=checkpoint.code, citizen_id="1234")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    future = scan_request(checkpoint.code, new_citizen_id())
    future.scan_time.CopyFrom(timestamp(now() + dt.timedelta(hours=1)))
    ahead = await expect_error(operator.Scan(future), grpc.StatusCode.INVALID_ARGUMENT)

    assert ahead.violations == (("scan_time", "TIME_IN_FUTURE"),)
    assert wrong_format.violations == (("qr_payload", "QR_FORMAT_UNKNOWN"),)
    assert "001085000001" not in wrong_format.text
    assert bad_id.violations == (("citizen_id", "CITIZEN_ID_MALFORMED"),)
    assert no_request_id.violations == (("request_id", "REQUEST_ID_INVALID"),)


async def test_only_checkpoint_operators_scan_and_police_register_in_their_wards_only(
    alerts_clients: AlertsClients,
) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)
    checkpoint = await register_checkpoint(police)

    scanning_police = await expect_error(
        police.Scan(scan_request(checkpoint.code, new_citizen_id())),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    elsewhere = await expect_error(
        police.RegisterCheckpoint(
            pb.RegisterCheckpointRequest(
                request_id=new_request_id(),
                checkpoint=apb.Checkpoint(
                    code=new_checkpoint_code(),
                    name="Chốt Tây Hồ",
                    ward_code=TAY_HO,
                    operating_agency="cong-an-phuong-tay-ho",
                ),
            )
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    taken = await expect_error(
        police.RegisterCheckpoint(
            pb.RegisterCheckpointRequest(
                request_id=new_request_id(),
                checkpoint=apb.Checkpoint(
                    code=checkpoint.code,
                    name="Another",
                    ward_code=HOAN_KIEM,
                    operating_agency="x",
                ),
            )
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )

    assert scanning_police.reason == "ROLE_NOT_ALLOWED"
    assert elsewhere.reason == "OUT_OF_JURISDICTION"
    assert taken.reason == "CHECKPOINT_EXISTS"
    assert checkpoint.ward_code == HOAN_KIEM
    assert checkpoint.HasField("create_time")


async def test_a_warn_waits_for_the_feeds_lock_and_a_pass_does_not(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_database_url: str,
) -> None:
    """A WARN's alerts take cursors of the wards' feeds only under the feeds' lock, which
    keeps WatchAlerts from skipping a cursor committed late."""
    operator = alerts_clients.alerts_stub(CHECKPOINT_OPERATOR)
    checkpoint = await register_checkpoint(alerts_clients.alerts_stub(HOAN_KIEM_POLICE))
    flagged = (await register(registrar)).citizen_id
    await delivery.ApplyStatusChange(status_change(flagged))

    holder = await psycopg.AsyncConnection.connect(alerts_database_url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
            passed = await asyncio.wait_for(
                operator.Scan(scan_request(checkpoint.code, new_citizen_id())), 5
            )
            warning = asyncio.ensure_future(operator.Scan(scan_request(checkpoint.code, flagged)))
            await asyncio.sleep(0.3)
            assert not warning.done()  # held back by the lock this test holds
    finally:
        await holder.close()

    assert passed.verdict == apb.VERDICT_PASS
    assert (await asyncio.wait_for(warning, 5)).verdict == apb.VERDICT_WARN
