"""Tracing fed from folded statuses: who is a source, whose level is held, who is deceased."""

from __future__ import annotations

from services.case_status.domain.model import (
    CaseStatus,
    Classification,
    LevelOrigin,
    Outcome,
    StatusEvent,
)
from services.case_status.domain.timeline import fold
from services.case_status.domain.tracing import (
    LevelChange,
    Pin,
    SourceCase,
    TracingInputs,
    derive,
    inputs_from,
    recompute_changes,
)
from tests.unit.case_status.builders import at, citizen, day, event, link

F0, F1, F2 = Classification.F0, Classification.F1, Classification.F2
CLEARED = Classification.CLEARED
A, B, C, D, E = (citizen(n) for n in range(1, 6))


def statuses(history: dict[str, list[StatusEvent]]) -> list[CaseStatus]:
    return [fold(cid, events) for cid, events in history.items()]


def derived(level: Classification, cid: str) -> StatusEvent:
    return event(cid, at(9, 16), classification=level, origin=LevelOrigin.DERIVED)


def test_inputs_come_from_reported_levels_only() -> None:
    history = {
        A: [event(A, at(9, 15), classification=F0)],
        B: [derived(F1, B)],
        C: [event(C, at(9, 10), classification=F1)],
        D: [
            event(D, at(9, 1), classification=F0),
            event(D, at(9, 12), outcome=Outcome.RECOVERED),
        ],
        E: [event(E, at(9, 16), classification=CLEARED)],
    }

    inputs = inputs_from(statuses(history))

    assert inputs == TracingInputs(
        sources={
            A: SourceCase(F0, day(9, 15), None),  # still a case: no end
            C: SourceCase(F1, day(9, 10), day(9, 23)),  # spreads for its isolation
            D: SourceCase(F0, day(9, 1), day(9, 12)),  # until it recovered
        },
        pins={
            A: Pin(F0, day(9, 15)),
            C: Pin(F1, day(9, 10)),
            D: Pin(CLEARED, day(9, 12)),  # recovered: only later contacts may give a level
            E: Pin(CLEARED, day(9, 16)),
        },
        excluded=frozenset(),
    )


def test_the_deceased_are_excluded() -> None:
    history = {
        A: [
            event(A, at(9, 1), classification=F0),
            event(A, at(9, 10), outcome=Outcome.DECEASED),
        ],
        B: [derived(F1, B), event(B, at(9, 20), outcome=Outcome.DECEASED)],
    }

    inputs = inputs_from(statuses(history))

    assert inputs.excluded == frozenset({A, B})
    assert inputs.sources == {A: SourceCase(F0, day(9, 1), day(9, 10))}


def test_a_false_positive_retracted_takes_its_derived_levels_away() -> None:
    links = [link(B, A, day(9, 14)), link(C, B, day(9, 14))]
    confirmed = event(A, at(9, 15), event_id="a1", classification=F0)
    history = {A: [confirmed], B: [derived(F1, B)], C: [derived(F2, C)]}
    before = derive(links, inputs_from(statuses(history)))
    assert {cid: d.level for cid, d in before.items()} == {B: F1, C: F2}

    retraction = event(A, at(9, 17), corrects_event_id="a1", reason="false positive")
    history[A] = [confirmed, retraction]
    inputs = inputs_from(statuses(history))
    after = derive(links, inputs)

    assert after == {}
    current = {B: F1, C: F2}  # the derived levels as stored
    assert recompute_changes(current, after, inputs) == [
        LevelChange(B, F1, CLEARED, None),
        LevelChange(C, F2, CLEARED, None),
    ]
