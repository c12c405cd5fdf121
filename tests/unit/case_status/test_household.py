"""A new F0's household members proposed as F1 contacts."""

from __future__ import annotations

from services.case_status.domain.household import NOTE, propose_household_contacts
from services.case_status.domain.model import Classification, ContactSetting, ExposureLink
from services.case_status.domain.tracing import Pin, SourceCase, TracingInputs, derive
from tests.unit.case_status.builders import OFFICER, citizen, day, link

A, B, C, D = (citizen(n) for n in range(1, 5))
CONFIRMED_ON = day(9, 15)


def test_household_members_are_proposed_once_on_the_day_of_confirmation() -> None:
    existing = [
        link(A, C, CONFIRMED_ON),  # C already linked that day, entered the other way round
        link(D, A, day(9, 10)),  # D linked on another day: the household contact is news
    ]

    proposals = propose_household_contacts(A, CONFIRMED_ON, [D, A, B, C, B], existing, OFFICER)

    assert proposals == (
        ExposureLink(B, A, CONFIRMED_ON, ContactSetting.HOUSEHOLD, OFFICER, NOTE),
        ExposureLink(D, A, CONFIRMED_ON, ContactSetting.HOUSEHOLD, OFFICER, NOTE),
    )


def test_proposed_household_contacts_become_f1() -> None:
    proposals = propose_household_contacts(A, CONFIRMED_ON, [B, C], [], OFFICER)
    inputs = TracingInputs(
        sources={A: SourceCase(Classification.F0, CONFIRMED_ON)},
        pins={A: Pin(Classification.F0, CONFIRMED_ON)},
    )

    levels = {cid: d.level for cid, d in derive(proposals, inputs).items()}

    assert levels == {B: Classification.F1, C: Classification.F1}


def test_a_household_of_one_proposes_nobody() -> None:
    assert propose_household_contacts(A, CONFIRMED_ON, [A], [], OFFICER) == ()
