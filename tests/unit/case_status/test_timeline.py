"""Folding status events: effective-time order, backdating, corrections, death, episodes."""

from __future__ import annotations

import datetime as dt

import pytest

from services.case_status.domain.model import (
    Care,
    CareSetting,
    Classification,
    EntryState,
    Episode,
    HealthCondition,
    LevelOrigin,
    Outcome,
    StatusEvent,
)
from services.case_status.domain.timeline import IsolationPolicy, append, fold
from services.kit.errors import AlreadyExists, InvalidInput, NotFound, PreconditionFailed
from tests.unit.case_status.builders import HOAN_KIEM, at, citizen, day, event

A = citizen(1)
HOSPITAL = Care(CareSetting.HOSPITAL, HOAN_KIEM, "Bệnh viện Thanh Nhàn")
HOME = Care(CareSetting.HOME_ISOLATION, HOAN_KIEM)
F0, F1, F3 = Classification.F0, Classification.F1, Classification.F3
CLEARED = Classification.CLEARED


def states(events: list[StatusEvent], new: StatusEvent | None = None) -> list[tuple[str, str]]:
    status = fold(A, [*events, *([new] if new else [])])
    return [(entry.event.event_id, entry.state.name) for entry in status.timeline]


def test_one_confirmed_case_folds_into_its_status() -> None:
    e1 = event(
        A,
        at(9, 15),
        event_id="e1",
        classification=F0,
        care=HOSPITAL,
        condition=HealthCondition.MILD,
    )

    status = fold(A, [e1])

    assert status.classification is F0
    assert status.origin is LevelOrigin.REPORTED
    assert status.classified_at == at(9, 15)
    assert status.care == HOSPITAL
    assert status.condition is HealthCondition.MILD
    assert status.outcome is None
    # 14 days with the 15th as day 1: the last day is the 28th.
    assert (status.isolation_start, status.isolation_end) == (day(9, 15), day(9, 28))
    assert status.episodes == (Episode("e1", at(9, 15), None, ("e1",)),)


def test_the_fold_follows_effective_time_not_entry_order() -> None:
    e1 = event(A, at(9, 15), event_id="e1", classification=F0)
    e2 = event(A, at(9, 18), event_id="e2", condition=HealthCondition.SEVERE)
    # Entered after e2 but it happened before: it does not overwrite the later condition.
    e3 = event(
        A,
        at(9, 17),
        event_id="e3",
        recorded_at=at(9, 19),
        condition=HealthCondition.MODERATE,
        reason="ward report arrived late",
    )

    status = fold(A, [e1, e2, e3])

    assert status.condition is HealthCondition.SEVERE
    assert [entry.event.event_id for entry in status.timeline] == ["e1", "e3", "e2"]


def test_a_backdated_event_recomputes_the_isolation_end_and_keeps_the_old_view() -> None:
    e1 = event(A, at(9, 10), event_id="e1", classification=F1)
    e2 = event(A, at(9, 14), event_id="e2", condition=HealthCondition.ASYMPTOMATIC)
    assert fold(A, [e1, e2]).isolation_end == day(9, 23)
    backdated = event(
        A,
        at(9, 12),
        event_id="e3",
        recorded_at=at(9, 16),
        classification=F0,
        reason="positive test of the 12th reported late",
    )

    result = append([e1, e2], backdated)

    assert result.after.classification is F0
    assert (result.after.isolation_start, result.after.isolation_end) == (day(9, 12), day(9, 25))
    assert result.after.condition is HealthCondition.ASYMPTOMATIC  # e2 still applies after it
    assert result.recomputed == ("classification", "isolation_start", "isolation_end", "episodes")
    assert result.voided == ()
    everything = [e1, e2, backdated]
    # What the system said on the 15th, before the late entry, is still there to show.
    told_then = fold(A, everything, known_at=at(9, 15))
    assert (told_then.classification, told_then.isolation_end) == (F1, day(9, 23))
    # And as of the 11th the F0 had not happened yet.
    assert fold(A, everything, as_of=at(9, 11)).classification is F1


def test_a_backdated_event_must_say_why() -> None:
    e1 = event(A, at(9, 10), event_id="e1", classification=F1)
    e2 = event(A, at(9, 14), event_id="e2", condition=HealthCondition.MILD)

    with pytest.raises(InvalidInput) as exc:
        append([e1, e2], event(A, at(9, 12), classification=F0))

    assert [(v.field, v.reason) for v in exc.value.violations] == [
        ("event.reason", "REASON_REQUIRED")
    ]
    # Dated after everything recorded: no reason needed.
    assert append([e1, e2], event(A, at(9, 15), classification=F0)).after.classification is F0


def test_a_correction_supersedes_the_old_event_which_stays_with_the_reason() -> None:
    e1 = event(A, at(9, 1), event_id="e1", classification=F0, care=HOME)
    e2 = event(A, at(9, 3), event_id="e2", condition=HealthCondition.MILD)
    fix = event(
        A,
        at(9, 1, 8),
        event_id="c1",
        recorded_at=at(9, 5),
        classification=F1,
        care=HOME,
        corrects_event_id="e1",
        reason="entered as F0 by mistake: contact of the F0 in the same house",
    )

    result = append([e1, e2], fix)

    after = result.after
    assert after.classification is F1
    assert (after.isolation_start, after.isolation_end) == (day(9, 1), day(9, 14))
    assert states([e1, e2], fix) == [("c1", "APPLIED"), ("e1", "SUPERSEDED"), ("e2", "APPLIED")]
    old = next(entry for entry in after.timeline if entry.event.event_id == "e1")
    assert old.event.classification is F0  # the old value is kept
    assert old.superseded_by == "c1"
    assert old.correction_reason == "entered as F0 by mistake: contact of the F0 in the same house"
    # The episode keeps the name of the event the correction replaced.
    assert after.episodes == (Episode("e1", at(9, 1, 8), None, ("c1", "e2")),)


def test_retracting_a_false_positive_voids_what_depended_on_it() -> None:
    e1 = event(A, at(9, 1), event_id="e1", classification=F0)
    e2 = event(A, at(9, 3), event_id="e2", condition=HealthCondition.MILD)
    retraction = event(A, at(9, 5), event_id="c1", corrects_event_id="e1", reason="false positive")

    result = append([e1, e2], retraction)

    assert result.after.classification is None
    assert result.after.episodes == ()
    assert result.voided == ("e2",)
    e2_entry = next(entry for entry in result.after.timeline if entry.event.event_id == "e2")
    assert (e2_entry.state, e2_entry.problem) == (EntryState.REJECTED, "NO_OPEN_EPISODE")


def test_an_event_is_corrected_once_then_the_correction_is_corrected() -> None:
    e1 = event(A, at(9, 1), event_id="e1", classification=F0)
    c1 = event(
        A,
        at(9, 1),
        event_id="c1",
        recorded_at=at(9, 2),
        classification=F1,
        corrects_event_id="e1",
        reason="x",
    )

    with pytest.raises(PreconditionFailed) as exc:
        append([e1, c1], event(A, at(9, 1), classification=F0, corrects_event_id="e1", reason="y"))
    assert exc.value.reason == "EVENT_ALREADY_CORRECTED"

    c2 = event(
        A,
        at(9, 1),
        event_id="c2",
        recorded_at=at(9, 3),
        classification=F0,
        corrects_event_id="c1",
        reason="y",
    )
    after = append([e1, c1], c2).after
    assert after.classification is F0
    assert [episode.episode_id for episode in after.episodes] == ["e1"]
    assert states([e1, c1], c2) == [("e1", "SUPERSEDED"), ("c1", "SUPERSEDED"), ("c2", "APPLIED")]


def test_a_correction_must_name_an_event_of_the_resident() -> None:
    e1 = event(A, at(9, 1), event_id="e1", classification=F0)

    with pytest.raises(NotFound) as exc:
        append([e1], event(A, at(9, 2), classification=F1, corrects_event_id="nope", reason="x"))
    assert exc.value.reason == "EVENT_NOT_FOUND"


def test_an_event_id_is_recorded_once() -> None:
    e1 = event(A, at(9, 1), event_id="e1", classification=F0)

    with pytest.raises(AlreadyExists):
        append([e1], event(A, at(9, 2), event_id="e1", classification=F0))


def died() -> list[StatusEvent]:
    return [
        event(A, at(9, 1), event_id="e1", classification=F0, care=HOSPITAL),
        event(A, at(9, 10), event_id="death", outcome=Outcome.DECEASED),
    ]


def test_a_death_ends_the_case() -> None:
    status = fold(A, died())

    assert status.deceased_at == at(9, 10)
    assert (status.classification, status.outcome) == (F0, Outcome.DECEASED)
    assert status.care is None
    assert status.isolation_end == day(9, 10)
    assert status.episodes == (Episode("e1", at(9, 1), at(9, 10), ("e1", "death")),)


@pytest.mark.parametrize(
    "after_death",
    [
        event(A, at(9, 12), condition=HealthCondition.CRITICAL),
        event(A, at(10, 1), classification=F0),  # no new case either
        event(A, at(9, 12), classification=F1, corrects_event_id="e1", reason="x"),
    ],
    ids=["status change", "new case", "correction of another event"],
)
def test_nothing_is_recorded_after_a_death(after_death: StatusEvent) -> None:
    with pytest.raises(PreconditionFailed) as exc:
        append(died(), after_death)

    assert exc.value.reason == "RESIDENT_DECEASED"


def test_what_happened_before_the_death_can_still_be_recorded() -> None:
    earlier = event(A, at(9, 8), condition=HealthCondition.CRITICAL, reason="ICU report")

    assert append(died(), earlier).after.deceased_at == at(9, 10)


def test_a_death_recorded_in_error_is_corrected_and_the_case_goes_on() -> None:
    revoked = event(
        A,
        at(9, 12),
        event_id="c1",
        corrects_event_id="death",
        reason="death registered for the wrong person",
    )

    after = append(died(), revoked).after

    assert (after.deceased_at, after.outcome) == (None, None)
    assert after.in_episode
    later = event(A, at(9, 13), condition=HealthCondition.MODERATE)
    assert append([*died(), revoked], later).after.condition is HealthCondition.MODERATE


def test_a_corrected_time_of_death_moves_the_death() -> None:
    moved = event(
        A,
        at(9, 11),
        outcome=Outcome.DECEASED,
        corrects_event_id="death",
        reason="time of death per the hospital",
    )

    assert append(died(), moved).after.deceased_at == at(9, 11)


def test_a_death_entered_late_voids_the_changes_dated_after_it() -> None:
    e1 = event(A, at(9, 1), event_id="e1", classification=F0)
    e2 = event(A, at(9, 12), event_id="e2", condition=HealthCondition.MILD)
    death = event(A, at(9, 10), outcome=Outcome.DECEASED, reason="death certificate")

    result = append([e1, e2], death)

    assert result.voided == ("e2",)
    assert result.after.deceased_at == at(9, 10)
    assert result.after.condition is None
    e2_entry = next(entry for entry in result.after.timeline if entry.event.event_id == "e2")
    assert (e2_entry.state, e2_entry.problem) == (EntryState.REJECTED, "RESIDENT_DECEASED")


def test_a_death_outside_any_case_still_forbids_a_new_case() -> None:
    death = event(A, at(9, 10), event_id="death", outcome=Outcome.DECEASED)
    assert fold(A, [death]).deceased_at == at(9, 10)
    assert fold(A, [death]).episodes == ()

    with pytest.raises(PreconditionFailed) as exc:
        append([death], event(A, at(9, 20), classification=F1))
    assert exc.value.reason == "RESIDENT_DECEASED"


def test_a_reinfection_opens_a_new_episode() -> None:
    events = [
        event(A, at(7, 1), event_id="e1", classification=F0),
        event(A, at(7, 15), event_id="e2", outcome=Outcome.RECOVERED),
        event(A, at(9, 1), event_id="e3", classification=F0),
    ]

    now = fold(A, events)
    in_august = fold(A, events, as_of=at(8, 1))

    assert now.episodes == (
        Episode("e1", at(7, 1), at(7, 15), ("e1", "e2")),
        Episode("e3", at(9, 1), None, ("e3",)),
    )
    assert (now.classification, now.outcome, now.isolation_end) == (F0, None, day(9, 14))
    assert (in_august.outcome, in_august.isolation_end) == (Outcome.RECOVERED, day(7, 14))
    assert len(in_august.episodes) == 1


def test_a_contact_cleared_then_exposed_again_is_a_new_episode() -> None:
    events = [
        event(A, at(8, 1), event_id="e1", classification=F1),
        event(A, at(8, 5), event_id="e2", classification=CLEARED),
        event(A, at(9, 1), event_id="e3", classification=F1),
    ]

    assert [episode.episode_id for episode in fold(A, events).episodes] == ["e1", "e3"]
    # Cleared on the 5th: the isolation ended that day, not on the 14th.
    assert fold(A, events, as_of=at(8, 20)).isolation_end == day(8, 5)


def test_a_backdated_event_joining_an_episode_does_not_rename_it() -> None:
    e1 = event(A, at(9, 10), event_id="e1", classification=F1)
    e0 = event(
        A, at(9, 8), event_id="e0", recorded_at=at(9, 12), classification=F1, reason="first list"
    )

    after = append([e1], e0).after

    assert after.episodes == (Episode("e1", at(9, 8), None, ("e0", "e1")),)


def test_restating_a_level_restarts_its_isolation() -> None:
    events = [event(A, at(9, 1), classification=F1), event(A, at(9, 6), classification=F1)]

    assert fold(A, events).isolation_end == day(9, 19)


def test_isolation_lengths_are_configurable() -> None:
    policy = IsolationPolicy({F1: 21})

    assert fold(A, [event(A, at(9, 1), classification=F1)], policy=policy).isolation_end == day(
        9, 21
    )
    assert fold(A, [event(A, at(9, 1), classification=F3)]).isolation_end is None
    with pytest.raises(ValueError, match="at least one day"):
        IsolationPolicy({F1: 0})


@pytest.mark.parametrize(
    ("events", "new", "reason"),
    [
        ([], event(A, at(9, 1), condition=HealthCondition.MILD), "NO_OPEN_EPISODE"),
        (
            [event(A, at(9, 1), classification=F1)],
            event(A, at(9, 5), outcome=Outcome.RECOVERED),
            "RECOVERED_WITHOUT_F0",
        ),
    ],
)
def test_an_event_that_does_not_fit_is_refused(
    events: list[StatusEvent], new: StatusEvent, reason: str
) -> None:
    with pytest.raises(PreconditionFailed) as exc:
        append(events, new)

    assert exc.value.reason == reason


def test_clearing_someone_never_classified_records_the_clearance_only() -> None:
    status = fold(A, [event(A, at(9, 1), classification=CLEARED)])

    assert (status.classification, status.origin) == (CLEARED, LevelOrigin.REPORTED)
    assert status.episodes == ()
    assert status.isolation_end is None


def test_the_fold_of_no_events_is_an_empty_status() -> None:
    status = fold(A, [], as_of=dt.datetime(2021, 9, 1, tzinfo=dt.UTC))

    assert (status.classification, status.episodes, status.timeline) == (None, (), ())
