"""The benefit-case lifecycle: legal steps only, maker-checker, one payment."""

from __future__ import annotations

import datetime as dt

import pytest

from services.kit.errors import Forbidden, InvalidInput, PreconditionFailed
from services.welfare.domain import cases
from services.welfare.domain.model import Actor, Assessment, BenefitCase, CaseState, Transition

NOW = dt.datetime(2021, 10, 1, 3, tzinfo=dt.UTC)
MAKER = Actor("maker", "so-lao-dong")
CHECKER = Actor("checker", "so-lao-dong")


def _case(state: CaseState = CaseState.OPEN) -> BenefitCase:
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
        amount_vnd=1,
        payment_reference="",
        opened_at=NOW,
        due_at=NOW + dt.timedelta(days=15),
        updated_at=NOW,
        history=(Transition(None, CaseState.OPEN, MAKER, NOW, "opened"),),
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
        (CaseState.OPEN, lambda c: cases.pay(c, "ref", CHECKER, NOW)),
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
    paid = cases.pay(_case(CaseState.APPROVED), "KB-1", CHECKER, NOW)

    assert cases.already_paid(paid, "KB-1")
    assert not cases.already_paid(_case(CaseState.APPROVED), "KB-1")
    with pytest.raises(PreconditionFailed) as info:
        cases.already_paid(paid, "KB-2")
    assert info.value.reason == "ALREADY_PAID"


def test_a_decision_needs_a_reason_and_overdue_needs_a_pending_case() -> None:
    with pytest.raises(InvalidInput):
        cases.decide(cases.assign(_case(), "c", MAKER, NOW), False, "  ", CHECKER, NOW)

    late = NOW + dt.timedelta(days=16)
    assert _case().overdue(late)
    assert not _case(CaseState.APPROVED).overdue(late)
