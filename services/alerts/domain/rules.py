"""The alerts rules: input checks, which wards an alert reaches, who is flagged, what a
checkpoint is told, and how an alert's state moves."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

from services.alerts.domain.model import (
    AlertState,
    AlertWard,
    Checkpoint,
    Classification,
    ScanDecision,
    StatusChange,
    Verdict,
    VerificationOutcome,
    WardRole,
    WatchEntry,
)
from services.kit.citizen_ids import is_well_formed
from services.kit.errors import PreconditionFailed, Validator

WardExists = Callable[[str], bool]

# The QR code a citizen shows: "DC1:" and the 12-digit citizen id. The prefix names the
# format's version so that a signed or app-specific payload can come later as "DC2:".
QR_PREFIX = "DC1:"
CHECKPOINT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
MAX_NAME_LENGTH = 200
MAX_NOTE_LENGTH = 1000
# Who a checkpoint warns about unless configured otherwise.
DEFAULT_WARN_LEVELS = frozenset({Classification.F0, Classification.F1})


def check_citizen_id(v: Validator, value: str, field: str) -> bool:
    return v.check(
        is_well_formed(value),
        field,
        "CITIZEN_ID_MALFORMED",
        "must be 12 digits starting with a province code 001-096",
    )


def check_ward(v: Validator, value: str, field: str, ward_exists: WardExists) -> None:
    if not value:
        v.add(field, "WARD_REQUIRED", "is required")
    elif not ward_exists(value):
        v.add(field, "WARD_UNKNOWN", "is not a ward code of the official list")


def citizen_id_from_qr(v: Validator, payload: str, field: str = "qr_payload") -> str:
    """The citizen id a QR payload carries ("" with a violation when it carries none)."""
    if not payload.startswith(QR_PREFIX):
        v.add(field, "QR_FORMAT_UNKNOWN", f'must start with "{QR_PREFIX}"')
        return ""
    citizen_id = payload[len(QR_PREFIX) :]
    return citizen_id if check_citizen_id(v, citizen_id, field) else ""


def validate_checkpoint(checkpoint: Checkpoint, ward_exists: WardExists) -> None:
    v = Validator()
    v.check(
        bool(CHECKPOINT_CODE.match(checkpoint.code)),
        "checkpoint.code",
        "CHECKPOINT_CODE_MALFORMED",
        "must be 3-32 characters of A-Z, 0-9 and '-', not starting with '-'",
    )
    v.check(bool(checkpoint.name), "checkpoint.name", "NAME_REQUIRED", "is required")
    v.check(
        len(checkpoint.name) <= MAX_NAME_LENGTH,
        "checkpoint.name",
        "TOO_LONG",
        f"must be at most {MAX_NAME_LENGTH} characters",
    )
    check_ward(v, checkpoint.ward_code, "checkpoint.ward_code", ward_exists)
    v.check(
        bool(checkpoint.operating_agency),
        "checkpoint.operating_agency",
        "AGENCY_REQUIRED",
        "is required",
    )
    v.raise_if_any()


def validate_status_change(change: StatusChange, ward_exists: WardExists) -> None:
    v = _event_validator(change.event_id, change.citizen_id)
    if change.care_ward_code is not None:
        check_ward(v, change.care_ward_code, "care_ward_code", ward_exists)
    v.raise_if_any()


def validate_residence_change(event_id: str, citizen_id: str) -> None:
    _event_validator(event_id, citizen_id).raise_if_any()


def _event_validator(event_id: str, citizen_id: str) -> Validator:
    """The checks every delivered event passes: its id and whose it is."""
    v = Validator()
    v.check(bool(event_id), "event_id", "EVENT_ID_REQUIRED", "is required")
    v.check(len(event_id) <= 64, "event_id", "TOO_LONG", "must be at most 64 characters")
    check_citizen_id(v, citizen_id, "citizen_id")
    return v


def status_change_wards(
    permanent_ward: str, temporary_ward: str | None, care_ward: str | None
) -> tuple[AlertWard, ...]:
    """Every ward a resident's status change concerns, each once: permanent residence, active
    temporary residence, and the place of care when it is in neither."""
    wards = [AlertWard(permanent_ward, WardRole.PERMANENT_RESIDENCE)]
    if temporary_ward and temporary_ward != permanent_ward:
        wards.append(AlertWard(temporary_ward, WardRole.TEMPORARY_RESIDENCE))
    if care_ward and care_ward not in {w.ward_code for w in wards}:
        wards.append(AlertWard(care_ward, WardRole.CARE_PLACE))
    return tuple(wards)


def warning_wards(
    checkpoint_ward: str, resident_wards: Iterable[AlertWard]
) -> tuple[AlertWard, ...]:
    """A warning goes to the checkpoint's ward police and to the resident's wards, each once."""
    wards = [AlertWard(checkpoint_ward, WardRole.CHECKPOINT)]
    for ward in resident_wards:
        if ward.ward_code not in {w.ward_code for w in wards}:
            wards.append(ward)
    return tuple(wards)


def flagged_level(change: StatusChange) -> Classification | None:
    """The level the watchlist keeps: F0 or F1 while the episode runs, else none."""
    if change.outcome is not None:
        return None
    if change.classification in (Classification.F0, Classification.F1):
        return change.classification
    return None


def supersedes(change: StatusChange, current: WatchEntry | None) -> bool:
    """Whether ``change`` is newer than what the watchlist holds: events may arrive out of
    order, and the latest effective time wins (a tie goes to the later delivery)."""
    if current is None:
        return True
    if change.event_id == current.event_id:
        return False
    return change.effective_at >= current.effective_at


def decide(
    entry: WatchEntry | None,
    checkpoint: Checkpoint,
    warn_levels: frozenset[Classification],
) -> ScanDecision:
    """PASS unless the resident is flagged at a level the policy warns about. The level is
    told only to checkpoints whose policy reveals it."""
    if entry is None or entry.level is None or entry.level not in warn_levels:
        return ScanDecision(Verdict.PASS, None, (), None)
    return ScanDecision(
        Verdict.WARN,
        entry.level if checkpoint.reveal_level else None,
        warning_wards(checkpoint.ward_code, entry.wards),
        entry.event_id,
    )


def validate_verification(
    outcome: VerificationOutcome | None, note: str, has_care_setting: bool
) -> VerificationOutcome:
    v = Validator()
    v.check(outcome is not None, "outcome", "OUTCOME_REQUIRED", "is required")
    if outcome is VerificationOutcome.OTHER:
        v.check(bool(note.strip()), "note", "NOTE_REQUIRED", "is required for OTHER")
    v.check(
        len(note) <= MAX_NOTE_LENGTH,
        "note",
        "TOO_LONG",
        f"must be at most {MAX_NOTE_LENGTH} characters",
    )
    if has_care_setting:
        v.check(
            outcome is VerificationOutcome.CONFIRMED_ACTIVE,
            "care_setting",
            "CARE_SETTING_NOT_ALLOWED",
            "is for CONFIRMED_ACTIVE only",
        )
    v.raise_if_any()
    assert outcome is not None
    return outcome


def acknowledged(state: AlertState) -> AlertState:
    """Acknowledging an open alert; an acknowledged or verified one stays as it is."""
    return AlertState.ACKNOWLEDGED if state is AlertState.OPEN else state


def check_verifiable(state: AlertState) -> None:
    if state is AlertState.VERIFIED:
        raise PreconditionFailed("ALERT_ALREADY_VERIFIED", "the alert was verified already")


def check_period(
    v: Validator, start: dt.datetime | None, end: dt.datetime | None, max_days: int
) -> None:
    if start is None or end is None:
        v.add("start_time", "PERIOD_REQUIRED", "start_time and end_time are required")
        return
    if end <= start:
        v.add("end_time", "PERIOD_EMPTY", "must be after start_time")
    elif end - start > dt.timedelta(days=max_days):
        v.add("end_time", "PERIOD_TOO_LONG", f"the period may last at most {max_days} days")
