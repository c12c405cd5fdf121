"""The benefit-case lifecycle: open → in review → approved → paid, or rejected / withdrawn;
a monthly case is paid period by period and may be stopped with periods left.

Every change returns a new case with the transition appended (who, when, why); a payment of a
later period changes no state and is kept as its payment record. A step the current state
does not allow is a precondition failure, never a silent no-op, except where repeating a
finished step is how a retrying caller learns it is done (the same period recorded again
under the same reference).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from services.kit.errors import (
    ConcurrentChange,
    FieldViolation,
    Forbidden,
    InvalidInput,
    PreconditionFailed,
)
from services.welfare.domain.model import Actor, BenefitCase, CaseState, Payment, Transition

MAX_REASON_LENGTH = 2000
MAX_DOCUMENTS = 20
MAX_DOCUMENT_LENGTH = 200
MAX_REFERENCE_LENGTH = 128
MAX_SUBJECT_LENGTH = 128

S = CaseState


def illegal(case: BenefitCase, step: str) -> PreconditionFailed:
    return PreconditionFailed(
        "ILLEGAL_TRANSITION", f"a case in state {case.state.name} cannot be {step}"
    )


def _move(
    case: BenefitCase, to: CaseState, actor: Actor, now: dt.datetime, reason: str, **fields: Any
) -> BenefitCase:
    """The case in state ``to`` with the transition recorded; ``fields``: the text fields the
    step sets (assignee, decision, payment reference)."""
    step = Transition(case.state, to, actor, now, reason)
    return replace(
        replace(case, **fields),
        state=to,
        updated_at=now,
        history=(*case.history, step),
        version=case.version + 1,
    )


def check_etag(case: BenefitCase, etag: str) -> None:
    """A stale etag (the case changed since the caller read it) refuses the change."""
    if etag and etag != case.etag:
        raise ConcurrentChange("ETAG_MISMATCH", "the case changed since it was read")


def require_reason(reason: str, field: str = "reason") -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            [FieldViolation(field, "REASON_REQUIRED", f"give 1 to {MAX_REASON_LENGTH} characters")]
        )
    return reason


def workflow_id(case_id: str) -> str:
    """The id of the BenefitCase workflow that drives a case (the workflows' own convention:
    workflows/benefit_case/models.py)."""
    return f"benefit-case-{case_id}"


def check_assignee(assignee: str) -> str:
    if not assignee or len(assignee) > MAX_SUBJECT_LENGTH or not assignee.isprintable():
        raise InvalidInput([FieldViolation("assignee", "ASSIGNEE_INVALID", "is not a subject")])
    return assignee


def require_documents(documents: Sequence[str]) -> tuple[str, ...]:
    """1 to MAX_DOCUMENTS documents, each named in 1 to MAX_DOCUMENT_LENGTH printable
    characters."""
    named = tuple(d.strip() for d in documents)
    if not 0 < len(named) <= MAX_DOCUMENTS or not all(
        0 < len(d) <= MAX_DOCUMENT_LENGTH and d.isprintable() for d in named
    ):
        raise InvalidInput(
            [
                FieldViolation(
                    "documents",
                    "DOCUMENTS_INVALID",
                    f"name 1 to {MAX_DOCUMENTS} documents of 1 to {MAX_DOCUMENT_LENGTH} "
                    "printable characters",
                )
            ]
        )
    return named


def assign(case: BenefitCase, assignee: str, actor: Actor, now: dt.datetime) -> BenefitCase:
    """An open case goes into review; a case in review changes hands."""
    check_assignee(assignee)
    if not case.state.awaiting_decision:
        raise illegal(case, "assigned")
    return _move(case, S.IN_REVIEW, actor, now, f"assigned to {assignee}", assignee=assignee)


def decide(
    case: BenefitCase, approve: bool, reason: str, actor: Actor, now: dt.datetime
) -> BenefitCase:
    """Maker-checker: the officer who opened or assessed a case may not decide it."""
    reason = require_reason(reason)
    if case.state is not S.IN_REVIEW:
        raise illegal(case, "decided (assign it for review first)")
    if actor.subject in (case.opened_by.subject, case.assessed_by):
        raise Forbidden(
            "DECIDER_IS_MAKER", "a case must be decided by an officer who did not open or assess it"
        )
    to = S.APPROVED if approve else S.REJECTED
    return _move(case, to, actor, now, reason, decided_by=actor.subject, decision_reason=reason)


def require_reference(reference: str) -> str:
    reference = reference.strip()
    if not reference or len(reference) > MAX_REFERENCE_LENGTH or not reference.isprintable():
        raise InvalidInput(
            [
                FieldViolation(
                    "payment_reference",
                    "PAYMENT_REFERENCE_INVALID",
                    f"give 1 to {MAX_REFERENCE_LENGTH} printable characters",
                )
            ]
        )
    return reference


def require_period(period: int) -> int:
    """The 1-based period a payment is for; 0 (unset) is the first."""
    if period < 0:
        raise InvalidInput([FieldViolation("period", "PERIOD_INVALID", "is 1 or more")])
    return period or 1


def already_paid(case: BenefitCase, period: int, reference: str) -> bool:
    """True when this very payment (period and reference) is recorded; the period paid under
    another reference, or the reference used for another period, is refused."""
    for payment in case.payments:
        if payment.period == period:
            if payment.reference != reference:
                raise PreconditionFailed(
                    "ALREADY_PAID", f"period {period} was paid under another reference"
                )
            return True
        if payment.reference == reference:
            raise reference_in_use()
    return False


def reference_in_use() -> PreconditionFailed:
    return PreconditionFailed(
        "PAYMENT_REFERENCE_IN_USE", "the payment reference belongs to another payment"
    )


def check_payable(case: BenefitCase, period: int) -> None:
    """Periods are paid in order, within the case's periods; the first needs an approved case,
    the next a case being paid (not stopped)."""
    if period > case.payment_periods:
        raise PreconditionFailed(
            "PERIOD_BEYOND_ENTITLEMENT",
            f"the case pays {case.payment_periods} period(s); period {period} is beyond them",
        )
    if case.state not in (S.APPROVED, S.PAID):
        raise illegal(case, "paid (only approved cases are)")
    if period != case.periods_paid + 1:
        raise PreconditionFailed(
            "PERIOD_OUT_OF_ORDER", f"period {case.periods_paid + 1} is the next to be paid"
        )


def pay(
    case: BenefitCase, period: int, reference: str, actor: Actor, now: dt.datetime
) -> BenefitCase:
    check_payable(case, period)
    payment = Payment(period, reference, case.period_amount_vnd, now, actor)
    if case.state is S.APPROVED:
        reason = f"payment {reference}"
        if case.payment_periods > 1:
            reason += f" (period 1 of {case.payment_periods})"
        paid = _move(case, S.PAID, actor, now, reason, payment_reference=reference)
    else:
        # A later period: no state changes; the payment is its own record.
        paid = replace(case, payment_reference=reference, updated_at=now, version=case.version + 1)
    return replace(paid, periods_paid=period, payments=(*case.payments, payment))


def withdraw(case: BenefitCase, reason: str, actor: Actor, now: dt.datetime) -> BenefitCase:
    """An undecided case is withdrawn; a case being paid with periods left is stopped (the
    periods paid stand). An approved case not paid yet, or one paid in full, stays as it is."""
    reason = require_reason(reason)
    if case.state.awaiting_decision:
        return _move(case, S.WITHDRAWN, actor, now, reason)
    if case.state is S.PAID and case.periods_left > 0:
        return _move(case, S.STOPPED, actor, now, reason)
    raise illegal(case, "withdrawn")
