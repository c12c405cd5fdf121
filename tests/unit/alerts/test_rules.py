"""The alerts rules: wards concerned, who is flagged, what a checkpoint is told, QR codes."""

from __future__ import annotations

import datetime as dt

import pytest

from services.alerts.domain import rules
from services.alerts.domain.model import (
    AlertState,
    AlertWard,
    Checkpoint,
    Classification,
    Outcome,
    Residence,
    StatusChange,
    Verdict,
    VerificationOutcome,
    WardRole,
    WatchEntry,
)
from services.kit.errors import InvalidInput, PreconditionFailed, Validator

T = dt.datetime(2021, 9, 16, 8, tzinfo=dt.UTC)
CID = "001085000123"


def change(
    *,
    classification: Classification | None = Classification.F0,
    outcome: Outcome | None = None,
    at: dt.datetime = T,
    event_id: str = "e1",
) -> StatusChange:
    return StatusChange(event_id, CID, classification, None, outcome, at, None, None, None)


def entry(level: Classification | None, *, at: dt.datetime = T, event_id: str = "e0") -> WatchEntry:
    wards = (AlertWard("00070", WardRole.PERMANENT_RESIDENCE),)
    return WatchEntry(CID, level, event_id, at, wards)


def checkpoint(*, reveal: bool = False, ward: str = "00103") -> Checkpoint:
    return Checkpoint("TH-01", "Chốt Tây Hồ", ward, "cong-an-tay-ho", reveal)


def test_a_status_change_reaches_each_ward_once_in_a_fixed_order() -> None:
    assert rules.status_change_wards("00070", "00073", "00004") == (
        AlertWard("00070", WardRole.PERMANENT_RESIDENCE),
        AlertWard("00073", WardRole.TEMPORARY_RESIDENCE),
        AlertWard("00004", WardRole.CARE_PLACE),
    )
    assert rules.status_change_wards("00070", "00070", "00070") == (
        AlertWard("00070", WardRole.PERMANENT_RESIDENCE),
    )
    assert rules.status_change_wards("00070", None, "00073") == (
        AlertWard("00070", WardRole.PERMANENT_RESIDENCE),
        AlertWard("00073", WardRole.CARE_PLACE),
    )


def test_a_temporary_residence_counts_only_while_it_is_active() -> None:
    stay = Residence("00070", "00073", dt.date(2021, 9, 1), dt.date(2021, 9, 30))

    assert stay.temporary_active_on(dt.date(2021, 9, 16)) == "00073"
    assert stay.temporary_active_on(dt.date(2021, 8, 31)) is None
    assert stay.temporary_active_on(dt.date(2021, 10, 1)) is None
    assert Residence("00070").temporary_active_on(dt.date(2021, 9, 16)) is None


@pytest.mark.parametrize(
    ("classification", "outcome", "flagged"),
    [
        (Classification.F0, None, Classification.F0),
        (Classification.F1, None, Classification.F1),
        (Classification.F2, None, None),
        (Classification.CLEARED, None, None),
        (Classification.F0, Outcome.RECOVERED, None),
        (Classification.F0, Outcome.DECEASED, None),
        (None, None, None),
    ],
)
def test_only_running_f0_and_f1_episodes_are_flagged(
    classification: Classification | None, outcome: Outcome | None, flagged: Classification | None
) -> None:
    assert rules.flagged_level(change(classification=classification, outcome=outcome)) is flagged


def test_the_latest_effective_time_wins_and_a_redelivery_changes_nothing() -> None:
    current = entry(Classification.F0, at=T, event_id="e1")

    assert rules.supersedes(change(at=T + dt.timedelta(hours=1), event_id="e2"), current)
    assert rules.supersedes(change(at=T, event_id="e2"), current)
    assert not rules.supersedes(change(at=T - dt.timedelta(days=1), event_id="e2"), current)
    assert not rules.supersedes(change(at=T + dt.timedelta(days=1), event_id="e1"), current)
    assert rules.supersedes(change(), None)


def test_a_checkpoint_is_told_warn_and_the_level_only_where_its_policy_allows() -> None:
    flagged = entry(Classification.F1)

    discreet = rules.decide(flagged, checkpoint(), rules.DEFAULT_WARN_LEVELS)
    revealing = rules.decide(flagged, checkpoint(reveal=True), rules.DEFAULT_WARN_LEVELS)
    f0_only = rules.decide(flagged, checkpoint(), frozenset({Classification.F0}))

    assert (discreet.verdict, discreet.level) == (Verdict.WARN, None)
    assert (revealing.verdict, revealing.level) == (Verdict.WARN, Classification.F1)
    assert discreet.alert_wards == (
        AlertWard("00103", WardRole.CHECKPOINT),
        AlertWard("00070", WardRole.PERMANENT_RESIDENCE),
    )
    assert (f0_only.verdict, f0_only.alert_wards) == (Verdict.PASS, ())
    assert rules.decide(None, checkpoint(), rules.DEFAULT_WARN_LEVELS).verdict is Verdict.PASS
    cleared = rules.decide(entry(None), checkpoint(), rules.DEFAULT_WARN_LEVELS)
    assert cleared.verdict is Verdict.PASS


def test_a_warning_at_a_checkpoint_in_the_resident_s_own_ward_alerts_that_ward_once() -> None:
    decision = rules.decide(
        entry(Classification.F0), checkpoint(ward="00070"), frozenset({Classification.F0})
    )

    assert decision.alert_wards == (AlertWard("00070", WardRole.CHECKPOINT),)


@pytest.mark.parametrize(
    ("payload", "expected", "reason"),
    [
        ("DC1:001085000123", "001085000123", None),
        ("001085000123", "", "QR_FORMAT_UNKNOWN"),
        ("DC1:00108500012", "", "CITIZEN_ID_MALFORMED"),
        ("DC1:999085000123", "", "CITIZEN_ID_MALFORMED"),
        ("dc1:001085000123", "", "QR_FORMAT_UNKNOWN"),
    ],
)
def test_qr_payloads(payload: str, expected: str, reason: str | None) -> None:
    v = Validator()

    assert rules.citizen_id_from_qr(v, payload) == expected
    if reason is None:
        assert v.ok
    else:
        with pytest.raises(InvalidInput) as raised:
            v.raise_if_any()
        assert [(x.field, x.reason) for x in raised.value.violations] == [("qr_payload", reason)]


def test_a_checkpoint_reports_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidInput) as raised:
        rules.validate_checkpoint(Checkpoint("-x", "", "99999", "", False), lambda w: False)

    assert {(v.field, v.reason) for v in raised.value.violations} == {
        ("checkpoint.code", "CHECKPOINT_CODE_MALFORMED"),
        ("checkpoint.name", "NAME_REQUIRED"),
        ("checkpoint.ward_code", "WARD_UNKNOWN"),
        ("checkpoint.operating_agency", "AGENCY_REQUIRED"),
    }


def test_verifications() -> None:
    assert (
        rules.validate_verification(VerificationOutcome.CONFIRMED_ACTIVE, "", True)
        is VerificationOutcome.CONFIRMED_ACTIVE
    )
    with pytest.raises(InvalidInput) as raised:
        rules.validate_verification(VerificationOutcome.OTHER, " ", True)
    assert {(v.field, v.reason) for v in raised.value.violations} == {
        ("note", "NOTE_REQUIRED"),
        ("care_setting", "CARE_SETTING_NOT_ALLOWED"),
    }
    with pytest.raises(InvalidInput):
        rules.validate_verification(None, "", False)
    with pytest.raises(PreconditionFailed):
        rules.check_verifiable(AlertState.VERIFIED)
    assert rules.acknowledged(AlertState.OPEN) is AlertState.ACKNOWLEDGED
    assert rules.acknowledged(AlertState.VERIFIED) is AlertState.VERIFIED
