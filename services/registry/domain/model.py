"""Residents, households, residence and civil-status records."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

# Residence and civil status follow the country's calendar, whatever the server's zone.
VIETNAM_TIME = dt.timezone(dt.timedelta(hours=7), "ICT")


class Sex(enum.IntEnum):
    MALE = 1
    FEMALE = 2


class Relationship(enum.IntEnum):
    HEAD = 1
    SPOUSE = 2
    CHILD = 3
    PARENT = 4
    GRANDCHILD = 5
    GRANDPARENT = 6
    SIBLING = 7
    OTHER = 8


class CivilStatus(enum.IntEnum):
    ALIVE = 1
    DECEASED = 2


class DeathCause(enum.IntEnum):
    COVID19 = 1
    OTHER = 2


class ResidenceKind(enum.IntEnum):
    PERMANENT = 1
    TEMPORARY = 2


class CorrectionState(enum.IntEnum):
    PROPOSED = 1
    APPLIED = 2


@dataclass(frozen=True)
class Address:
    ward_code: str
    street: str


@dataclass(frozen=True)
class TemporaryResidence:
    address: Address
    valid_from: dt.date
    valid_to: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class DeathRecord:
    death_date: dt.date
    cause: DeathCause
    place: str = ""
    cause_detail: str = ""
    registration_ref: str = ""
    death_time: dt.datetime | None = None


@dataclass(frozen=True)
class Actor:
    subject: str
    agency: str


@dataclass(frozen=True)
class Resident:
    citizen_id: str
    full_name: str
    birth_date: dt.date
    sex: Sex
    permanent_residence: Address
    household_id: str
    relationship_to_head: Relationship
    civil_status: CivilStatus = CivilStatus.ALIVE
    temporary_residence: TemporaryResidence | None = None
    death: DeathRecord | None = None
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def etag(self) -> str:
        return etag_for(self.version)

    def residence_wards(self, today: dt.date) -> frozenset[str]:
        """Wards where the resident lives on ``today``: permanent and active temporary."""
        wards = {self.permanent_residence.ward_code}
        if self.temporary_residence is not None and self.temporary_residence.active_on(today):
            wards.add(self.temporary_residence.address.ward_code)
        return frozenset(wards)


def etag_for(version: int) -> str:
    return f'W/"{version}"'


@dataclass(frozen=True)
class HouseholdMember:
    citizen_id: str
    full_name: str
    birth_date: dt.date
    sex: Sex
    relationship_to_head: Relationship
    civil_status: CivilStatus


@dataclass(frozen=True)
class Household:
    household_id: str
    members: tuple[HouseholdMember, ...] = field(default_factory=tuple)

    @property
    def head_citizen_id(self) -> str | None:
        """The living head; a deceased head stays a member (history) but heads no more."""
        for member in self.members:
            if (
                member.relationship_to_head is Relationship.HEAD
                and member.civil_status is CivilStatus.ALIVE
            ):
                return member.citizen_id
        return None


@dataclass(frozen=True)
class ResidenceRecord:
    kind: ResidenceKind
    address: Address
    valid_from: dt.date
    valid_to: dt.date | None
    recorded_by: Actor
    reason: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class CivilStatusRecord:
    civil_status: CivilStatus
    death: DeathRecord | None
    recorded_by: Actor
    reason: str
    recorded_at: dt.datetime
    correction_id: str | None = None
    approved_by: Actor | None = None


@dataclass(frozen=True)
class CivilStatusCorrection:
    correction_id: str
    citizen_id: str
    corrected_status: CivilStatus
    reason: str
    state: CorrectionState
    proposed_by: Actor
    proposed_at: dt.datetime
    # The resident's version the proposal was made against: approval of a proposal whose
    # resident changed since would apply it to facts nobody reviewed.
    resident_version: int
    approved_by: Actor | None = None
    applied_at: dt.datetime | None = None
