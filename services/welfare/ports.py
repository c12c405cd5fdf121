"""What the welfare use cases need from the outside world."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from services.kit.auth import Identity
from services.kit.errors import DomainError
from services.kit.transactions import Transaction
from services.welfare.domain.facts import CaseHistory, Member, Person
from services.welfare.domain.model import Actor, BenefitCase, CaseState, Program

T_contra = TypeVar("T_contra", contravariant=True)


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class ResultEncoder(Protocol[T_contra]):
    """Serialises a use case's result as the API sends it, for the request log to replay."""

    def __call__(self, result: T_contra, /) -> bytes: ...


class FactsUnavailable(DomainError):
    """The registry or case status did not answer in time: nothing was decided; retry."""


class CaseWorkflowUnavailable(DomainError):
    """Temporal did not answer, or the case's workflow has not started yet: nothing was
    recorded; send the same request again."""


@dataclass(frozen=True)
class OfficerAct:
    """An officer's act on a case a workflow drives, as welfare forwards it."""

    # assign, decide or request_documents (the workflow's Update names).
    kind: str
    officer: Actor
    # The officer's call to welfare: the act's record answers its retries.
    request_id: str
    request_fingerprint: str
    assignee: str = ""
    approve: bool = False
    reason: str = ""
    documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActAccepted:
    """The workflow accepted the act and its handler finished (the act is recorded)."""

    # Every document requested on the case so far (the workflow's record).
    documents_requested: tuple[str, ...] = ()


class CaseWorkflows(Protocol):
    """The cases' workflows, seen from welfare (Temporal, through its client)."""

    async def forward(self, workflow_id: str, update_id: str, act: OfficerAct) -> ActAccepted:
        """Executes the act as the workflow's Update ``update_id`` (the same id again is the
        same Update). A refusal raises the workflow's reason as a ``DomainError`` of its
        category; Temporal away, or the workflow not started yet, ``CaseWorkflowUnavailable``."""
        ...


class Registry(Protocol):
    """The registry service, seen from welfare (over gRPC, with a service token)."""

    async def person(self, citizen_id: str) -> Person | None:
        """None when the registry has no such resident."""
        ...

    async def household(self, citizen_id: str) -> Sequence[Member]:
        """Every member of the resident's household, the resident and the deceased included
        (empty when the resident is unknown)."""
        ...


class CaseStatus(Protocol):
    """Case status, seen from welfare: a resident's applied status events."""

    async def history(self, citizen_id: str) -> CaseHistory: ...


@dataclass(frozen=True)
class CaseQuery:
    """Which cases an officer's queue shows."""

    state: CaseState | None
    program_code: str | None
    # None: every ward the caller sees.
    wards: frozenset[str] | None
    assignee: str | None
    # Only cases awaiting a decision past this time.
    overdue_at: dt.datetime | None


class WelfareRepository(Protocol):
    async def latest_program(self, code: str) -> Program | None: ...

    async def program(self, code: str, version: int) -> Program | None: ...

    async def latest_programs(self) -> Sequence[Program]: ...

    async def lock_program_code(self, code: str) -> None:
        """Serialises publications of one program code until the transaction ends."""
        ...

    async def add_program(self, program: Program) -> None: ...

    async def lock_claims(self, program_code: str, subject_id: str) -> None:
        """Serialises openings of claims about one subject under one program until the
        transaction ends, so that two survivors cannot both be the first claimant."""
        ...

    async def lock_payment_reference(self, reference: str) -> None:
        """Serialises payments under one reference until the transaction ends, so that two
        cases cannot both take it."""
        ...

    async def payment_by_reference(self, reference: str) -> tuple[str, int] | None:
        """The case and period a reference paid, if any."""
        ...

    async def active_case(
        self, program_code: str, beneficiary_id: str, subject_id: str
    ) -> BenefitCase | None:
        """The case not rejected or withdrawn for this claim, if any."""
        ...

    async def add_case(self, case: BenefitCase) -> None:
        """Stores a new case with its first transition (under ``lock_claims``: the database's
        one-active-claim index would refuse a second one)."""
        ...

    async def case(self, case_id: str, *, for_update: bool = False) -> BenefitCase | None: ...

    async def save_case(self, case: BenefitCase) -> None:
        """Stores the case's state and its transitions and payments not stored yet."""
        ...

    async def other_claims(self, program_code: str, subject_id: str, beneficiary_id: str) -> int:
        """Active cases of the program for the subject with another beneficiary."""
        ...

    async def cases_page(
        self, query: CaseQuery, after: tuple[dt.datetime, str] | None, limit: int
    ) -> Sequence[BenefitCase]:
        """Cases matching ``query`` in (open time, id) order after ``after``, without their
        history."""
        ...


class UnitOfWork(Transaction, Protocol):
    """One transaction: programs and cases, their audit rows, request log and outbox."""

    @property
    def welfare(self) -> WelfareRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, identity: Identity) -> UnitOfWork: ...
