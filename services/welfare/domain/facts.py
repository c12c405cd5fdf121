"""The facts an eligibility rule reads, built from what the registry and case status say.

The catalogue (documented in docs/api/welfare.md) is a tree of plain values (bools, ints,
strings, lists and maps) so that CEL rules can read it and explanations can quote it:

- ``assessment.date``: the day evaluated for, "YYYY-MM-DD";
- ``beneficiary`` and ``subject``: resident facts (``citizen_id``, ``age``, ``birth_date``,
  ``sex``, ``ward``, ``province``, ``temporary_ward``, ``alive``, ``civil_status``);
- ``case``: the subject's case history (``classifications``, ``ever_f0``, ``ever_f1``,
  ``first_f0_date``, ``first_f1_date``, ``days_in_care``, ``outcome``);
- ``death``: the subject's death record (``recorded``, ``cause``, ``date``);
- ``relationship``, ``orphan``, ``other_beneficiaries``: the beneficiary's place among the
  subject's survivors and the claims already made.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from services.welfare.domain.model import SurvivorRelationship


class HouseholdRole(enum.IntEnum):
    """Relationship to the household head, numbered as dancu.registry.v1.Relationship."""

    HEAD = 1
    SPOUSE = 2
    CHILD = 3
    PARENT = 4
    GRANDCHILD = 5
    GRANDPARENT = 6
    SIBLING = 7
    OTHER = 8


@dataclass(frozen=True)
class Person:
    """A resident as the registry describes them."""

    citizen_id: str
    full_name: str
    birth_date: dt.date
    sex: str  # "MALE" or "FEMALE"
    permanent_ward: str
    province_code: str
    temporary_ward: str
    deceased: bool
    death_date: dt.date | None = None
    death_cause: str = ""  # "COVID19", "OTHER", or "" when not recorded
    household_id: str = ""
    role: HouseholdRole | None = None

    @property
    def wards(self) -> frozenset[str]:
        return frozenset(w for w in (self.permanent_ward, self.temporary_ward) if w)


@dataclass(frozen=True)
class Member:
    """A household member, minimised as the registry's household view gives it."""

    citizen_id: str
    full_name: str
    birth_date: dt.date | None
    role: HouseholdRole | None
    deceased: bool


class CareSetting(enum.Enum):
    HOSPITAL = "HOSPITAL"
    CENTRALISED_QUARANTINE = "CENTRALISED_QUARANTINE"
    HOME_ISOLATION = "HOME_ISOLATION"


@dataclass(frozen=True)
class StatusChange:
    """One applied case-status event, reduced to what rules read."""

    on: dt.date
    classification: str | None = None  # "F0" ... "F3", "CLEARED"
    care_setting: CareSetting | None = None
    outcome: str | None = None  # "RECOVERED", "DECEASED"


@dataclass(frozen=True)
class CaseHistory:
    """The subject's applied status events, in effective order (corrected ones left out)."""

    changes: tuple[StatusChange, ...] = ()


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Full years on ``day`` (a birthday counts from that day)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def days_in_care(history: CaseHistory, until: dt.date) -> dict[str, int]:
    """Days spent in each care setting up to ``until``.

    A stay starts on the day of the event that names the setting and ends on the day of the
    next event that names another setting, an outcome or CLEARED; the end day is not counted
    (admitted on the 1st, discharged on the 10th: 9 days). A stay still running is counted
    up to ``until``. Events after ``until`` are not known yet on that day.
    """
    days = {setting.value: 0 for setting in CareSetting}
    current: CareSetting | None = None
    since = until
    for change in history.changes:
        if change.on > until:
            break
        ends = change.outcome is not None or change.classification == "CLEARED"
        moves = change.care_setting is not None and change.care_setting is not current
        if current is not None and (ends or moves):
            days[current.value] += max((change.on - since).days, 0)
            current = None
        if moves and not ends:
            current, since = change.care_setting, change.on
    if current is not None:
        days[current.value] += max((until - since).days, 0)
    return days


def case_facts(history: CaseHistory, until: dt.date) -> dict[str, Any]:
    known = [c for c in history.changes if c.on <= until]
    levels = [c for c in known if c.classification is not None]

    def first(level: str) -> str:
        return next((c.on.isoformat() for c in levels if c.classification == level), "")

    outcome = next((c.outcome for c in reversed(known) if c.outcome is not None), "")
    return {
        "classifications": [{"level": c.classification, "date": c.on.isoformat()} for c in levels],
        "ever_f0": any(c.classification == "F0" for c in levels),
        "ever_f1": any(c.classification == "F1" for c in levels),
        "first_f0_date": first("F0"),
        "first_f1_date": first("F1"),
        "days_in_care": days_in_care(history, until),
        "outcome": outcome,
    }


def resident_facts(person: Person, on: dt.date) -> dict[str, Any]:
    alive = not (person.deceased and (person.death_date is None or person.death_date <= on))
    return {
        "citizen_id": person.citizen_id,
        "age": age_on(person.birth_date, on),
        "birth_date": person.birth_date.isoformat(),
        "sex": person.sex,
        "ward": person.permanent_ward,
        "province": person.province_code,
        "temporary_ward": person.temporary_ward,
        "alive": alive,
        "civil_status": "ALIVE" if alive else "DECEASED",
    }


def death_facts(person: Person) -> dict[str, Any]:
    return {
        "recorded": person.deceased,
        "cause": person.death_cause,
        "date": person.death_date.isoformat() if person.death_date else "",
    }


@dataclass(frozen=True)
class Standing:
    """The beneficiary's place among the subject's survivors (SELF for self programs)."""

    relationship: str  # "SELF", "SPOUSE", "CHILD", "PARENT" or "NONE"
    orphan: bool
    other_beneficiaries: int


def relationship_name(relationship: SurvivorRelationship | None) -> str:
    return "NONE" if relationship is None else relationship.name


def build_facts(
    beneficiary: Person,
    subject: Person,
    history: CaseHistory,
    standing: Standing,
    on: dt.date,
) -> dict[str, Any]:
    return {
        "assessment": {"date": on.isoformat()},
        "beneficiary": resident_facts(beneficiary, on),
        "subject": resident_facts(subject, on),
        "case": case_facts(history, on),
        "death": death_facts(subject),
        "relationship": standing.relationship,
        "orphan": standing.orphan,
        "other_beneficiaries": standing.other_beneficiaries,
    }


FACT_ROOTS = frozenset(
    {
        "assessment",
        "beneficiary",
        "subject",
        "case",
        "death",
        "relationship",
        "orphan",
        "other_beneficiaries",
    }
)


def sample_facts() -> dict[str, Any]:
    """A complete fact tree with neutral values: programs are checked against it when they
    are published, so a rule naming a fact the catalogue lacks is refused up front."""
    person = Person("000000000000", "", dt.date(2000, 1, 1), "MALE", "", "", "", False)
    return build_facts(
        person, person, CaseHistory(), Standing("SELF", False, 0), dt.date(2021, 7, 1)
    )
