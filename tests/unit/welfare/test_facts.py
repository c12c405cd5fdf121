"""Days in care, ages and survivors: the facts rules read."""

from __future__ import annotations

import datetime as dt

from services.welfare.domain.facts import (
    CareSetting,
    CaseHistory,
    HouseholdRole,
    Member,
    StatusChange,
    age_on,
    case_facts,
    days_in_care,
)
from services.welfare.domain.model import SurvivorRelationship
from services.welfare.domain.survivors import find_survivors

D = dt.date
H = HouseholdRole


def test_a_stay_ends_on_the_day_care_changes_or_the_episode_ends() -> None:
    history = CaseHistory(
        (
            StatusChange(D(2021, 8, 1), "F0", CareSetting.HOSPITAL),
            StatusChange(D(2021, 8, 11), None, CareSetting.CENTRALISED_QUARANTINE),
            StatusChange(D(2021, 8, 15), None, None, "RECOVERED"),
            StatusChange(D(2021, 9, 1), "F1", CareSetting.HOME_ISOLATION),
        )
    )

    days = days_in_care(history, until=D(2021, 9, 8))

    assert days == {"HOSPITAL": 10, "CENTRALISED_QUARANTINE": 4, "HOME_ISOLATION": 7}


def test_events_after_the_assessment_day_are_not_known_yet() -> None:
    history = CaseHistory(
        (
            StatusChange(D(2021, 8, 1), "F0", CareSetting.HOSPITAL),
            StatusChange(D(2021, 8, 20), None, None, "RECOVERED"),
        )
    )

    facts = case_facts(history, until=D(2021, 8, 5))

    assert facts["days_in_care"]["HOSPITAL"] == 4
    assert facts["outcome"] == ""
    assert facts["ever_f0"]
    assert facts["first_f0_date"] == "2021-08-01"


def test_age_counts_from_the_birthday_and_handles_29_february() -> None:
    assert age_on(D(2010, 3, 15), D(2026, 3, 14)) == 15
    assert age_on(D(2010, 3, 15), D(2026, 3, 15)) == 16
    assert age_on(D(2008, 2, 29), D(2026, 2, 28)) == 17
    assert age_on(D(2008, 2, 29), D(2026, 3, 1)) == 18


def _member(cid: str, role: HouseholdRole, deceased: bool = False) -> Member:
    return Member(cid, cid, D(2000, 1, 1), role, deceased)


def test_survivors_of_a_deceased_spouse_include_the_head_and_the_children() -> None:
    head = _member("head", H.HEAD)
    wife = _member("wife", H.SPOUSE, deceased=True)
    household = [head, wife, _member("son", H.CHILD), _member("grandma", H.PARENT)]

    found = find_survivors(wife, household)

    assert [(s.citizen_id, s.relationship) for s in found] == [
        ("head", SurvivorRelationship.SPOUSE),
        ("son", SurvivorRelationship.CHILD),
    ]
    assert not found[1].orphan


def test_a_child_is_an_orphan_only_when_every_recorded_parent_died() -> None:
    household = [
        _member("head", H.HEAD, deceased=True),
        _member("wife", H.SPOUSE, deceased=True),
        _member("son", H.CHILD),
    ]
    single_parent = [_member("head", H.HEAD, deceased=True), _member("son", H.CHILD)]

    assert find_survivors(household[0], household)[1].orphan
    assert find_survivors(single_parent[0], single_parent)[0].orphan


def test_a_deceased_parent_of_the_head_leaves_the_head_and_siblings_as_children() -> None:
    grandpa = _member("grandpa", H.PARENT, deceased=True)
    household = [_member("head", H.HEAD), _member("aunt", H.SIBLING), grandpa]

    found = find_survivors(grandpa, household)

    assert [(s.citizen_id, s.relationship) for s in found] == [
        ("head", SurvivorRelationship.CHILD),
        ("aunt", SurvivorRelationship.CHILD),
    ]
