"""What callers ask the registry to do, as plain values (converted from the API)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.registry.domain.model import (
    Address,
    CivilStatus,
    DeathRecord,
    Relationship,
    Sex,
    TemporaryResidence,
)


@dataclass(frozen=True)
class RegisterResident:
    citizen_id: str
    full_name: str
    birth_date: dt.date | None
    sex: Sex | None
    permanent_residence: Address
    temporary_residence: TemporaryResidence | None
    household_id: str
    relationship_to_head: Relationship | None


@dataclass(frozen=True)
class PermanentMove:
    address: Address
    effective_date: dt.date | None


@dataclass(frozen=True)
class TemporaryRegistration:
    residence: TemporaryResidence


@dataclass(frozen=True)
class EndTemporaryResidence:
    end_date: dt.date | None


ResidenceChange = PermanentMove | TemporaryRegistration | EndTemporaryResidence


@dataclass(frozen=True)
class UpdateResidence:
    citizen_id: str
    etag: str
    change: ResidenceChange | None
    reason: str


@dataclass(frozen=True)
class RegisterDeath:
    citizen_id: str
    death: DeathRecord | None


@dataclass(frozen=True)
class ProposeCorrection:
    citizen_id: str
    etag: str
    corrected_status: CivilStatus | None
    reason: str


@dataclass(frozen=True)
class SearchQuery:
    name: str
    birth_date: dt.date | None
    birth_year: int | None
    ward_code: str | None


@dataclass(frozen=True)
class IdentityClaim:
    client_ref: str
    citizen_id: str
    full_name: str
    birth_date: dt.date | None
    ward_code: str
    # The submitted birth date was not a calendar date (30 February): the claim is invalid
    # rather than a claim without a birth date.
    birth_date_invalid: bool = False
