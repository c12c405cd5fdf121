"""What the alerts use cases need from the outside world."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from services.alerts.domain.model import (
    Alert,
    AlertKind,
    AlertState,
    CaseFacts,
    Checkpoint,
    Classification,
    CoPresence,
    NewAlert,
    Period,
    Residence,
    ReviewItem,
    Scan,
    ScanDecision,
    StatusChange,
    Verification,
    WardRole,
    WatchEntry,
)
from services.kit.auth import Identity
from services.kit.errors import DomainError
from services.kit.transactions import Transaction

T_contra = TypeVar("T_contra", contravariant=True)


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class ResultEncoder(Protocol[T_contra]):
    """Serialises a use case's result as the API sends it, for the request log to replay."""

    def __call__(self, result: T_contra, /) -> bytes: ...


class RegistryUnavailable(DomainError):
    """The registry did not answer; the same request may be sent again."""


class CaseStatusUnavailable(DomainError):
    """Case status did not answer; the same request may be sent again."""


class Registry(Protocol):
    async def residence(self, citizen_id: str) -> Residence | None:
        """Where the resident lives; None when the registry does not know them."""
        ...


class CaseStatus(Protocol):
    async def current(self, citizen_id: str) -> CaseFacts | None:
        """The resident's status now; None when case status has no record of them."""
        ...


@dataclass(frozen=True)
class AlertQuery:
    ward_code: str
    state: AlertState | None
    kind: AlertKind | None
    start: dt.datetime | None
    end: dt.datetime | None


@dataclass(frozen=True)
class SummaryQuery:
    # None: every ward.
    wards: frozenset[str] | None
    kind: AlertKind | None
    ward_role: WardRole | None
    start: dt.datetime | None
    end: dt.datetime | None
    group_by_ward: bool
    period: Period | None


@dataclass(frozen=True)
class SummaryRow:
    ward_code: str | None
    period_start: dt.date | None
    alerts: int
    open: int
    acknowledged: int
    verified: int
    confirmed_active: int
    already_recovered: int
    misidentified: int
    other: int
    hospital: int
    centralised_quarantine: int
    home_isolation: int


class AlertRepository(Protocol):
    async def lock_feeds(self) -> None:
        """Takes the feeds' lock for the rest of the transaction (see adapters.repository)."""
        ...

    async def add_checkpoint(self, checkpoint: Checkpoint, created_by_agency: str) -> bool:
        """False when the code is taken."""
        ...

    async def checkpoint(self, code: str) -> Checkpoint | None: ...

    async def claim_status_change(self, change: StatusChange) -> bool:
        """False when the event was applied before."""
        ...

    async def care_ward_of(self, event_id: str) -> str | None:
        """The place of care the applied status event named (None: none, or not applied)."""
        ...

    async def watch_entry(self, citizen_id: str) -> WatchEntry | None:
        """The resident's watchlist row, locked for the transaction."""
        ...

    async def save_watch_entry(self, entry: WatchEntry) -> None:
        """Writes the row with the next change sequence number."""
        ...

    async def add_alerts(self, alerts: Sequence[NewAlert]) -> None:
        """Stores each alert unless its (source, ward) has one already."""
        ...

    async def alerts_of_source(self, source_id: str) -> list[Alert]: ...

    async def alert(self, alert_id: str, *, for_update: bool = False) -> Alert | None: ...

    async def set_acknowledged(self, alert_id: str, by: str, at: dt.datetime) -> None: ...

    async def add_verification(self, alert_id: str, verification: Verification) -> None: ...

    async def add_review_item(self, item: ReviewItem) -> None: ...

    async def list_alerts(
        self, query: AlertQuery, before_cursor: int | None, size: int
    ) -> list[Alert]:
        """Newest first (highest cursor first), below ``before_cursor`` when given."""
        ...

    async def alerts_after(self, ward_code: str, cursor: int, limit: int) -> list[Alert]:
        """The ward's alerts after ``cursor``, oldest first."""
        ...

    async def review_items(
        self, wards: frozenset[str] | None, after: tuple[str, str] | None, size: int
    ) -> list[ReviewItem]: ...

    async def summarize(self, query: SummaryQuery) -> list[SummaryRow]: ...

    async def scans_of(
        self,
        citizen_id: str,
        start: dt.datetime,
        end: dt.datetime,
        wards: frozenset[str] | None,
        after: tuple[str, str] | None,
        size: int,
    ) -> list[Scan]: ...

    async def co_presence(
        self,
        citizen_id: str,
        start: dt.datetime,
        end: dt.datetime,
        window: dt.timedelta,
        wards: frozenset[str] | None,
        limit: int,
    ) -> list[CoPresence]: ...


class UnitOfWork(Transaction, Protocol):
    """One transaction: the alerts' changes, their audit rows, request log and outbox."""

    @property
    def alerts(self) -> AlertRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, identity: Identity) -> UnitOfWork: ...


class Checkpoints(Protocol):
    async def get(self, code: str) -> Checkpoint | None:
        """A registered checkpoint (from memory once seen: checkpoints do not change)."""
        ...


@dataclass(frozen=True)
class ScanRecord:
    """One scan to record, and what it was answered; the recorder commits it (and a WARN's
    alerts, and its audit row) before the answer leaves."""

    scan_id: str
    request_id: str
    identity: Identity
    trace_id: str | None
    checkpoint: Checkpoint
    citizen_id: str
    scanned_at: dt.datetime
    decision: ScanDecision
    # The flagged level, stored whether or not the checkpoint may be told.
    level: Classification | None


@dataclass(frozen=True)
class RecordedScan:
    scan_id: str
    verdict_number: int
    level_number: int | None
    # The request id had been used before for this same scan: the first answer is returned.
    replayed: bool
    # The request id had been used before for another scan.
    conflict: bool = False


class ScanRecorder(Protocol):
    async def record(self, scan: ScanRecord) -> RecordedScan: ...


class WatchlistSource(Protocol):
    async def changes_after(self, change_seq: int, limit: int) -> list[WatchEntry]:
        """Watchlist rows changed after ``change_seq``, in sequence order."""
        ...
