"""What the case-status use cases need from the outside world."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from services.case_status.domain.model import ExposureLink, StatusEvent
from services.case_status.domain.tracing import DerivedLevel
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import DomainError
from services.kit.request_ids import Claim, IdempotencyKey

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


class RegistryUnavailable(DomainError):
    """The registry did not answer in time: nothing was recorded; retry the same request."""


class Registry(Protocol):
    """The registry service, seen from case status (over gRPC, with a service token).

    Both calls raise RegistryUnavailable when the registry cannot be reached."""

    async def resident(self, citizen_id: str) -> ResidentFacts | None:
        """None when the registry has no such resident."""
        ...

    async def household_members(self, citizen_id: str) -> Sequence[ResidentFacts]:
        """Everyone in the resident's household, the resident included."""
        ...


class CaseRepository(Protocol):
    async def lock_residents(self, citizen_ids: Iterable[str]) -> None:
        """Serialises appends per resident until the transaction ends (in id order)."""
        ...

    async def events(self, citizen_id: str) -> Sequence[StatusEvent]: ...

    async def events_of(
        self, citizen_ids: Iterable[str]
    ) -> Mapping[str, Sequence[StatusEvent]]: ...

    async def add_event(self, event: StatusEvent, derived: DerivedLevel | None = None) -> None: ...

    async def derivations(self, event_ids: Iterable[str]) -> Mapping[str, tuple[str, int]]:
        """Event id -> (derived from, distance) for the DERIVED events among ``event_ids``."""
        ...

    async def add_links(self, links: Sequence[ExposureLink]) -> int:
        """Stores the links not stored yet (by their undirected key); how many were new."""
        ...

    async def links_around(self, citizen_ids: Iterable[str], hops: int) -> Sequence[ExposureLink]:
        """Every link within ``hops`` links of any of ``citizen_ids``."""
        ...


class UnitOfWork(Protocol):
    """One transaction: the case changes, their audit rows, request log and outbox."""

    @property
    def cases(self) -> CaseRepository: ...

    async def claim(self, method: str, key: IdempotencyKey) -> Claim: ...

    async def complete(self, key: IdempotencyKey, response: bytes) -> None: ...

    async def audit(self, event: AuditEvent) -> None: ...

    async def publish(
        self, event_type: str, aggregate_id: str, payload: Mapping[str, Any]
    ) -> None: ...

    async def commit(self) -> None: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, identity: Identity) -> UnitOfWork: ...
