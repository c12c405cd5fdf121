"""The benefit-case lifecycle: legal steps only, maker-checker, one payment per period, and
stopping a monthly case being paid."""

from __future__ import annotations

import datetime as dt

import pytest

from services.kit.errors import Forbidden, InvalidInput, PreconditionFailed
from services.welfare.domain import cases
from services.welfare.domain.model import Actor, Assessment, BenefitCase, CaseState, Transition

NOW = dt.datetime(2021, 10, 1, 3, tzinfo=dt.UTC)
MAKER = Actor("maker", "so-lao-dong")
CHECKER = Actor("checker", "so-lao-dong")


def _case(state: CaseState = CaseState.OPEN, periods: int = 1) -> BenefitCase:
    return BenefitCase(
        case_id="c1",
        program_code="P",
        program_version=1,
        beneficiary_id="b",
        subject_id="b",
        ward_code="00070",
        state=state,
        assignee="",
        opened_by=MAKER,
        assessed_by=MAKER.subject,
        decided_by="",
        decision_reason="",
        assessment=Assessment("P", 1, "b", "b", NOW.date(), True, (), None),
        amount_vnd=1_200_000 * periods,
        payment_reference="",
        opened_at=NOW,
        due_at=NOW + dt.timedelta(days=15),
        updated_at=NOW,
        history=(Transition(None, CaseState.OPEN, MAKER, NOW, "opened"),),
        payment_periods=periods,
        # A paid case has its first period paid.
        periods_paid=1 if state is CaseState.PAID else 0,
    )


def test_the_maker_cannot_decide_and_the_checker_can() -> None:
    in_review = cases.assign(_case(), "checker", MAKER, NOW)

    with pytest.raises(Forbidden) as refused:
        cases.decide(in_review, True, "fine", MAKER, NOW)
    approved = cases.decide(in_review, True, "fine", CHECKER, NOW)

    assert refused.value.reason == "DECIDER_IS_MAKER"
    assert approved.state is CaseState.APPROVED
    assert [t.to_state for t in approved.history] == [
        CaseState.OPEN,
        CaseState.IN_REVIEW,
        CaseState.APPROVED,
    ]


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (CaseState.OPEN, lambda c: cases.decide(c, True, "r", CHECKER, NOW)),
        (CaseState.OPEN, lambda c: cases.pay(c, 1, "ref", CHECKER, NOW)),
        (CaseState.WITHDRAWN, lambda c: cases.pay(c, 1, "ref", CHECKER, NOW)),
        (CaseState.REJECTED, lambda c: cases.assign(c, "x", CHECKER, NOW)),
        (CaseState.PAID, lambda c: cases.withdraw(c, "r", CHECKER, NOW)),
        (CaseState.APPROVED, lambda c: cases.withdraw(c, "r", CHECKER, NOW)),
    ],
)
def test_illegal_transitions_are_refused(state: CaseState, step: object) -> None:
    with pytest.raises(PreconditionFailed) as info:
        step(_case(state))  # type: ignore[operator]

    assert info.value.reason == "ILLEGAL_TRANSITION"


def test_the_same_payment_reference_is_one_payment() -> None:
    paid = cases.pay(_case(CaseState.APPROVED), 1, "KB-1", CHECKER, NOW)

    assert cases.already_paid(paid, 1, "KB-1")
    assert not cases.already_paid(_case(CaseState.APPROVED), 1, "KB-1")
    with pytest.raises(PreconditionFailed) as info:
        cases.already_paid(paid, 1, "KB-2")
    assert info.value.reason == "ALREADY_PAID"
    assert (paid.state, paid.periods_paid, paid.payment_reference) == (CaseState.PAID, 1, "KB-1")
    assert [(p.period, p.reference, p.amount_vnd) for p in paid.payments] == [
        (1, "KB-1", 1_200_000)
    ]


def test_a_one_time_case_has_exactly_one_payment() -> None:
    paid = cases.pay(_case(CaseState.APPROVED), 1, "KB-1", CHECKER, NOW)

    with pytest.raises(PreconditionFailed) as beyond:
        cases.pay(paid, 2, "KB-2", CHECKER, NOW)
    with pytest.raises(PreconditionFailed) as stop:
        cases.withdraw(paid, "death revoked", CHECKER, NOW)

    assert beyond.value.reason == "PERIOD_BEYOND_ENTITLEMENT"
    # Paid in full: nothing is left to stop.
    assert stop.value.reason == "ILLEGAL_TRANSITION"


def test_a_monthly_case_is_paid_period_by_period_in_order_within_its_months() -> None:
    approved = _case(CaseState.APPROVED, periods=3)
    later = NOW + dt.timedelta(days=31)

    with pytest.raises(PreconditionFailed) as skipped:
        cases.pay(approved, 2, "KB-2", CHECKER, NOW)
    first = cases.pay(approved, 1, "KB-1", CHECKER, NOW)
    second = cases.pay(first, 2, "KB-2", CHECKER, later)
    third = cases.pay(second, 3, "KB-3", CHECKER, later)
    with pytest.raises(PreconditionFailed) as beyond:
        cases.pay(third, 4, "KB-4", CHECKER, later)

    assert skipped.value.reason == "PERIOD_OUT_OF_ORDER"
    assert beyond.value.reason == "PERIOD_BEYOND_ENTITLEMENT"
    # The first payment moves the case to PAID; later ones change no state but the case's
    # version (its etag) and its payments.
    assert [t.to_state for t in third.history] == [CaseState.OPEN, CaseState.PAID]
    assert third.history[-1].reason == "payment KB-1 (period 1 of 3)"
    assert (third.state, third.periods_paid, third.periods_left) == (CaseState.PAID, 3, 0)
    assert (first.version, second.version, third.version) == (2, 3, 4)
    assert [(p.period, p.reference, p.amount_vnd, p.recorded_at) for p in third.payments] == [
        (1, "KB-1", 1_200_000, NOW),
        (2, "KB-2", 1_200_000, later),
        (3, "KB-3", 1_200_000, later),
    ]


def test_a_period_paid_again_is_the_payment_recorded_or_refused() -> None:
    first = cases.pay(_case(CaseState.APPROVED, periods=3), 1, "KB-1", CHECKER, NOW)
    second = cases.pay(first, 2, "KB-2", CHECKER, NOW)

    assert cases.already_paid(second, 2, "KB-2")
    assert not cases.already_paid(second, 3, "KB-3")
    with pytest.raises(PreconditionFailed) as other_reference:
        cases.already_paid(second, 2, "KB-2-bis")
    with pytest.raises(PreconditionFailed) as reused:
        cases.already_paid(second, 3, "KB-1")

    assert other_reference.value.reason == "ALREADY_PAID"
    assert reused.value.reason == "PAYMENT_REFERENCE_IN_USE"


def test_a_monthly_case_being_paid_is_stopped_and_pays_no_more() -> None:
    first = cases.pay(_case(CaseState.APPROVED, periods=3), 1, "KB-1", CHECKER, NOW)

    stopped = cases.withdraw(first, "death revoked", CHECKER, NOW)
    with pytest.raises(PreconditionFailed) as after:
        cases.pay(stopped, 2, "KB-2", CHECKER, NOW)
    with pytest.raises(PreconditionFailed) as again:
        cases.withdraw(stopped, "again", CHECKER, NOW)
    with pytest.raises(PreconditionFailed) as unpaid:
        cases.withdraw(_case(CaseState.APPROVED, periods=3), "r", CHECKER, NOW)

    assert stopped.state is CaseState.STOPPED
    assert stopped.history[-1] == Transition(
        CaseState.PAID, CaseState.STOPPED, CHECKER, NOW, "death revoked"
    )
    # The periods paid stand, and the claim stays taken.
    assert (stopped.periods_paid, len(stopped.payments)) == (1, 1)
    assert stopped.state.active
    assert after.value.reason == "ILLEGAL_TRANSITION"
    assert again.value.reason == "ILLEGAL_TRANSITION"
    # Approved but not paid yet: welfare's payment re-check guards it, as before.
    assert unpaid.value.reason == "ILLEGAL_TRANSITION"


def test_a_period_must_be_positive() -> None:
    assert cases.require_period(0) == 1
    assert cases.require_period(4) == 4
    with pytest.raises(InvalidInput) as info:
        cases.require_period(-1)
    assert info.value.violations[0].reason == "PERIOD_INVALID"


def test_a_decision_needs_a_reason_and_overdue_needs_a_pending_case() -> None:
    with pytest.raises(InvalidInput):
        cases.decide(cases.assign(_case(), "c", MAKER, NOW), False, "  ", CHECKER, NOW)

    late = NOW + dt.timedelta(days=16)
    assert _case().overdue(late)
    assert not _case(CaseState.APPROVED).overdue(late)
