"""Ward police verify alerts; "already recovered" is checked against the real case status;
summaries count the verdicts the way the seed reports them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as cspb

from services.kit.auth import EVERY_WARD, Identity
from tests.integration.alerts_client import (
    CDC,
    CHECKPOINT_OPERATOR,
    HOAN_KIEM_POLICE,
    AlertsClients,
    now,
    register_checkpoint,
    scan_request,
    status_change,
    timestamp,
)
from tests.integration.case_status_client import status_request
from tests.integration.registry_client import (
    HOAN_KIEM,
    RegistryDatabase,
    expect_error,
    new_request_id,
    register,
)

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

HAI_BA_TRUNG = "00256"
HBT_AGENCY = "cong-an-phuong-hai-ba-trung"
HBT_POLICE = Identity(
    "police-hbt-01", HBT_AGENCY, frozenset({"ward_police"}), frozenset({HAI_BA_TRUNG})
)
HBT_OPERATOR = Identity(
    "checkpoint-hbt-01", HBT_AGENCY, frozenset({"checkpoint"}), frozenset({HAI_BA_TRUNG})
)

CITY_POLICE = Identity("police-hn-01", "cong-an-ha-noi", frozenset({"ward_police"}), EVERY_WARD)


async def warned(
    alerts_clients: AlertsClients,
    checkpoint: apb.Checkpoint,
    citizen_id: str,
    operator: Identity = CHECKPOINT_OPERATOR,
) -> apb.Alert:
    """Scans a flagged resident and returns the checkpoint ward's alert of that scan."""
    answer = await alerts_clients.alerts_stub(operator).Scan(
        scan_request(checkpoint.code, citizen_id)
    )
    assert answer.verdict == apb.VERDICT_WARN
    listed = await alerts_clients.alerts_stub(CITY_POLICE).ListAlerts(
        pb.ListAlertsRequest(ward_code=checkpoint.ward_code, page_size=500)
    )
    [alert] = [a for a in listed.alerts if a.scan_id == answer.scan_id]
    return alert


def verify(
    alert_id: str, outcome: int, *, care: int = 0, note: str = "", request_id: str | None = None
) -> pb.VerifyAlertRequest:
    return pb.VerifyAlertRequest(
        request_id=request_id or new_request_id(),
        alert_id=alert_id,
        outcome=outcome,  # type: ignore[arg-type]
        care_setting=care,  # type: ignore[arg-type]
        note=note,
    )


async def test_already_recovered_is_checked_against_case_status(
    delivery: AlertsServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_db: RegistryDatabase,
) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)
    checkpoint = await register_checkpoint(police)
    still_ill = (await register(registrar)).citizen_id
    recovered = (await register(registrar)).citizen_id
    for cid in (still_ill, recovered):
        await cdc.RecordStatus(
            status_request(
                cid, classification=cpb.CLASSIFICATION_F0, at=now() - dt.timedelta(days=9)
            )
        )
        await delivery.ApplyStatusChange(status_change(cid, at=now() - dt.timedelta(days=9)))
    # Case status learns of the recovery; the watchlist has not heard of it yet.
    await cdc.RecordStatus(status_request(recovered, outcome=cpb.OUTCOME_RECOVERED))
    disputed = await warned(alerts_clients, checkpoint, still_ill)
    agreed = await warned(alerts_clients, checkpoint, recovered)

    request = verify(disputed.alert_id, apb.VERIFICATION_OUTCOME_ALREADY_RECOVERED, note="QR cũ")
    response = await police.VerifyAlert(request)
    replayed = await police.VerifyAlert(request)
    agreeing = await police.VerifyAlert(
        verify(agreed.alert_id, apb.VERIFICATION_OUTCOME_ALREADY_RECOVERED)
    )

    assert response.alert.state == apb.ALERT_STATE_VERIFIED
    assert response.alert.verification.outcome == apb.VERIFICATION_OUTCOME_ALREADY_RECOVERED
    item = response.review_item
    assert (item.reason, item.citizen_id, item.alert_id) == (
        "CASE_STATUS_NOT_RECOVERED",
        still_ill,
        disputed.alert_id,
    )
    assert (item.case_classification, item.case_outcome) == (
        apb.CLASSIFICATION_F0,
        apb.OUTCOME_UNSPECIFIED,
    )
    assert replayed == response
    assert not agreeing.HasField("review_item")
    # Nothing was changed on case status's side, nor in the watchlist.
    status = await cdc.GetCaseStatus(cspb.GetCaseStatusRequest(citizen_id=still_ill))
    assert (status.status.classification, status.status.outcome) == (cpb.CLASSIFICATION_F0, 0)
    assert (
        await alerts_db.scalar("SELECT level FROM watchlist WHERE citizen_id = %s", still_ill)
        == apb.CLASSIFICATION_F0
    )
    items = await police.ListReviewItems(pb.ListReviewItemsRequest(ward_code=HOAN_KIEM))
    assert [i.review_item_id for i in items.review_items if i.citizen_id == still_ill] == [
        item.review_item_id
    ]
    again = await expect_error(
        police.VerifyAlert(verify(disputed.alert_id, apb.VERIFICATION_OUTCOME_CONFIRMED_ACTIVE)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert again.reason == "ALERT_ALREADY_VERIFIED"


async def test_acknowledging_and_verifying_need_the_alert_s_ward(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)
    outsider = alerts_clients.alerts_stub(HBT_POLICE)
    cid = (await register(registrar)).citizen_id
    [alert] = (await delivery.ApplyStatusChange(status_change(cid))).alerts

    hidden = await expect_error(
        outsider.AcknowledgeAlert(
            pb.AcknowledgeAlertRequest(request_id="a1", alert_id=alert.alert_id)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    acknowledged = await police.AcknowledgeAlert(
        pb.AcknowledgeAlertRequest(request_id=new_request_id(), alert_id=alert.alert_id)
    )
    bad = await expect_error(
        police.VerifyAlert(verify(alert.alert_id, apb.VERIFICATION_OUTCOME_OTHER)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    assert hidden.reason == "ALERT_NOT_FOUND"
    assert acknowledged.alert.state == apb.ALERT_STATE_ACKNOWLEDGED
    assert acknowledged.alert.acknowledged_by_subject == HOAN_KIEM_POLICE.subject
    assert bad.violations == (("note", "NOTE_REQUIRED"),)


async def test_summaries_count_warnings_as_the_seed_reports_them(
    delivery: AlertsServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
) -> None:
    """The seed: 135 warnings → 33 already recovered, 102 F0 of which 26 in centralised
    quarantine. Here, in one ward of its own: 6 warnings → 1, 4 of which 1, and 1 mistaken."""
    police = alerts_clients.alerts_stub(HBT_POLICE)
    checkpoint = await register_checkpoint(police, ward=HAI_BA_TRUNG, agency=HBT_AGENCY)
    verdicts = [
        (apb.VERIFICATION_OUTCOME_ALREADY_RECOVERED, 0),
        (apb.VERIFICATION_OUTCOME_CONFIRMED_ACTIVE, apb.CARE_SETTING_CENTRALISED_QUARANTINE),
        (apb.VERIFICATION_OUTCOME_CONFIRMED_ACTIVE, apb.CARE_SETTING_HOME_ISOLATION),
        (apb.VERIFICATION_OUTCOME_CONFIRMED_ACTIVE, apb.CARE_SETTING_HOME_ISOLATION),
        (apb.VERIFICATION_OUTCOME_CONFIRMED_ACTIVE, apb.CARE_SETTING_HOME_ISOLATION),
        (apb.VERIFICATION_OUTCOME_MISIDENTIFIED, 0),
    ]
    for outcome, care in verdicts:
        cid = (await register(registrar)).citizen_id
        await delivery.ApplyStatusChange(status_change(cid))
        alert = await warned(alerts_clients, checkpoint, cid, HBT_OPERATOR)
        await police.VerifyAlert(verify(alert.alert_id, outcome, care=care))
    # One warning left open.
    cid = (await register(registrar)).citizen_id
    await delivery.ApplyStatusChange(status_change(cid))
    await warned(alerts_clients, checkpoint, cid, HBT_OPERATOR)

    response = await police.SummarizeAlerts(
        pb.SummarizeAlertsRequest(
            kind=apb.ALERT_KIND_CHECKPOINT_WARNING,
            ward_role=apb.WARD_ROLE_CHECKPOINT,
            start_time=timestamp(now() - dt.timedelta(days=1)),
            end_time=timestamp(now() + dt.timedelta(days=1)),
            group_by_ward=True,
            period=pb.PERIOD_DAY,
        )
    )

    [row] = response.summaries
    assert row.ward_code == HAI_BA_TRUNG
    assert row.period_start.year >= 2025
    counts = (
        row.alerts,
        row.open,
        row.verified,
        row.already_recovered,
        row.confirmed_active,
        row.centralised_quarantine,
        row.home_isolation,
        row.misidentified,
    )
    assert counts == (7, 1, 6, 1, 4, 1, 3, 1)
    refused = await expect_error(
        police.SummarizeAlerts(pb.SummarizeAlertsRequest(ward_codes=[HOAN_KIEM])),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert refused.reason == "OUT_OF_JURISDICTION"
    overall = await alerts_clients.alerts_stub(CDC).SummarizeAlerts(
        pb.SummarizeAlertsRequest(ward_codes=[HAI_BA_TRUNG], ward_role=apb.WARD_ROLE_CHECKPOINT)
    )
    assert [r.alerts for r in overall.summaries] == [7]
