"""What a well-formed status event or exposure link is, on its own.

Rules that depend on the resident's other events (death, episodes, backdating) live in
timeline.py; these only look at the one value, and report every problem at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from services.case_status.domain.model import (
    VIETNAM_TIME,
    CareSetting,
    Classification,
    ExposureLink,
    LevelOrigin,
    Outcome,
    StatusEvent,
)
from services.kit.citizen_ids import is_well_formed
from services.kit.errors import Validator

WardExists = Callable[[str], bool]

MAX_REASON_LENGTH = 1000
MAX_TEXT_LENGTH = 300
# Nothing about COVID-19 can have happened before the first reported cases.
EARLIEST_EFFECTIVE_AT = dt.datetime(2019, 12, 1, tzinfo=VIETNAM_TIME)
# Clocks of callers and replicas are never exactly in sync: "now" on the caller's side may be
# slightly ahead of ours without the event being in the future.
CLOCK_SKEW = dt.timedelta(minutes=5)

FACILITY_SETTINGS = frozenset({CareSetting.HOSPITAL, CareSetting.CENTRALISED_QUARANTINE})


def check_citizen_id(v: Validator, value: str, field: str) -> bool:
    return v.check(
        is_well_formed(value),
        field,
        "CITIZEN_ID_MALFORMED",
        "must be 12 digits starting with a province code 001-096",
    )


def check_text(v: Validator, value: str, field: str, limit: int = MAX_TEXT_LENGTH) -> None:
    v.check(len(value) <= limit, field, "TOO_LONG", f"must be at most {limit} characters")


def validate_event(
    event: StatusEvent, now: dt.datetime, ward_exists: WardExists, field: str = "event"
) -> None:
    """Raises InvalidInput listing every problem of ``event`` taken on its own.

    Field paths are the API's (``event.effective_time``), under the prefix ``field``.
    """
    v = Validator()

    def at(name: str) -> str:
        return f"{field}.{name}"

    check_citizen_id(v, event.citizen_id, at("citizen_id"))
    _check_effective_at(v, event.effective_at, now, at("effective_time"))
    is_correction = event.corrects_event_id is not None
    if is_correction:
        v.check(
            event.corrects_event_id != event.event_id,
            at("corrects_event_id"),
            "CORRECTS_ITSELF",
            "an event cannot correct itself",
        )
        v.check(
            bool(event.reason.strip()),
            at("reason"),
            "REASON_REQUIRED",
            "a correction must say why",
        )
    else:
        # A correction with no values retracts the corrected event; anything else must change
        # something, or it is noise in a record that must stay clean.
        v.check(
            event.changes_something,
            at("classification"),
            "NOTHING_TO_CHANGE",
            "set at least one of classification, outcome, care, condition",
        )
    check_text(v, event.reason, at("reason"), MAX_REASON_LENGTH)
    _check_combination(v, event, at)
    if event.care is not None:
        care = event.care
        if v.check(bool(care.ward_code), at("care.ward_code"), "WARD_REQUIRED", "is required"):
            v.check(
                ward_exists(care.ward_code),
                at("care.ward_code"),
                "WARD_UNKNOWN",
                "is not a ward code of the official list",
            )
        if care.setting in FACILITY_SETTINGS:
            v.check(
                bool(care.facility.strip()),
                at("care.facility"),
                "FACILITY_REQUIRED",
                "is required for a hospital or a quarantine facility",
            )
        else:
            v.check(
                not care.facility,
                at("care.facility"),
                "FACILITY_FOR_HOME",
                "must be empty for home isolation (the ward is the home's)",
            )
        check_text(v, care.facility, at("care.facility"))
    v.check(
        bool(event.source.agency.strip()), at("source.agency"), "AGENCY_REQUIRED", "is required"
    )
    for name, value in (
        ("source.agency", event.source.agency),
        ("source.list_id", event.source.list_id),
        ("source.report_ref", event.source.report_ref),
    ):
        check_text(v, value, at(name))
    v.raise_if_any()


def _check_effective_at(
    v: Validator, effective_at: dt.datetime, now: dt.datetime, field: str
) -> None:
    if not v.check(
        effective_at.tzinfo is not None,
        field,
        "TIME_ZONE_REQUIRED",
        "must carry a time zone",
    ):
        return
    v.check(
        effective_at <= now + CLOCK_SKEW,
        field,
        "EFFECTIVE_AT_IN_FUTURE",
        "must not be in the future: record what happened, not what is planned",
    )
    v.check(
        effective_at >= EARLIEST_EFFECTIVE_AT,
        field,
        "EFFECTIVE_AT_TOO_EARLY",
        "must not be before 2019-12-01",
    )


def _check_combination(v: Validator, event: StatusEvent, at: Callable[[str], str]) -> None:
    """Values that contradict each other within one event."""
    cleared = event.classification is Classification.CLEARED
    if event.care is not None:
        # Care belongs to a running episode; CLEARED and outcomes end it.
        v.check(not cleared, at("care"), "CARE_WITH_CLEARED", "a cleared person is not in care")
        v.check(
            event.outcome is None,
            at("care"),
            "CARE_WITH_OUTCOME",
            "an outcome ends care; record the care setting in an earlier event",
        )
    v.check(
        not (cleared and event.condition is not None),
        at("condition"),
        "CONDITION_WITH_CLEARED",
        "a cleared person has no health condition to record",
    )
    v.check(
        not (cleared and event.outcome is not None),
        at("outcome"),
        "OUTCOME_WITH_CLEARED",
        "CLEARED ends the suspicion; it has no outcome",
    )
    if event.outcome is Outcome.RECOVERED and event.classification is not None:
        v.check(
            event.classification is Classification.F0,
            at("outcome"),
            "RECOVERED_REQUIRES_F0",
            "only a confirmed case recovers; contacts are CLEARED",
        )
    if event.origin is LevelOrigin.DERIVED:
        # Derived events are written by tracing alone: a contact level and nothing else.
        level = event.classification
        v.check(
            level is not None
            and level is not Classification.F0
            and event.outcome is None
            and event.care is None
            and event.condition is None
            and event.corrects_event_id is None,
            at("origin"),
            "DERIVED_EVENT_INVALID",
            "a derived event sets only an F1-F3 or CLEARED classification",
        )


def validate_link(link: ExposureLink, today: dt.date, field: str = "link") -> None:
    """Raises InvalidInput for a malformed exposure link (``field`` prefixes paths)."""
    v = Validator()
    check_link(v, link, today, field)
    v.raise_if_any()


def check_link(v: Validator, link: ExposureLink, today: dt.date, field: str) -> None:
    """Adds the problems of one link, for batch requests that report all links at once."""
    contact_ok = check_citizen_id(v, link.contact_id, f"{field}.contact_citizen_id")
    source_ok = check_citizen_id(v, link.source_id, f"{field}.source_citizen_id")
    if contact_ok and source_ok:
        v.check(
            link.contact_id != link.source_id,
            f"{field}.contact_citizen_id",
            "SELF_CONTACT",
            "a resident cannot be their own contact",
        )
    v.check(
        link.contact_date <= today,
        f"{field}.contact_date",
        "DATE_IN_FUTURE",
        "must not be in the future",
    )
    v.check(
        link.contact_date >= EARLIEST_EFFECTIVE_AT.date(),
        f"{field}.contact_date",
        "DATE_TOO_EARLY",
        "must not be before 2019-12-01",
    )
    check_text(v, link.note, f"{field}.note")
