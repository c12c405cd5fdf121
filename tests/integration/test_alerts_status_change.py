"""Case-status events reach every ward concerned, once, and keep the watchlist current."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

import grpc
import psycopg
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb

from services.alerts.adapters.repository import FEED_LOCK
from services.kit.auth import Identity
from tests.integration.alerts_client import (
    CHECKPOINT_OPERATOR,
    CUA_NAM_POLICE,
    HOAN_KIEM_POLICE,
    AlertsClients,
    now,
    register_checkpoint,
    resident_with_temporary_stay,
    scan_request,
    status_change,
)
from tests.integration.conftest import ALERTS_POLL_SECONDS
from tests.integration.registry_client import (
    BA_DINH,
    CUA_NAM,
    HOAN_KIEM,
    RegistryDatabase,
    expect_error,
    new_citizen_id,
    new_request_id,
    register,
)

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


async def test_a_status_change_alerts_both_residence_wards_once_however_often_delivered(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_db: RegistryDatabase,
) -> None:
    resident = await resident_with_temporary_stay(registrar, permanent=HOAN_KIEM, temporary=CUA_NAM)
    event = status_change(resident.citizen_id, classification=apb.CLASSIFICATION_F0)

    # The same event delivered five times at once, then twice more one after the other.
    first = await asyncio.gather(*(delivery.ApplyStatusChange(event) for _ in range(5)))
    later = [await delivery.ApplyStatusChange(event) for _ in range(2)]

    assert sum(not r.already_applied for r in first) == 1
    assert all(r.already_applied for r in later)
    for response in (*first, *later):
        assert {(a.ward_code, a.ward_role) for a in response.alerts} == {
            (HOAN_KIEM, apb.WARD_ROLE_PERMANENT_RESIDENCE),
            (CUA_NAM, apb.WARD_ROLE_TEMPORARY_RESIDENCE),
        }
    stored = await alerts_db.rows(
        "SELECT ward_code FROM alerts WHERE source_id = %s ORDER BY ward_code", event.event_id
    )
    assert [row["ward_code"] for row in stored] == sorted([HOAN_KIEM, CUA_NAM])
    # Each ward's police see it in their own list, and only theirs.
    for police, ward in ((HOAN_KIEM_POLICE, HOAN_KIEM), (CUA_NAM_POLICE, CUA_NAM)):
        listed = await alerts_clients.alerts_stub(police).ListAlerts(
            pb.ListAlertsRequest(ward_code=ward, page_size=500)
        )
        assert [a.event_id for a in listed.alerts if a.citizen_id == resident.citizen_id] == [
            event.event_id
        ]
    audits = await alerts_db.audit("ApplyStatusChange", resident.citizen_id)
    assert sorted(a["outcome"] for a in audits) == ["ok"] + ["replayed"] * 6


async def test_the_care_place_is_alerted_when_it_is_in_neither_residence_ward(
    delivery: AlertsServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    resident = await register(registrar, ward=HOAN_KIEM)

    response = await delivery.ApplyStatusChange(
        status_change(resident.citizen_id, care_ward_code=BA_DINH)
    )
    same_ward = await delivery.ApplyStatusChange(
        status_change(resident.citizen_id, care_ward_code=HOAN_KIEM)
    )

    assert {(a.ward_code, a.ward_role) for a in response.alerts} == {
        (HOAN_KIEM, apb.WARD_ROLE_PERMANENT_RESIDENCE),
        (BA_DINH, apb.WARD_ROLE_CARE_PLACE),
    }
    assert [a.ward_code for a in same_ward.alerts] == [HOAN_KIEM]


async def test_the_watchlist_follows_status_changes_for_scans(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)
    operator = alerts_clients.alerts_stub(CHECKPOINT_OPERATOR)
    checkpoint = await register_checkpoint(police)
    resident = await register(registrar)
    cid = resident.citizen_id

    before = await operator.Scan(scan_request(checkpoint.code, cid))
    await delivery.ApplyStatusChange(status_change(cid, classification=apb.CLASSIFICATION_F1))
    flagged = await operator.Scan(scan_request(checkpoint.code, cid))
    await delivery.ApplyStatusChange(
        status_change(cid, classification=apb.CLASSIFICATION_F1, outcome=apb.OUTCOME_RECOVERED)
    )
    recovered = await operator.Scan(scan_request(checkpoint.code, cid))

    assert [before.verdict, flagged.verdict, recovered.verdict] == [
        apb.VERDICT_PASS,
        apb.VERDICT_WARN,
        apb.VERDICT_PASS,
    ]


async def test_an_older_event_delivered_late_does_not_undo_a_newer_one(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_db: RegistryDatabase,
) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)
    operator = alerts_clients.alerts_stub(CHECKPOINT_OPERATOR)
    checkpoint = await register_checkpoint(police)
    cid = (await register(registrar)).citizen_id
    newer = status_change(cid, at=now() - dt.timedelta(hours=1))
    older = status_change(cid, outcome=apb.OUTCOME_RECOVERED, at=now() - dt.timedelta(days=3))
    await delivery.ApplyStatusChange(newer)
    await delivery.ApplyStatusChange(older)
    await asyncio.sleep(ALERTS_POLL_SECONDS * 3)

    answer = await operator.Scan(scan_request(checkpoint.code, cid))

    assert answer.verdict == apb.VERDICT_WARN
    assert (
        await alerts_db.scalar("SELECT event_id FROM watchlist WHERE citizen_id = %s", cid)
        == newer.event_id
    )
    # Both events still alerted the ward: it is told of every change.
    status_alerts = await alerts_db.scalar(
        "SELECT count(*) FROM alerts WHERE citizen_id = %s AND kind = %s",
        cid,
        apb.ALERT_KIND_STATUS_CHANGE,
    )
    assert status_alerts == 2


async def test_a_resident_the_registry_does_not_know_is_not_found_and_nothing_is_stored(
    delivery: AlertsServiceAsyncStub, alerts_db: RegistryDatabase
) -> None:
    cid = new_citizen_id()
    event = status_change(cid)

    error = await expect_error(delivery.ApplyStatusChange(event), grpc.StatusCode.NOT_FOUND)

    assert error.reason == "RESIDENT_NOT_FOUND"
    assert cid not in error.text
    assert (
        await alerts_db.scalar(
            "SELECT count(*) FROM status_changes WHERE event_id = %s", event.event_id
        )
        == 0
    )


async def test_a_malformed_event_names_every_bad_field(delivery: AlertsServiceAsyncStub) -> None:
    event = status_change("12345", care_ward_code="99999", event_id="")

    error = await expect_error(delivery.ApplyStatusChange(event), grpc.StatusCode.INVALID_ARGUMENT)

    assert set(error.violations) == {
        ("event_id", "EVENT_ID_REQUIRED"),
        ("citizen_id", "CITIZEN_ID_MALFORMED"),
        ("care_ward_code", "WARD_UNKNOWN"),
    }
    assert "12345" not in error.text


async def test_an_event_without_its_time_is_refused(delivery: AlertsServiceAsyncStub) -> None:
    event = status_change(new_citizen_id())
    event.ClearField("effective_time")

    error = await expect_error(delivery.ApplyStatusChange(event), grpc.StatusCode.INVALID_ARGUMENT)

    assert error.violations == (("effective_time", "TIME_REQUIRED"),)


async def test_applying_a_change_waits_for_the_feeds_lock(
    delivery: AlertsServiceAsyncStub, registrar: RegistryServiceAsyncStub, alerts_database_url: str
) -> None:
    """Watchlist numbers and alert cursors are taken under the feeds' lock only."""
    cid = (await register(registrar)).citizen_id

    holder = await psycopg.AsyncConnection.connect(alerts_database_url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
            applying = asyncio.ensure_future(delivery.ApplyStatusChange(status_change(cid)))
            await asyncio.sleep(0.3)
            assert not applying.done()  # held back by the lock this test holds
    finally:
        await holder.close()

    assert len((await asyncio.wait_for(applying, 5)).alerts) == 1


async def test_list_alerts_pages_newest_first_and_filters(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
) -> None:
    ward = "00235"  # Phường Đống Đa: no other test alerts it
    police = alerts_clients.alerts_stub(
        Identity("police-dd-01", "cong-an-dong-da", frozenset({"ward_police"}), frozenset({ward}))
    )
    residents = [(await register(registrar, ward=ward)).citizen_id for _ in range(5)]
    for cid in residents:
        await delivery.ApplyStatusChange(status_change(cid))
    [first_alert] = (
        await police.ListAlerts(pb.ListAlertsRequest(ward_code=ward, page_size=1))
    ).alerts
    await police.AcknowledgeAlert(
        pb.AcknowledgeAlertRequest(request_id=new_request_id(), alert_id=first_alert.alert_id)
    )

    pages: list[list[str]] = []
    tokens: list[str] = []
    token = ""
    while True:
        page = await police.ListAlerts(
            pb.ListAlertsRequest(ward_code=ward, page_size=2, page_token=token)
        )
        pages.append([a.citizen_id for a in page.alerts])
        token = page.next_page_token
        if not token:
            break
        tokens.append(token)
    still_open = await police.ListAlerts(
        pb.ListAlertsRequest(ward_code=ward, state=apb.ALERT_STATE_OPEN)
    )
    # A token continues the query it came from, not one with other filters.
    mixed = await expect_error(
        police.ListAlerts(
            pb.ListAlertsRequest(ward_code=ward, state=apb.ALERT_STATE_OPEN, page_token=tokens[0])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    assert pages == [residents[::-1][0:2], residents[::-1][2:4], residents[::-1][4:]]
    assert [a.citizen_id for a in still_open.alerts] == residents[::-1][1:]
    assert mixed.violations == (("page_token", "PAGE_TOKEN_MISMATCH"),)
