"""The benefit-case workflow: waits for officers under SLA timers, then pays an approved case.

Officers act through the welfare API, which forwards their acts on the case to this workflow as
Updates (``assign``, ``decide``, ``request_documents``). Each validator refuses an act the
case's state or maker-checker forbids before it enters the history, and the officer hears the
refusal from welfare. The handler of an accepted assignment or decision records it in welfare
in the officer's name (``record_act``, request id ``<workflow id>:<update id>``), so the act is
durable once accepted, whoever forwarded it. Runs from before that change confirmed instead
that welfare already showed an act it had recorded (``confirm_case``); they replay as they ran.

A monthly case is paid its first period on approval, then one period on the 1st of each month
(00:00 Vietnam time), each after welfare checks eligibility again, until its last period, until
the beneficiary is no longer eligible or until it is withdrawn (then welfare records it
STOPPED). Every ``payments_per_run`` payments the run continues as new with its progress.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import replace
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.benefit_case.models import (
        ASSIGN,
        DECIDE,
        MONTHLY_PAYMENTS,
        REQUEST_DOCUMENTS,
        WITHDRAW,
        WORKFLOW,
        ActToRecord,
        Assignment,
        CaseClosed,
        CaseOpened,
        CaseProgress,
        Decision,
        Disbursement,
        DocumentsRequest,
        Expected,
        Notice,
        Withdrawal,
    )
    from workflows.retries import CALL_TIMEOUT, SERVICE_RETRY, VIETNAM

UNDECIDED = ("OPEN", "IN_REVIEW")
SETTLED = ("APPROVED", "REJECTED", "WITHDRAWN")
# Officers' acts come forwarded by welfare: an accepted one is recorded in welfare by the
# handler (``record_act``) instead of confirmed after welfare recorded it (``confirm_case``).
RECORDS_ACTS = "record-officer-acts"


def _first_of_next_month(moment: dt.datetime) -> dt.datetime:
    """When the next monthly payment is due: 00:00 on the 1st of the month after ``moment``'s,
    Vietnam time."""
    local = moment.astimezone(VIETNAM)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return dt.datetime(year, month, 1, tzinfo=VIETNAM)


def _refuse(reason: str, message: str) -> ApplicationError:
    """A validator's refusal: the caller sees the reason, the history never holds the act."""
    return ApplicationError(message, reason, type="FAILED_PRECONDITION", non_retryable=True)


@workflow.defn(name=WORKFLOW)
class BenefitCase:
    @workflow.init
    def __init__(self, case: CaseOpened) -> None:
        self._case = case
        # A run continued as new goes on from the progress of the run before.
        self._progress = case.resume or CaseProgress(case.case_id, "OPEN")
        # An officer's act being confirmed with welfare: a second one waits its turn.
        self._acting = False
        self._withdrawal = ""

    @workflow.run
    async def run(self, case: CaseOpened) -> CaseClosed:
        if case.resume is not None:
            closed = await self._pay_monthly(case, paid_in_run=0)
            await workflow.wait_condition(workflow.all_handlers_finished)
            return closed
        opened = workflow.now()
        for kind, after in (
            ("reminder", case.remind_after_seconds),
            ("escalation", case.escalate_after_seconds),
        ):
            remaining = opened + dt.timedelta(seconds=after) - workflow.now()
            if remaining > dt.timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(self._settled, timeout=remaining)
            if self._settled():
                break
            await self._notify(kind, after)
        await workflow.wait_condition(lambda: self._settled() and not self._acting)
        closed = await self._close(case)
        # Updates still running finish before the workflow does.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return closed

    def _settled(self) -> bool:
        return bool(self._withdrawal) or self._progress.state in SETTLED

    async def _notify(self, kind: str, after_seconds: int) -> None:
        # The assignee is reminded (the ward's queue when no one is assigned yet); a
        # supervisor hears of an escalation.
        if kind == "reminder":
            recipient = self._progress.assignee or f"queue:{self._case.program_code}"
        else:
            recipient = "supervisor"
        await workflow.execute_activity(
            "notify_officers",
            Notice(self._case.case_id, kind, recipient, after_seconds),
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=SERVICE_RETRY,
        )
        line = f"{workflow.now().isoformat()} {recipient}"
        (self._progress.reminders if kind == "reminder" else self._progress.escalations).append(
            line
        )
        self._progress.events.append(f"{kind} sent to {recipient}")

    async def _close(self, case: CaseOpened) -> CaseClosed:
        wid = workflow.info().workflow_id
        progress = self._progress
        if self._withdrawal:
            if progress.state in UNDECIDED:
                refusal = await self._refusal_of(
                    "withdraw_case",
                    Withdrawal(case.case_id, self._withdrawal, f"{wid}:withdraw"),
                )
                if refusal:
                    # An officer decided the case in welfare before the withdrawal came: the
                    # record stands (welfare's payment re-check refuses an approval whose
                    # ground fell away).
                    progress.events.append(f"welfare kept the case: {refusal}")
            # An approved case not paid yet is not paid; a rejected one stays rejected.
            if progress.state != "REJECTED":
                progress.state = "WITHDRAWN"
                progress.events.append(f"withdrawn: {self._withdrawal}")
            return CaseClosed(case.case_id, progress.state, reason=self._withdrawal)
        if progress.state == "REJECTED":
            return CaseClosed(case.case_id, "REJECTED")
        # Approved: eligibility again (a death revoked, a beneficiary deceased since), then
        # the payment, whose reference makes a retried or replayed disbursement one payment.
        eligible = await workflow.execute_activity(
            "recheck_eligibility",
            case,
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=SERVICE_RETRY,
            result_type=bool,
        )
        if not eligible:
            progress.state = "PAYMENT_BLOCKED"
            progress.events.append("payment blocked: no longer eligible")
            return CaseClosed(case.case_id, "PAYMENT_BLOCKED", reason="NO_LONGER_ELIGIBLE")
        reference = f"{wid}:payment-1"
        refusal = await self._refusal_of(
            "disburse",
            Disbursement(
                case.case_id,
                case.program_code,
                case.beneficiary_citizen_id,
                case.subject_citizen_id,
                reference,
                reference,
            ),
        )
        if refusal:
            # Welfare checks eligibility again when it records the payment: a change between
            # the two checks (a death revoked, the beneficiary deceased) blocks it there.
            progress.state = "PAYMENT_BLOCKED"
            progress.events.append(f"payment refused by welfare: {refusal}")
            return CaseClosed(case.case_id, "PAYMENT_BLOCKED", reason=refusal)
        progress.state = "PAID"
        progress.payment_reference = reference
        progress.periods_paid = 1
        # Runs recorded before monthly payments paid a monthly case's first period only.
        if case.units > 1 and workflow.patched(MONTHLY_PAYMENTS):
            progress.events.append(self._paid_line(1, reference))
            return await self._pay_monthly(case, paid_in_run=1)
        progress.events.append(f"paid {case.amount_vnd} VND as {reference}")
        return CaseClosed(case.case_id, "PAID", reference)

    def _paid_line(self, period: int, reference: str) -> str:
        day = workflow.now().astimezone(VIETNAM).date().isoformat()
        return f"paid period {period} of {self._case.units} on {day} as {reference}"

    async def _pay_monthly(self, case: CaseOpened, paid_in_run: int) -> CaseClosed:
        """The periods after the first, one on the 1st of each month; continues as new after
        ``payments_per_run`` payments in a run."""
        wid = workflow.info().workflow_id
        progress = self._progress
        while progress.periods_paid < case.units:
            # A withdrawal that came during a payment is not carried into the next run.
            if self._withdrawal:
                return await self._stop(case, self._withdrawal)
            if paid_in_run >= max(case.payments_per_run, 1):
                progress.earlier_runs += 1
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(replace(case, resume=progress))
            due = _first_of_next_month(workflow.now())
            progress.next_payment_at = due.isoformat()
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._withdrawal), timeout=due - workflow.now()
                )
            progress.next_payment_at = ""
            if self._withdrawal:
                return await self._stop(case, self._withdrawal)
            # Eligibility is checked again by welfare as it records the payment, under the
            # case's program version and its validity as of the case's assessment; the
            # CheckEligibility of the first payment applies today's version and validity,
            # which would end a years-long support when its program closes to new claims.
            period = progress.periods_paid + 1
            # One reference per period: a retried or replayed payment is the same payment.
            reference = f"{wid}:payment-{period}"
            refusal = await self._refusal_of(
                "disburse",
                Disbursement(
                    case.case_id,
                    case.program_code,
                    case.beneficiary_citizen_id,
                    case.subject_citizen_id,
                    reference,
                    reference,
                    period,
                ),
            )
            if refusal:
                # The beneficiary died or is no longer eligible (or an officer stopped the
                # case): no later period is paid.
                return await self._stop(case, refusal)
            progress.periods_paid = period
            progress.payment_reference = reference
            progress.events.append(self._paid_line(period, reference))
            paid_in_run += 1
        return CaseClosed(case.case_id, "PAID", progress.payment_reference)

    async def _stop(self, case: CaseOpened, reason: str) -> CaseClosed:
        """A monthly case stops before its last period: welfare records it STOPPED (who, why);
        the periods paid stand."""
        progress = self._progress
        refusal = await self._refusal_of(
            "withdraw_case",
            Withdrawal(case.case_id, reason, f"{workflow.info().workflow_id}:stop"),
        )
        if refusal:
            # An officer stopped it in welfare first: that record stands.
            progress.events.append(f"welfare kept the case: {refusal}")
        progress.state = "STOPPED"
        progress.events.append(
            f"stopped after {progress.periods_paid} of {case.units} periods: {reason}"
        )
        return CaseClosed(case.case_id, "STOPPED", progress.payment_reference, reason)

    async def _refusal_of(self, activity: str, arg: Any) -> str:
        """Runs ``activity``; a refusal no retry can change is returned as its reason ("" when
        it succeeded). Other failures are retried without end by the policy."""
        try:
            await workflow.execute_activity(
                activity, arg, start_to_close_timeout=CALL_TIMEOUT, retry_policy=SERVICE_RETRY
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                return cause.message
            raise
        return ""

    async def _confirm(self, expected: Expected) -> None:
        await workflow.execute_activity(
            "confirm_case",
            expected,
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=SERVICE_RETRY,
        )

    async def _record(self, act: ActToRecord) -> None:
        try:
            await workflow.execute_activity(
                "record_act", act, start_to_close_timeout=CALL_TIMEOUT, retry_policy=SERVICE_RETRY
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                # Welfare refused to record it (its record disagrees with this workflow's):
                # the update fails with welfare's status and reason; the state stays.
                raise ApplicationError(
                    cause.message, *cause.details, type=cause.type, non_retryable=True
                ) from None
            raise

    def _act_request_id(self) -> str:
        update = workflow.current_update_info()
        assert update is not None  # called from update handlers only
        return f"{workflow.info().workflow_id}:{update.id}"

    def _refuse_while_acting(self) -> None:
        # An act arriving while another is being recorded is refused before it enters the
        # history (validators do not run again on replay, so this changes no recorded run).
        if self._acting:
            raise _refuse("CASE_BUSY", "another officer's act on this case is being recorded")

    def _begin(self) -> None:
        # Validators run before the handlers they admit, so two acts admitted together are
        # taken one by one here: the second sees the first's result.
        if self._acting:
            raise _refuse("CASE_BUSY", "another officer's act on this case is being recorded")
        self._acting = True

    @workflow.update(name=ASSIGN)
    async def assign(self, assignment: Assignment) -> CaseProgress:
        self._begin()
        try:
            self._check_assign(assignment)
            if workflow.patched(RECORDS_ACTS):
                await self._record(
                    ActToRecord(
                        self._case.case_id,
                        self._act_request_id(),
                        assignment.officer,
                        assignment.agency,
                        ASSIGN,
                        assignee=assignment.assignee,
                        officer_request_id=assignment.request_id,
                        officer_request_fingerprint=assignment.request_fingerprint,
                    )
                )
            else:
                await self._confirm(
                    Expected(self._case.case_id, "IN_REVIEW", assignee=assignment.assignee)
                )
            self._progress.state = "IN_REVIEW"
            self._progress.assignee = assignment.assignee
            self._progress.events.append(
                f"assigned to {assignment.assignee} by {assignment.officer}"
            )
        finally:
            self._acting = False
        return self._progress

    @assign.validator
    def _validate_assign(self, assignment: Assignment) -> None:
        self._refuse_while_acting()
        self._check_assign(assignment)

    def _check_assign(self, assignment: Assignment) -> None:
        if self._withdrawal or self._progress.state not in UNDECIDED:
            raise _refuse("CASE_NOT_ASSIGNABLE", f"a case {self._progress.state} is not assigned")
        if not assignment.assignee.strip() or not assignment.officer.strip():
            raise ApplicationError(
                "officer and assignee are required",
                "ASSIGNEE_REQUIRED",
                type="INVALID_ARGUMENT",
                non_retryable=True,
            )

    @workflow.update(name=DECIDE)
    async def decide(self, decision: Decision) -> CaseProgress:
        self._begin()
        try:
            self._check_decide(decision)
            state = "APPROVED" if decision.approve else "REJECTED"
            if workflow.patched(RECORDS_ACTS):
                await self._record(
                    ActToRecord(
                        self._case.case_id,
                        self._act_request_id(),
                        decision.officer,
                        decision.agency,
                        DECIDE,
                        approve=decision.approve,
                        reason=decision.reason,
                        officer_request_id=decision.request_id,
                        officer_request_fingerprint=decision.request_fingerprint,
                    )
                )
            else:
                await self._confirm(
                    Expected(self._case.case_id, state, decided_by=decision.officer)
                )
            self._progress.state = state
            self._progress.decided_by = decision.officer
            self._progress.events.append(
                f"{state.lower()} by {decision.officer}: {decision.reason}"
            )
        finally:
            self._acting = False
        return self._progress

    @decide.validator
    def _validate_decide(self, decision: Decision) -> None:
        self._refuse_while_acting()
        self._check_decide(decision)

    def _check_decide(self, decision: Decision) -> None:
        if self._withdrawal or self._progress.state != "IN_REVIEW":
            raise _refuse(
                "CASE_NOT_IN_REVIEW",
                f"a case {self._progress.state} is not decided (assign it for review first)",
            )
        if decision.officer in (self._case.opened_by, self._case.assessed_by):
            raise ApplicationError(
                "a case must be decided by an officer who did not open or assess it",
                "DECIDER_IS_MAKER",
                type="PERMISSION_DENIED",
                non_retryable=True,
            )
        if not decision.officer.strip() or not decision.reason.strip():
            raise ApplicationError(
                "officer and reason are required",
                "REASON_REQUIRED",
                type="INVALID_ARGUMENT",
                non_retryable=True,
            )

    @workflow.update(name=REQUEST_DOCUMENTS)
    def request_documents(self, request: DocumentsRequest) -> CaseProgress:
        # Welfare keeps no document requests: the workflow's history is their record.
        self._progress.documents_requested.extend(request.documents)
        self._progress.events.append(
            f"documents requested by {request.officer}: {', '.join(request.documents)}"
            f" ({request.reason})"
        )
        return self._progress

    @request_documents.validator
    def _validate_request_documents(self, request: DocumentsRequest) -> None:
        if self._withdrawal or self._progress.state not in UNDECIDED:
            raise _refuse("CASE_DECIDED", f"a case {self._progress.state} needs no more documents")
        if not request.documents or not request.officer.strip():
            raise ApplicationError(
                "officer and documents are required",
                "DOCUMENTS_REQUIRED",
                type="INVALID_ARGUMENT",
                non_retryable=True,
            )

    @workflow.signal(name=WITHDRAW)
    def withdraw(self, reason: str) -> None:
        """The case's ground fell away (a revoked death): stop waiting; nothing unpaid is
        paid (a monthly case being paid stops)."""
        paid_in_full = (
            self._progress.state == "PAID" and self._progress.periods_paid >= self._case.units
        )
        if not paid_in_full and not self._withdrawal:
            self._withdrawal = reason or "withdrawn"

    @workflow.query
    def progress(self) -> CaseProgress:
        return self._progress
