"""Protobuf messages to domain values and domain values to messages."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb

from services.alerts.domain.model import (
    Alert,
    AlertKind,
    AlertState,
    CareSetting,
    Checkpoint,
    Classification,
    CoPresence,
    LevelOrigin,
    Outcome,
    Period,
    ReviewItem,
    Scan,
    StatusChange,
    VerificationOutcome,
    WardRole,
)
from services.alerts.ports import AlertQuery, SummaryQuery, SummaryRow
from services.alerts.use_cases import Applied, ScanAnswer
from services.alerts.use_cases.alerts import Verified
from services.kit.protoconv import date_to_proto, timestamp_from_proto, timestamp_to_proto
from services.kit.request_reading import FieldReader

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _wire(value: enum.IntEnum | None) -> Any:
    """The proto enum number of a domain enum (numbered alike); 0 (UNSPECIFIED) for None."""
    return 0 if value is None else int(value)


def checkpoint(msg: apb.Checkpoint) -> Checkpoint:
    return Checkpoint(
        code=msg.code.strip(),
        name=msg.name.strip(),
        ward_code=msg.ward_code.strip(),
        operating_agency=msg.operating_agency.strip(),
        reveal_level=msg.reveal_level,
    )


def checkpoint_message(value: Checkpoint) -> apb.Checkpoint:
    return apb.Checkpoint(
        code=value.code,
        name=value.name,
        ward_code=value.ward_code,
        operating_agency=value.operating_agency,
        reveal_level=value.reveal_level,
        create_time=timestamp_to_proto(value.created_at),
    )


def scan_response(answer: ScanAnswer) -> pb.ScanResponse:
    return pb.ScanResponse(
        scan_id=answer.scan_id, verdict=_wire(answer.verdict), level=_wire(answer.level)
    )


def status_change(request: pb.ApplyStatusChangeRequest) -> StatusChange:
    read = FieldReader()
    effective_at = timestamp_from_proto(request.effective_time)
    read.violations.check(
        effective_at is not None, "effective_time", "TIME_REQUIRED", "is required"
    )
    change = StatusChange(
        event_id=request.event_id.strip(),
        citizen_id=request.citizen_id.strip(),
        classification=read.enum(request.classification, Classification, "classification"),
        level_origin=read.enum(request.level_origin, LevelOrigin, "level_origin"),
        outcome=read.enum(request.outcome, Outcome, "outcome"),
        # A placeholder only: a missing time is reported before anything is done.
        effective_at=effective_at or _EPOCH,
        isolation_end=read.date(request.isolation_end, "isolation_end", required=False),
        corrects_event_id=request.corrects_event_id.strip() or None,
        care_ward_code=request.care_ward_code.strip() or None,
    )
    read.done()
    return change


def alert_message(alert: Alert) -> apb.Alert:
    msg = apb.Alert(
        alert_id=alert.alert_id,
        cursor=alert.cursor,
        ward_code=alert.ward_code,
        ward_role=_wire(alert.ward_role),
        kind=_wire(alert.kind),
        citizen_id=alert.citizen_id,
        classification=_wire(alert.classification),
        outcome=_wire(alert.outcome),
        event_id=alert.event_id or "",
        checkpoint_code=alert.checkpoint_code or "",
        scan_id=alert.scan_id or "",
        occur_time=timestamp_to_proto(alert.occurred_at),
        create_time=timestamp_to_proto(alert.created_at),
        state=_wire(alert.state),
        acknowledged_by_subject=alert.acknowledged_by or "",
        acknowledge_time=timestamp_to_proto(alert.acknowledged_at),
    )
    if alert.verification is not None:
        v = alert.verification
        msg.verification.CopyFrom(
            apb.Verification(
                outcome=_wire(v.outcome),
                care_setting=_wire(v.care_setting),
                note=v.note,
                verified_by_subject=v.verified_by.subject,
                verified_by_agency=v.verified_by.agency,
                verify_time=timestamp_to_proto(v.verified_at),
            )
        )
    return msg


def apply_response(applied: Applied) -> pb.ApplyStatusChangeResponse:
    return pb.ApplyStatusChangeResponse(
        already_applied=applied.already_applied,
        alerts=[alert_message(a) for a in applied.alerts],
    )


def alert_query(request: pb.ListAlertsRequest) -> AlertQuery:
    read = FieldReader()
    query = AlertQuery(
        ward_code=request.ward_code.strip(),
        state=read.enum(request.state, AlertState, "state"),
        kind=read.enum(request.kind, AlertKind, "kind"),
        start=timestamp_from_proto(request.start_time),
        end=timestamp_from_proto(request.end_time),
    )
    read.done()
    return query


def verification_input(
    request: pb.VerifyAlertRequest,
) -> tuple[VerificationOutcome | None, CareSetting | None]:
    read = FieldReader()
    outcome = read.enum(request.outcome, VerificationOutcome, "outcome")
    care = read.enum(request.care_setting, CareSetting, "care_setting")
    read.done()
    return outcome, care


def review_item_message(item: ReviewItem) -> apb.ReviewItem:
    return apb.ReviewItem(
        review_item_id=item.review_item_id,
        alert_id=item.alert_id,
        ward_code=item.ward_code,
        citizen_id=item.citizen_id,
        reason=item.reason,
        case_classification=_wire(item.case_classification),
        case_outcome=_wire(item.case_outcome),
        create_time=timestamp_to_proto(item.created_at),
    )


def verify_response(result: Verified) -> pb.VerifyAlertResponse:
    response = pb.VerifyAlertResponse(alert=alert_message(result.alert))
    if result.review_item is not None:
        response.review_item.CopyFrom(review_item_message(result.review_item))
    return response


def summary_query(request: pb.SummarizeAlertsRequest) -> SummaryQuery:
    read = FieldReader()
    query = SummaryQuery(
        wards=frozenset(w.strip() for w in request.ward_codes if w.strip()),
        kind=read.enum(request.kind, AlertKind, "kind"),
        ward_role=read.enum(request.ward_role, WardRole, "ward_role"),
        start=timestamp_from_proto(request.start_time),
        end=timestamp_from_proto(request.end_time),
        group_by_ward=request.group_by_ward,
        period=read.enum(request.period, Period, "period"),
    )
    read.done()
    return query


def summary_message(row: SummaryRow) -> pb.AlertSummary:
    return pb.AlertSummary(
        ward_code=row.ward_code or "",
        period_start=date_to_proto(row.period_start),
        alerts=row.alerts,
        open=row.open,
        acknowledged=row.acknowledged,
        verified=row.verified,
        confirmed_active=row.confirmed_active,
        already_recovered=row.already_recovered,
        misidentified=row.misidentified,
        other=row.other,
        hospital=row.hospital,
        centralised_quarantine=row.centralised_quarantine,
        home_isolation=row.home_isolation,
    )


def scan_message(scan: Scan) -> apb.Scan:
    return apb.Scan(
        scan_id=scan.scan_id,
        checkpoint_code=scan.checkpoint_code,
        citizen_id=scan.citizen_id,
        scan_time=timestamp_to_proto(scan.scanned_at),
        record_time=timestamp_to_proto(scan.recorded_at),
        verdict=_wire(scan.verdict),
    )


def co_presence_message(found: CoPresence) -> pb.CoPresence:
    return pb.CoPresence(
        citizen_id=found.citizen_id,
        checkpoint_code=found.checkpoint_code,
        scan_time=timestamp_to_proto(found.scanned_at),
        case_scan_time=timestamp_to_proto(found.case_scanned_at),
    )
