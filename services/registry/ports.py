"""What the registry's use cases need from the outside world."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from services.kit.auth import Identity
from services.kit.transactions import Transaction
from services.kit.wards import WardInfo
from services.registry.domain.commands import SearchQuery
from services.registry.domain.matching import Candidate
from services.registry.domain.model import (
    Actor,
    CivilStatusCorrection,
    CivilStatusRecord,
    HouseholdMember,
    ResidenceRecord,
    Resident,
)

T_contra = TypeVar("T_contra", contravariant=True)


class WardDirectory(Protocol):
    def exists(self, ward_code: str) -> bool: ...

    def info(self, ward_code: str) -> WardInfo | None: ...


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class ResultEncoder(Protocol[T_contra]):
    """Serialises a use case's result as the API sends it, for the request log to replay."""

    def __call__(self, result: T_contra, /) -> bytes: ...


class ResidentRepository(Protocol):
    async def get(self, citizen_id: str, *, for_update: bool = False) -> Resident | None: ...

    async def get_many(self, citizen_ids: Sequence[str]) -> Mapping[str, Resident]: ...

    async def add(self, resident: Resident) -> Resident | None:
        """The stored resident, or None when the citizen id is already registered."""
        ...

    async def update(self, resident: Resident) -> Resident:
        """Saves ``resident`` whose version is one more than the stored one."""
        ...

    async def lock_household(self, household_id: str) -> bool:
        """Locks the household for this transaction; False when there is no such household."""
        ...

    async def household_head(self, household_id: str) -> str | None: ...

    async def add_household(self, household_id: str) -> None: ...

    async def household_members(self, household_id: str) -> Sequence[HouseholdMember]:
        """Every member, head first, then by birth date and citizen id."""
        ...

    async def household_ids(self, citizen_ids: Sequence[str]) -> Mapping[str, str]:
        """The household id of each registered resident among ``citizen_ids``."""
        ...

    async def members_of_households(
        self, household_ids: Sequence[str]
    ) -> Mapping[str, Sequence[HouseholdMember]]:
        """Every member of each household, ordered as ``household_members`` orders them."""
        ...

    async def search(
        self,
        query: SearchQuery,
        wards: frozenset[str] | None,
        today: dt.date,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> Sequence[Resident]: ...

    async def candidates_by_id(
        self, citizen_ids: Sequence[str], wards: frozenset[str] | None, today: dt.date
    ) -> Mapping[str, Candidate]:
        """Residents by id; with ``wards``, only those living there on ``today``."""
        ...

    async def candidates_by_name_and_birth(
        self, keys: Sequence[tuple[str, dt.date]], wards: frozenset[str] | None, today: dt.date
    ) -> Mapping[tuple[str, dt.date], Sequence[Candidate]]: ...

    async def add_residence_record(self, citizen_id: str, record: ResidenceRecord) -> None: ...

    async def close_residence_record(
        self, citizen_id: str, kind: int, valid_to: dt.date
    ) -> None: ...

    async def residence_history(
        self, citizen_id: str, after: tuple[Any, ...] | None, limit: int
    ) -> Sequence[tuple[int, ResidenceRecord]]: ...

    async def add_civil_status_record(self, citizen_id: str, record: CivilStatusRecord) -> None: ...

    async def civil_status_history(self, citizen_id: str) -> Sequence[CivilStatusRecord]: ...

    async def add_correction(self, correction: CivilStatusCorrection) -> None: ...

    async def get_correction(
        self, correction_id: str, *, for_update: bool = False
    ) -> CivilStatusCorrection | None: ...

    async def mark_correction_applied(
        self, correction_id: str, approved_by: Actor, applied_at: dt.datetime
    ) -> CivilStatusCorrection: ...


class AuditedResidentReads(Protocol):
    """GetResident's read with its audit row, committed together before the answer leaves."""

    async def get(self, identity: Identity, citizen_id: str, today: dt.date) -> Resident | None:
        """The resident when ``identity`` may see it on ``today``, else None (absent and out of
        the caller's wards alike).

        A nationwide caller sees everyone; a ward-scoped one sees a resident whose permanent
        ward, or temporary ward in force on ``today``, is among its wards (the rule of
        ``Resident.residence_wards``). Either way one audit row (action ``GetResident``,
        outcome ``ok`` or ``not_found``, the caller, its purpose and the trace id) is committed
        with the read before this returns; when the read fails neither happened.
        """
        ...


class UnitOfWork(Transaction, Protocol):
    """One transaction: the registry's changes, their audit rows, request log and outbox."""

    @property
    def residents(self) -> ResidentRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...


class UnitOfWorkFactory(Protocol):
    """Opens a unit of work on behalf of ``identity`` (for its audit rows and request ids)."""

    def __call__(self, identity: Identity) -> UnitOfWork: ...
