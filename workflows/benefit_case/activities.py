"""The benefit case's activities: welfare over gRPC, and the officers' notices."""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.benefit_case.models import (
    ASSIGN,
    ActToRecord,
    CaseOpened,
    Disbursement,
    Expected,
    Notice,
    Withdrawal,
)
from workflows.gateways.welfare import WelfareGateway

logger = logging.getLogger(__name__)


class BenefitCaseActivities:
    def __init__(self, welfare: WelfareGateway) -> None:
        self._welfare = welfare

    @activity.defn(name="record_act")
    async def record_act(self, act: ActToRecord) -> None:
        """Records an accepted act in welfare in the officer's name; welfare's refusal (its
        record disagrees) fails the update with welfare's reason."""
        await self._welfare.record_act(
            act.case_id,
            act.request_id,
            act.officer,
            act.agency,
            act.officer_request_id,
            act.officer_request_fingerprint,
            assignee=act.assignee,
            decision=None if act.kind == ASSIGN else (act.approve, act.reason),
        )

    @activity.defn(name="confirm_case")
    async def confirm_case(self, expected: Expected) -> None:
        """Welfare must show the officer's act the update reports; otherwise the update fails
        and the workflow's state stays as welfare's (runs from before acts were forwarded)."""
        case = await self._welfare.case(expected.case_id)
        agrees = case.state == expected.state
        if expected.assignee:
            agrees = agrees and case.assignee == expected.assignee
        if expected.decided_by:
            agrees = agrees and case.decided_by == expected.decided_by
        if not agrees:
            raise ApplicationError(
                "the benefit case in welfare does not show this act",
                "WELFARE_DISAGREES",
                type="FAILED_PRECONDITION",
                non_retryable=True,
            )

    @activity.defn(name="notify_officers")
    async def notify_officers(self, notice: Notice) -> None:
        # dancu has no messaging service: the notice is logged for the officers' tooling, and
        # the workflow's progress keeps it. The case id names no resident.
        logger.warning(
            "benefit case %s: %s to %s after %ss without a decision",
            notice.case_id,
            notice.kind,
            notice.recipient,
            notice.overdue_seconds,
        )

    @activity.defn(name="recheck_eligibility")
    async def recheck_eligibility(self, case: CaseOpened) -> bool:
        eligible = await self._welfare.eligible_programs(
            case.beneficiary_citizen_id, case.subject_citizen_id, case.program_code
        )
        return case.program_code in eligible

    @activity.defn(name="disburse")
    async def disburse(self, payment: Disbursement) -> str:
        """Records the period's payment under its reference: a retry, or a replay after a
        crash, finds the period paid under the same reference and pays nothing more."""
        paid = await self._welfare.record_payment(
            payment.case_id, payment.payment_reference, payment.request_id, payment.period
        )
        return paid.payment_reference

    @activity.defn(name="withdraw_case")
    async def withdraw_case(self, withdrawal: Withdrawal) -> None:
        """Withdraws an undecided case, or stops a monthly case being paid."""
        await self._welfare.withdraw(withdrawal.case_id, withdrawal.reason, withdrawal.request_id)
