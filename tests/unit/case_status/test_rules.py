"""A status event or exposure link on its own: every field problem reported at once."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from services.case_status.domain.model import (
    Care,
    CareSetting,
    Classification,
    HealthCondition,
    LevelOrigin,
    Outcome,
    Source,
    StatusEvent,
)
from services.case_status.domain.rules import validate_event, validate_link
from services.kit.errors import InvalidInput
from tests.unit.case_status.builders import HOAN_KIEM, at, citizen, day, event, link

A, B = citizen(1), citizen(2)
NOW = at(9, 18, 12)
HOSPITAL = Care(CareSetting.HOSPITAL, HOAN_KIEM, "Bệnh viện Thanh Nhàn")


def ward_exists(code: str) -> bool:
    return code == HOAN_KIEM


def problems(candidate: StatusEvent) -> set[tuple[str, str]]:
    with pytest.raises(InvalidInput) as exc:
        validate_event(candidate, NOW, ward_exists)
    return {(v.field, v.reason) for v in exc.value.violations}


def confirmed(**changes: object) -> StatusEvent:
    base = event(
        A,
        at(9, 18, 8),
        classification=Classification.F0,
        care=HOSPITAL,
        condition=HealthCondition.MILD,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_complete_event_is_valid() -> None:
    validate_event(confirmed(), NOW, ward_exists)
    # A caller's clock a few minutes ahead of ours is not "the future".
    validate_event(confirmed(effective_at=NOW + dt.timedelta(minutes=4)), NOW, ward_exists)


@pytest.mark.parametrize(
    ("effective_at", "reason"),
    [
        (NOW + dt.timedelta(minutes=10), "EFFECTIVE_AT_IN_FUTURE"),
        (dt.datetime(2021, 9, 18, 8), "TIME_ZONE_REQUIRED"),
        (dt.datetime(2019, 11, 30, tzinfo=dt.UTC), "EFFECTIVE_AT_TOO_EARLY"),
    ],
)
def test_the_effective_time_must_be_a_real_past_moment(
    effective_at: dt.datetime, reason: str
) -> None:
    assert problems(confirmed(effective_at=effective_at)) == {("event.effective_time", reason)}


def test_an_event_must_change_something_unless_it_retracts_another() -> None:
    empty = event(A, at(9, 18))
    assert problems(empty) == {("event.classification", "NOTHING_TO_CHANGE")}
    retraction = replace(empty, corrects_event_id="ev-old", reason="false positive")
    validate_event(retraction, NOW, ward_exists)


def test_a_correction_says_why_and_names_another_event() -> None:
    own = event(A, at(9, 18), event_id="ev-1", classification=Classification.F1)

    assert problems(replace(own, corrects_event_id="ev-1")) == {
        ("event.corrects_event_id", "CORRECTS_ITSELF"),
        ("event.reason", "REASON_REQUIRED"),
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"classification": Classification.CLEARED, "condition": None},
            {("event.care", "CARE_WITH_CLEARED")},
        ),
        (
            {"classification": None, "outcome": Outcome.DECEASED, "condition": None},
            {("event.care", "CARE_WITH_OUTCOME")},
        ),
        (
            {"classification": Classification.F1, "outcome": Outcome.RECOVERED, "care": None},
            {("event.outcome", "RECOVERED_REQUIRES_F0")},
        ),
        (
            {"classification": Classification.CLEARED, "outcome": Outcome.DECEASED, "care": None},
            {
                ("event.outcome", "OUTCOME_WITH_CLEARED"),
                ("event.condition", "CONDITION_WITH_CLEARED"),
            },
        ),
    ],
)
def test_values_that_contradict_each_other(
    changes: dict[str, object], expected: set[tuple[str, str]]
) -> None:
    assert problems(confirmed(**changes)) == expected


def test_care_names_its_place() -> None:
    assert problems(confirmed(care=Care(CareSetting.CENTRALISED_QUARANTINE, ""))) == {
        ("event.care.ward_code", "WARD_REQUIRED"),
        ("event.care.facility", "FACILITY_REQUIRED"),
    }
    assert problems(confirmed(care=Care(CareSetting.HOME_ISOLATION, "99999", "KTX"))) == {
        ("event.care.ward_code", "WARD_UNKNOWN"),
        ("event.care.facility", "FACILITY_FOR_HOME"),
    }


def test_every_problem_is_reported_at_once() -> None:
    bad = confirmed(
        citizen_id="12345",
        source=Source(agency=" ", list_id="x" * 301),
        reason="r" * 1001,
    )

    assert problems(bad) == {
        ("event.citizen_id", "CITIZEN_ID_MALFORMED"),
        ("event.source.agency", "AGENCY_REQUIRED"),
        ("event.source.list_id", "TOO_LONG"),
        ("event.reason", "TOO_LONG"),
    }


def test_a_derived_event_only_sets_a_contact_level() -> None:
    derived = event(A, at(9, 18), classification=Classification.F2, origin=LevelOrigin.DERIVED)
    validate_event(derived, NOW, ward_exists)

    assert problems(replace(derived, classification=Classification.F0)) == {
        ("event.origin", "DERIVED_EVENT_INVALID")
    }


def test_a_well_formed_link_is_valid() -> None:
    validate_link(link(B, A, day(9, 18)), today=day(9, 18))


def test_a_bad_link_reports_its_fields_under_the_given_path() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_link(link(A, A, day(9, 19)), today=day(9, 18), field="links[2]")
    assert {(v.field, v.reason) for v in exc.value.violations} == {
        ("links[2].contact_citizen_id", "SELF_CONTACT"),
        ("links[2].contact_date", "DATE_IN_FUTURE"),
    }

    with pytest.raises(InvalidInput) as exc:
        validate_link(link("000000000001", A, dt.date(2019, 11, 30)), today=day(9, 18))
    assert {(v.field, v.reason) for v in exc.value.violations} == {
        ("link.contact_citizen_id", "CITIZEN_ID_MALFORMED"),
        ("link.contact_date", "DATE_TOO_EARLY"),
    }
