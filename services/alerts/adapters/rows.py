"""Rows of the alerts tables to domain values, and the pieces of queries that build them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row

from services.alerts.adapters.tables import alert_verifications, alerts
from services.alerts.domain.model import (
    Actor,
    Alert,
    AlertKind,
    AlertState,
    AlertWard,
    CareSetting,
    Checkpoint,
    Classification,
    Outcome,
    ReviewItem,
    Verification,
    VerificationOutcome,
    WardRole,
    WatchEntry,
)


def enum_of(kind: Any, value: int | None) -> Any:
    return None if value is None else kind(value)


def number_of(value: Any) -> int | None:
    return None if value is None else int(value)


def checkpoint_from_row(row: Row[Any]) -> Checkpoint:
    return Checkpoint(
        code=row.code,
        name=row.name,
        ward_code=row.ward_code,
        operating_agency=row.operating_agency,
        reveal_level=row.reveal_level,
        created_at=row.created_at,
    )


def wards_to_json(wards: Iterable[AlertWard]) -> list[dict[str, Any]]:
    return [{"ward_code": w.ward_code, "role": int(w.role)} for w in wards]


def wards_from_json(value: Sequence[dict[str, Any]]) -> tuple[AlertWard, ...]:
    return tuple(AlertWard(str(w["ward_code"]), WardRole(int(w["role"]))) for w in value)


def watch_entry_from_row(row: Row[Any]) -> WatchEntry:
    return WatchEntry(
        citizen_id=row.citizen_id,
        level=enum_of(Classification, row.level),
        event_id=row.event_id,
        effective_at=row.effective_at,
        wards=wards_from_json(row.wards),
        change_seq=int(row.change_seq),
    )


ALERT_COLUMNS = (
    *alerts.c,
    alert_verifications.c.outcome.label("v_outcome"),
    alert_verifications.c.care_setting.label("v_care_setting"),
    alert_verifications.c.note.label("v_note"),
    alert_verifications.c.verified_by_subject.label("v_subject"),
    alert_verifications.c.verified_by_agency.label("v_agency"),
    alert_verifications.c.verified_at.label("v_at"),
)
ALERTS_JOINED = alerts.outerjoin(
    alert_verifications, alert_verifications.c.alert_id == alerts.c.alert_id
)


def alert_from_row(row: Row[Any]) -> Alert:
    verification = None
    if row.v_outcome is not None:
        verification = Verification(
            outcome=VerificationOutcome(row.v_outcome),
            care_setting=enum_of(CareSetting, row.v_care_setting),
            note=row.v_note,
            verified_by=Actor(row.v_subject, row.v_agency),
            verified_at=row.v_at,
        )
    return Alert(
        alert_id=row.alert_id,
        cursor=int(row.cursor),
        ward_code=row.ward_code,
        ward_role=WardRole(row.ward_role),
        kind=AlertKind(row.kind),
        citizen_id=row.citizen_id,
        classification=enum_of(Classification, row.classification),
        outcome=enum_of(Outcome, row.outcome),
        event_id=row.event_id,
        checkpoint_code=row.checkpoint_code,
        scan_id=row.scan_id,
        occurred_at=row.occurred_at,
        created_at=row.created_at,
        state=AlertState(row.state),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        verification=verification,
    )


def review_item_from_row(row: Row[Any]) -> ReviewItem:
    return ReviewItem(
        review_item_id=row.review_item_id,
        alert_id=row.alert_id,
        ward_code=row.ward_code,
        citizen_id=row.citizen_id,
        reason=row.reason,
        case_classification=enum_of(Classification, row.case_classification),
        case_outcome=enum_of(Outcome, row.case_outcome),
        created_at=row.created_at,
    )
