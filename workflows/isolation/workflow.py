"""The isolation follow-up workflow: wait for the period's end, reschedule when a backdated or
corrected event moves it, then let case status decide what the end means."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.isolation.models import (
        RESCHEDULE,
        STOP,
        WORKFLOW,
        FollowUpResult,
        IsolationPeriod,
        PeriodEnded,
    )
    from workflows.retries import CALL_TIMEOUT, SERVICE_RETRY, VIETNAM


def period_over_at(isolation_end: str) -> dt.datetime:
    """The start of the day after the last day of isolation, in Vietnam."""
    last = dt.date.fromisoformat(isolation_end)
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), VIETNAM)


@workflow.defn(name=WORKFLOW)
class IsolationFollowUp:
    def __init__(self) -> None:
        self._period: IsolationPeriod | None = None
        self._stopped = False
        self._step = "waiting"

    @workflow.run
    async def run(self, period: IsolationPeriod) -> FollowUpResult:
        # A period signalled with the start (signal-with-start, as the status propagation
        # does) is newer than the one the workflow was first started with.
        if self._period is None:
            self._period = period
        while True:
            waiting_for = self._period
            remaining = period_over_at(waiting_for.isolation_end) - workflow.now()
            if remaining > dt.timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        functools.partial(self._interrupted, waiting_for), timeout=remaining
                    )
            if self._stopped:
                self._step = "stopped"
                return FollowUpResult(period.citizen_id, waiting_for.isolation_end, "STOPPED")
            if self._period is waiting_for:
                break
        self._step = "completing"
        outcome = await workflow.execute_activity(
            "complete_isolation",
            PeriodEnded(
                waiting_for.citizen_id,
                waiting_for.isolation_end,
                period_over_at(waiting_for.isolation_end).isoformat(),
            ),
            # Two calls: read the case, then record the clearance.
            start_to_close_timeout=2 * CALL_TIMEOUT,
            retry_policy=SERVICE_RETRY,
            result_type=str,
        )
        self._step = f"done: {outcome}"
        return FollowUpResult(period.citizen_id, waiting_for.isolation_end, outcome)

    def _interrupted(self, waiting_for: IsolationPeriod) -> bool:
        return self._stopped or self._period is not waiting_for

    @workflow.signal(name=RESCHEDULE)
    def reschedule(self, period: IsolationPeriod) -> None:
        """A later status event set another end (a backdated or corrected event, a new
        exposure): wait for that one instead."""
        self._period = period

    @workflow.signal(name=STOP)
    def stop(self) -> None:
        """The resident no longer isolates (an outcome, a clearance): nothing to follow up."""
        self._stopped = True

    @workflow.query
    def progress(self) -> dict[str, str]:
        period = self._period
        return {
            "step": self._step,
            "isolation_end": period.isolation_end if period is not None else "",
        }
