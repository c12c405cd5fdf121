"""Welfare values: programs, assessments with their reasons, benefit cases and their history.

Numbering of every enum mirrors dancu.welfare.v1 (0 is the proto's UNSPECIFIED), so the API
converts by value.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

# Ages, benefit periods and program validity follow the country's calendar, whatever the
# server's zone (Vietnam keeps UTC+7 all year).
VIETNAM_TIME = dt.timezone(dt.timedelta(hours=7), "ICT")


def vietnam_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(VIETNAM_TIME).date()


class BenefitKind(enum.IntEnum):
    ONE_TIME = 1
    PER_DAY = 2
    MONTHLY = 3


class BeneficiaryKind(enum.IntEnum):
    SELF = 1
    SURVIVOR = 2


class CaseState(enum.IntEnum):
    OPEN = 1
    IN_REVIEW = 2
    APPROVED = 3
    REJECTED = 4
    PAID = 5
    WITHDRAWN = 6
    # A recurring case whose remaining payments were stopped: the periods paid stand.
    STOPPED = 7

    @property
    def active(self) -> bool:
        """Still counts as this beneficiary's claim (not rejected or withdrawn): a stopped
        case was paid, so its claim is not opened again."""
        return self not in (CaseState.REJECTED, CaseState.WITHDRAWN)

    @property
    def awaiting_decision(self) -> bool:
        return self in (CaseState.OPEN, CaseState.IN_REVIEW)


class SurvivorRelationship(enum.IntEnum):
    SPOUSE = 1
    CHILD = 2
    PARENT = 3


@dataclass(frozen=True)
class Actor:
    subject: str
    agency: str


@dataclass(frozen=True)
class Benefit:
    kind: BenefitKind
    amount_vnd: int
    # PER_DAY: CEL int expression giving the days.
    quantity_expression: str = ""
    # PER_DAY: most days; MONTHLY: most months (0: no cap but the age).
    max_units: int = 0
    # MONTHLY: the age at which payments stop.
    until_age: int = 0


@dataclass(frozen=True)
class Clause:
    name: str
    description: str
    expression: str


DEFAULT_REVIEW_DAYS = 15


@dataclass(frozen=True)
class Program:
    code: str
    version: int
    name: str
    legal_basis: str
    valid_from: dt.date
    valid_to: dt.date | None
    benefit: Benefit
    beneficiary: BeneficiaryKind
    clauses: tuple[Clause, ...]
    review_days: int = DEFAULT_REVIEW_DAYS
    example: bool = False
    published_at: dt.datetime | None = None
    published_by: str = ""

    def in_force_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def same_content(self, other: Program) -> bool:
        """Equal but for version and publication: publishing it again changes nothing."""
        return self.content() == other.content()

    def content(self) -> Program:
        return replace(self, version=0, published_at=None, published_by="")


@dataclass(frozen=True)
class FactValue:
    """A fact a clause referenced: its catalogue path and its value as CEL literal text."""

    path: str
    value: str


@dataclass(frozen=True)
class ClauseResult:
    name: str
    description: str
    expression: str
    satisfied: bool
    error: str
    facts: tuple[FactValue, ...]


@dataclass(frozen=True)
class Entitlement:
    amount_vnd: int
    unit_amount_vnd: int
    units: int
    uncapped_units: int
    explanation: str


@dataclass(frozen=True)
class Assessment:
    program_code: str
    program_version: int
    beneficiary_id: str
    subject_id: str
    on: dt.date
    eligible: bool
    clauses: tuple[ClauseResult, ...]
    entitlement: Entitlement | None

    @property
    def failed_clauses(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.clauses if not c.satisfied)


@dataclass(frozen=True)
class Transition:
    from_state: CaseState | None
    to_state: CaseState
    actor: Actor
    at: dt.datetime
    reason: str


@dataclass(frozen=True)
class Payment:
    """One period's payment, recorded once and never changed."""

    period: int
    reference: str
    amount_vnd: int
    recorded_at: dt.datetime
    recorded_by: Actor


def payment_periods(kind: BenefitKind, entitlement: Entitlement | None) -> int:
    """A monthly benefit is paid month by month; any other in one payment (a per-day
    benefit's days are paid together)."""
    if kind is BenefitKind.MONTHLY and entitlement is not None:
        return max(entitlement.units, 1)
    return 1


@dataclass(frozen=True)
class BenefitCase:
    case_id: str
    program_code: str
    program_version: int
    beneficiary_id: str
    subject_id: str
    ward_code: str
    state: CaseState
    assignee: str
    opened_by: Actor
    assessed_by: str
    decided_by: str
    decision_reason: str
    assessment: Assessment
    amount_vnd: int
    payment_reference: str
    opened_at: dt.datetime
    due_at: dt.datetime
    updated_at: dt.datetime
    history: tuple[Transition, ...] = ()
    # 1 when opened, +1 per transition or payment.
    version: int = 1
    # How many payments the case makes (``payment_periods``) and how many are recorded.
    payment_periods: int = 1
    periods_paid: int = 0
    # Every payment by period; loaded with the case, not with a queue row.
    payments: tuple[Payment, ...] = ()
    # The workflow that drives the case (officers' acts go to it first); "": none.
    workflow_id: str = ""

    @property
    def driven_by_workflow(self) -> bool:
        return bool(self.workflow_id)

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def period_amount_vnd(self) -> int:
        """What one period pays: the amount spread evenly over the periods (a monthly
        entitlement is the amount per month times the months)."""
        return self.amount_vnd // self.payment_periods

    @property
    def periods_left(self) -> int:
        return self.payment_periods - self.periods_paid

    def overdue(self, now: dt.datetime) -> bool:
        return self.state.awaiting_decision and now > self.due_at


@dataclass(frozen=True)
class Survivor:
    citizen_id: str
    full_name: str
    birth_date: dt.date | None
    relationship: SurvivorRelationship
    alive: bool
    orphan: bool
