"""The benefit-case workflow on the time-skipping test server, with recording activities in
place of welfare: its SLA timers, officers' acts as validated Updates recorded in welfare by
their handlers, payment and withdrawal. (Through the real welfare service:
tests/integration/test_welfare_officer_acts.py and test_workflow_death.py.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.benefit_case.models import (
    ASSIGN,
    DECIDE,
    REQUEST_DOCUMENTS,
    WITHDRAW,
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
    workflow_id,
)
from workflows.benefit_case.workflow import BenefitCase

DAY = 24 * 3600
OPENER = "svc-workflows"
ASSESSOR = "svc-workflows"


class RecordingWelfare:
    """Stands in for welfare: agrees with every act, records what the workflow did and when."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        *,
        eligible: bool = True,
        refuse_payment: str = "",
        refuse_withdrawal: str = "",
        refuse_act: str = "",
    ) -> None:
        self._env = env
        self.eligible = eligible
        self.refuse_act = refuse_act
        self.recorded: list[ActToRecord] = []
        # Set: record_act waits for it (an act held while being recorded).
        self.hold: asyncio.Event | None = None
        self.recording = asyncio.Event()
        self.refuse_payment = refuse_payment
        self.refuse_withdrawal = refuse_withdrawal
        self.confirmed: list[Expected] = []
        self.notices: list[tuple[Notice, dt.datetime]] = []
        self.payments: list[Disbursement] = []
        self.withdrawals: list[Withdrawal] = []

    @activity.defn(name="record_act")
    async def record_act(self, act: ActToRecord) -> None:
        self.recording.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.refuse_act:
            raise ApplicationError(
                self.refuse_act, self.refuse_act, type="FAILED_PRECONDITION", non_retryable=True
            )
        self.recorded.append(act)

    @activity.defn(name="confirm_case")
    async def confirm_case(self, expected: Expected) -> None:
        self.confirmed.append(expected)

    @activity.defn(name="notify_officers")
    async def notify_officers(self, notice: Notice) -> None:
        self.notices.append((notice, await self._env.get_current_time()))

    @activity.defn(name="recheck_eligibility")
    async def recheck_eligibility(self, case: CaseOpened) -> bool:
        return self.eligible

    @activity.defn(name="disburse")
    async def disburse(self, payment: Disbursement) -> str:
        if self.refuse_payment:
            # As the gateway raises welfare's refusal.
            raise ApplicationError(
                self.refuse_payment,
                self.refuse_payment,
                type="FAILED_PRECONDITION",
                non_retryable=True,
            )
        self.payments.append(payment)
        return payment.payment_reference

    @activity.defn(name="withdraw_case")
    async def withdraw_case(self, withdrawal: Withdrawal) -> None:
        self.withdrawals.append(withdrawal)
        if self.refuse_withdrawal:
            raise ApplicationError(
                self.refuse_withdrawal,
                self.refuse_withdrawal,
                type="FAILED_PRECONDITION",
                non_retryable=True,
            )


@asynccontextmanager
async def _worker(env: WorkflowEnvironment, welfare: RecordingWelfare) -> AsyncIterator[str]:
    queue = f"benefit-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[BenefitCase],
        activities=[
            welfare.record_act,
            welfare.confirm_case,
            welfare.notify_officers,
            welfare.recheck_eligibility,
            welfare.disburse,
            welfare.withdraw_case,
        ],
    ):
        yield queue


def _case(remind_days: int = 3, escalate_days: int = 7) -> CaseOpened:
    return CaseOpened(
        case_id=str(uuid.uuid4()),
        program_code="COVID19_FUNERAL_SUPPORT",
        beneficiary_citizen_id="001187000001",
        subject_citizen_id="001085000001",
        amount_vnd=10_000_000,
        opened_by=OPENER,
        assessed_by=ASSESSOR,
        remind_after_seconds=remind_days * DAY,
        escalate_after_seconds=escalate_days * DAY,
    )


async def _start(
    env: WorkflowEnvironment, queue: str, case: CaseOpened
) -> WorkflowHandle[BenefitCase, CaseClosed]:
    return await env.client.start_workflow(
        BenefitCase.run, case, id=workflow_id(case.case_id), task_queue=queue
    )


async def _progress(handle: WorkflowHandle[BenefitCase, CaseClosed]) -> CaseProgress:
    return await handle.query(BenefitCase.progress)


async def test_an_undecided_case_reminds_the_assignee_then_escalates(
    time_skipping: WorkflowEnvironment,
) -> None:
    welfare = RecordingWelfare(time_skipping)
    case = _case(remind_days=3, escalate_days=7)
    async with _worker(time_skipping, welfare) as queue:
        started_at = await time_skipping.get_current_time()
        handle = await _start(time_skipping, queue, case)
        await handle.execute_update(ASSIGN, Assignment("officer-hk-01", "officer-hk-02"))
        await time_skipping.sleep(dt.timedelta(days=2))
        assert (await _progress(handle)).reminders == []
        await time_skipping.sleep(dt.timedelta(days=2))
        after_four_days = await _progress(handle)
        assert len(after_four_days.reminders) == 1
        assert after_four_days.escalations == []
        await time_skipping.sleep(dt.timedelta(days=4))
        after_eight_days = await _progress(handle)
        await handle.signal(WITHDRAW, "test ends the case")
        closed = await handle.result()
    assert len(after_eight_days.escalations) == 1
    [(reminder, reminded_at), (escalation, escalated_at)] = welfare.notices
    assert (reminder.kind, reminder.recipient) == ("reminder", "officer-hk-02")
    assert (escalation.kind, escalation.recipient) == ("escalation", "supervisor")
    # The timers, not the updates or queries, sent them: at three and seven days.
    assert dt.timedelta(days=3) <= reminded_at - started_at < dt.timedelta(days=4)
    assert dt.timedelta(days=7) <= escalated_at - started_at < dt.timedelta(days=8)
    # Withdrawn while in review: welfare is told, nothing is paid.
    assert closed.state == "WITHDRAWN"
    assert [w.request_id for w in welfare.withdrawals] == [f"{handle.id}:withdraw"]
    assert welfare.payments == []


async def test_acts_out_of_turn_or_by_the_maker_are_refused_before_the_history(
    time_skipping: WorkflowEnvironment,
) -> None:
    welfare = RecordingWelfare(time_skipping)
    case = _case()
    async with _worker(time_skipping, welfare) as queue:
        handle = await _start(time_skipping, queue, case)
        with pytest.raises(WorkflowUpdateFailedError) as early:
            await handle.execute_update(DECIDE, Decision("officer-hk-03", True, "đủ hồ sơ"))
        await handle.execute_update(ASSIGN, Assignment("officer-hk-01", "officer-hk-02"))
        with pytest.raises(WorkflowUpdateFailedError) as by_maker:
            await handle.execute_update(DECIDE, Decision(OPENER, True, "tự duyệt"))
        await handle.execute_update(
            REQUEST_DOCUMENTS,
            DocumentsRequest("officer-hk-02", ["giấy chứng tử"], "thiếu giấy chứng tử"),
        )
        decided = await handle.execute_update(
            DECIDE, Decision("officer-hk-03", True, "đủ hồ sơ"), result_type=CaseProgress
        )
        closed = await handle.result()
        history = await handle.fetch_history()
    for refused, reason in ((early, "CASE_NOT_IN_REVIEW"), (by_maker, "DECIDER_IS_MAKER")):
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.details == (reason,)
    # Only the three admitted acts entered the history.
    accepted = [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    names = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in accepted
    ]
    assert names == [ASSIGN, REQUEST_DOCUMENTS, DECIDE]
    assert decided.state == "APPROVED"
    assert decided.documents_requested == ["giấy chứng tử"]
    # The two acts welfare keeps were recorded there by their handlers, each under the
    # workflow's id and the update's; the workflow no longer waits for welfare to show them.
    update_ids = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for e in accepted
    ]
    assert [(a.kind, a.officer, a.request_id) for a in welfare.recorded] == [
        (ASSIGN, "officer-hk-01", f"{handle.id}:{update_ids[0]}"),
        (DECIDE, "officer-hk-03", f"{handle.id}:{update_ids[2]}"),
    ]
    assert welfare.recorded[0].assignee == "officer-hk-02"
    assert welfare.confirmed == []
    # Paid once, under the case's own reference; decided before three days: no reminder.
    reference = f"{workflow_id(case.case_id)}:payment-1"
    assert closed == CaseClosed(case.case_id, "PAID", reference)
    assert [(p.payment_reference, p.request_id) for p in welfare.payments] == [
        (reference, reference)
    ]
    assert welfare.notices == []


async def test_an_approved_case_no_longer_eligible_is_not_paid(
    time_skipping: WorkflowEnvironment,
) -> None:
    welfare = RecordingWelfare(time_skipping, eligible=False)
    case = _case()
    async with _worker(time_skipping, welfare) as queue:
        handle = await _start(time_skipping, queue, case)
        await handle.execute_update(ASSIGN, Assignment("officer-hk-01", "officer-hk-02"))
        await handle.execute_update(DECIDE, Decision("officer-hk-03", True, "đủ hồ sơ"))
        closed = await handle.result()
    assert closed.state == "PAYMENT_BLOCKED"
    assert welfare.payments == []


async def test_a_payment_welfare_refuses_blocks_the_case_instead_of_failing_it(
    time_skipping: WorkflowEnvironment,
) -> None:
    # Eligible at the workflow's check, no longer at welfare's own (a death revoked between).
    welfare = RecordingWelfare(time_skipping, refuse_payment="NO_LONGER_ELIGIBLE")
    case = _case()
    async with _worker(time_skipping, welfare) as queue:
        handle = await _start(time_skipping, queue, case)
        await handle.execute_update(ASSIGN, Assignment("officer-hk-01", "officer-hk-02"))
        await handle.execute_update(DECIDE, Decision("officer-hk-03", True, "đủ hồ sơ"))
        closed = await handle.result()
        progress = await _progress(handle)
    assert closed == CaseClosed(case.case_id, "PAYMENT_BLOCKED", reason="NO_LONGER_ELIGIBLE")
    assert progress.events[-1] == "payment refused by welfare: NO_LONGER_ELIGIBLE"
    assert welfare.payments == []


async def test_a_withdrawal_welfare_refuses_leaves_the_record_and_pays_nothing(
    time_skipping: WorkflowEnvironment,
) -> None:
    # An officer decided the case in welfare just before the death was revoked.
    welfare = RecordingWelfare(time_skipping, refuse_withdrawal="CASE_STATE_INVALID")
    case = _case()
    async with _worker(time_skipping, welfare) as queue:
        handle = await _start(time_skipping, queue, case)
        await handle.signal(WITHDRAW, "death revoked")
        closed = await handle.result()
        progress = await _progress(handle)
    assert closed.state == "WITHDRAWN"
    assert len(welfare.withdrawals) == 1
    assert "welfare kept the case: CASE_STATE_INVALID" in progress.events
    assert welfare.payments == []


async def test_an_act_welfare_refuses_to_record_fails_the_update_and_changes_nothing(
    time_skipping: WorkflowEnvironment,
) -> None:
    # Welfare's record disagrees with the workflow's view (a case withdrawn there meanwhile).
    welfare = RecordingWelfare(time_skipping, refuse_act="ILLEGAL_TRANSITION")
    case = _case()
    async with _worker(time_skipping, welfare) as queue:
        handle = await _start(time_skipping, queue, case)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ASSIGN, Assignment("officer-hk-01", "officer-hk-02"))
        progress = await _progress(handle)
        await handle.signal(WITHDRAW, "test ends the case")
        await handle.result()
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.details) == ("FAILED_PRECONDITION", ("ILLEGAL_TRANSITION",))
    assert (progress.state, progress.assignee) == ("OPEN", "")
    assert welfare.recorded == []


async def test_an_act_arriving_while_another_is_recorded_is_refused_before_the_history(
    time_skipping: WorkflowEnvironment,
) -> None:
    welfare = RecordingWelfare(time_skipping)
    welfare.hold = asyncio.Event()
    case = _case()
    async with _worker(time_skipping, welfare) as queue:
        handle = await _start(time_skipping, queue, case)
        first = asyncio.create_task(
            handle.execute_update(ASSIGN, Assignment("officer-hk-01", "officer-hk-02"))
        )
        await asyncio.wait_for(welfare.recording.wait(), 10)
        with pytest.raises(WorkflowUpdateFailedError) as busy:
            await handle.execute_update(ASSIGN, Assignment("officer-hk-03", "officer-hk-03"))
        welfare.hold.set()
        await first
        await handle.signal(WITHDRAW, "test ends the case")
        await handle.result()
        history = await handle.fetch_history()
    cause = busy.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.details == ("CASE_BUSY",)
    accepted = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert accepted == [ASSIGN]
    assert [a.officer for a in welfare.recorded] == ["officer-hk-01"]
