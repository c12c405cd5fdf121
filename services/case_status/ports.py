"""What the case-status use cases need from the outside world."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from services.case_status.domain.imports import (
    ChunkCounts,
    ImportRecord,
    ImportSummary,
    RowCandidate,
    RowOutcome,
    RowTally,
    StagedChunk,
    Staging,
    StoredRow,
    SubmittedRow,
)
from services.case_status.domain.model import (
    Actor,
    CareSetting,
    CaseStatus,
    Classification,
    ExposureLink,
    StatusEvent,
)
from services.case_status.domain.tracing import DerivedLevel
from services.case_status.domain.zones import Zone
from services.kit.auth import Identity
from services.kit.errors import DomainError
from services.kit.transactions import Transaction

T_contra = TypeVar("T_contra", contravariant=True)


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class ResultEncoder(Protocol[T_contra]):
    """Serialises a use case's result as the API sends it, for the request log to replay."""

    def __call__(self, result: T_contra, /) -> bytes: ...


@dataclass(frozen=True)
class ResidentFacts:
    """What the registry tells us about a resident: enough to accept events and scope reads."""

    citizen_id: str
    deceased: bool
    death_date: dt.date | None
    # Permanent ward and, when registered, temporary ward: who may read the case.
    wards: frozenset[str]
    # The residence snapshot kept beside the case (empty / None when the registry did not
    # say, e.g. household members listed without their residence).
    permanent_ward: str = ""
    province_code: str = ""
    temporary_ward: str | None = None
    temporary_from: dt.date | None = None
    temporary_to: dt.date | None = None


class WardRole(enum.IntEnum):
    ANY = 1
    PERMANENT = 2
    TEMPORARY = 3
    CARE_PLACE = 4


@dataclass(frozen=True)
class CaseQuery:
    """Which cases ListCases wants."""

    # None: every ward.
    ward_code: str | None
    role: WardRole
    # Empty: every classification but CLEARED.
    classifications: frozenset[Classification]
    care_setting: CareSetting | None


@dataclass(frozen=True)
class Candidate:
    citizen_id: str
    # The residence snapshot matches the ward filter (else only the care place may).
    by_residence: bool
    province_code: str
    permanent_ward: str


class ResidenceKind(enum.IntEnum):
    PERMANENT = 1
    TEMPORARY = 2


@dataclass(frozen=True)
class WardResident:
    """A resident the registry lists in a ward, and which residence puts them there."""

    citizen_id: str
    kind: ResidenceKind


@dataclass(frozen=True)
class WardPage:
    residents: Sequence[WardResident]
    # Empty on the ward's last page.
    next_page_token: str


@dataclass(frozen=True)
class IdentityClaim:
    client_ref: str
    citizen_id: str
    full_name: str
    birth_date: dt.date | None
    ward_code: str


class VerificationOutcome(enum.IntEnum):
    MATCH = 1
    MATCH_WITH_DIFFERENCES = 2
    NO_MATCH = 3
    AMBIGUOUS = 4
    INVALID = 5


@dataclass(frozen=True)
class Verification:
    """The registry's answer for one claim."""

    outcome: VerificationOutcome
    match: RowCandidate | None = None
    differing_fields: tuple[str, ...] = ()
    candidates: tuple[RowCandidate, ...] = ()
    problem: str = ""


class RegistryUnavailable(DomainError):
    """The registry did not answer in time: nothing was recorded; retry the same request."""


class Registry(Protocol):
    """The registry service, seen from case status (over gRPC, with a service token).

    Every call raises RegistryUnavailable when the registry cannot be reached."""

    async def resident(self, citizen_id: str) -> ResidentFacts | None:
        """None when the registry has no such resident."""
        ...

    async def household_members(self, citizen_id: str) -> Sequence[ResidentFacts]:
        """Everyone in the resident's household, the resident included."""
        ...

    async def households(self, citizen_ids: Sequence[str]) -> Mapping[str, Sequence[ResidentFacts]]:
        """Each registered resident's household members, the resident included (any number of
        residents; asked 1,000 at a time)."""
        ...

    async def residents_in_ward(self, ward_code: str, page_size: int, page_token: str) -> WardPage:
        """One page of the residents whose permanent or active temporary residence is in the
        ward (at most 200 per page)."""
        ...

    async def residents(self, citizen_ids: Sequence[str]) -> Sequence[ResidentFacts]:
        """The registered ones among ``citizen_ids`` (any number; asked 1,000 at a time)."""
        ...

    async def verify_identities(self, claims: Sequence[IdentityClaim]) -> Sequence[Verification]:
        """One answer per claim, in order (at most 5,000 claims per call)."""
        ...


class CaseRepository(Protocol):
    async def lock_residents(self, citizen_ids: Iterable[str]) -> None:
        """Serialises appends per resident until the transaction ends (in id order)."""
        ...

    async def events(self, citizen_id: str) -> Sequence[StatusEvent]: ...

    async def events_of(
        self, citizen_ids: Iterable[str]
    ) -> Mapping[str, Sequence[StatusEvent]]: ...

    async def add_events(self, events: Sequence[tuple[StatusEvent, DerivedLevel | None]]) -> None:
        """Appends events, each with the derivation of its DERIVED level (else None)."""
        ...

    async def derivations(self, event_ids: Iterable[str]) -> Mapping[str, tuple[str, int]]:
        """Event id -> (derived from, distance) for the DERIVED events among ``event_ids``."""
        ...

    async def add_links(self, links: Sequence[ExposureLink]) -> int:
        """Stores the links not stored yet (by their undirected key); how many were new."""
        ...

    async def links_around(self, citizen_ids: Iterable[str], hops: int) -> Sequence[ExposureLink]:
        """Every link within ``hops`` links of any of ``citizen_ids``."""
        ...

    async def living_in(
        self, citizen_ids: Sequence[str], wards: Iterable[str], on_day: dt.date
    ) -> set[str]:
        """Those of ``citizen_ids`` whose residence snapshot puts them in one of ``wards``."""
        ...

    async def holds(self, citizen_id: str) -> bool:
        """Whether the resident has a current status or a residence snapshot here."""
        ...

    async def save_residences(self, residents: Sequence[ResidentFacts]) -> None:
        """Stores each resident's residence wards as the registry gave them (with a permanent
        ward), replacing the earlier snapshot."""
        ...

    async def save_current(self, statuses: Sequence[CaseStatus]) -> None:
        """Stores each resident's current status (folded from all events)."""
        ...

    async def current_levels(self, citizen_ids: Sequence[str]) -> Mapping[str, Classification]:
        """The current level of those of ``citizen_ids`` who have one."""
        ...

    async def current_page(
        self, query: CaseQuery, on_day: dt.date, after: str | None, limit: int
    ) -> Sequence[str]:
        """Citizen ids, in order after ``after``, whose current status matches ``query``."""
        ...

    async def candidates(
        self,
        query: CaseQuery,
        as_of: dt.datetime,
        after: str | None,
        limit: int,
        *,
        province_code: str | None = None,
        permanent_wards: frozenset[str] | None = None,
    ) -> Sequence[Candidate]:
        """Residents, in id order after ``after``, with an event effective by ``as_of`` who may
        match ``query`` then (their status at ``as_of`` decides); optionally only those whose
        permanent residence is in the province / one of the wards."""
        ...

    async def count_current(
        self, province_code: str | None, wards: frozenset[str] | None, by_ward: bool
    ) -> Sequence[tuple[str, str, int, int]]:
        """(province, ward or "", classification, count) of current statuses by permanent
        residence (residents with a residence snapshot only)."""
        ...

    async def add_zone(self, zone: Zone, declared_by: Actor) -> None: ...

    async def zone(self, zone_id: str, *, for_update: bool = False) -> Zone | None: ...

    async def save_zone_end(self, zone: Zone) -> None: ...

    async def add_import(self, record: ImportRecord, rows: Sequence[StoredRow]) -> None: ...

    async def import_record(self, import_id: str) -> ImportRecord | None: ...

    async def previous_import_rows(self, record: ImportRecord) -> dict[str, str] | None:
        """Row key -> signature of the ward's latest import before ``record`` (None: none);
        rejected rows left out."""
        ...

    async def import_rows(
        self, import_id: str, outcome: RowOutcome | None, after: int, limit: int
    ) -> Sequence[StoredRow]:
        """Rows of the import numbered after ``after``, in row order."""
        ...

    async def import_row(self, import_id: str, row_number: int) -> StoredRow | None:
        """The row, locked until the transaction ends."""
        ...

    async def save_row_result(self, import_id: str, stored: StoredRow) -> None: ...

    async def import_record_for_update(self, import_id: str) -> ImportRecord | None:
        """The import, its row locked until the transaction ends."""
        ...

    async def add_chunk(
        self, import_id: str, chunk: StagedChunk, rows: Sequence[SubmittedRow]
    ) -> None: ...

    async def staging(self, import_id: str) -> Staging:
        """The import's staged chunks (their row numbers and state, not their rows)."""
        ...

    async def chunk_rows_for_update(
        self, import_id: str, chunk_number: int
    ) -> tuple[StagedChunk, Sequence[SubmittedRow]] | None:
        """A staged chunk and its rows (none once applied), locked until the transaction
        ends: one chunk is applied by one transaction at a time."""
        ...

    async def add_import_rows(self, import_id: str, rows: Sequence[StoredRow]) -> None: ...

    async def save_chunk_applied(
        self, import_id: str, chunk_number: int, counts: ChunkCounts
    ) -> None:
        """Records the chunk's counts and drops its staged rows (their results hold them)."""
        ...

    async def import_tallies(self, import_id: str) -> Sequence[RowTally]: ...

    async def save_import_complete(self, import_id: str, summary: ImportSummary) -> None: ...


class UnitOfWork(Transaction, Protocol):
    """One transaction: the case changes, their audit rows, request log and outbox."""

    @property
    def cases(self) -> CaseRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, identity: Identity) -> UnitOfWork: ...
