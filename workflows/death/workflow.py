"""The COVID-19 death workflow: verify the identity, record the outcome DECEASED in case status,
register the death in the registry, then find the survivors, check each against the survivor
programs, open the benefit cases and hand each to its own benefit-case workflow.

The wards are not alerted from here: the DECEASED outcome is a case-status change, and its
outbox row starts the status-change propagation, which alerts every ward concerned. One path
for every status change keeps the alerts in one place, whoever recorded the change.

A second report of the same death joins this workflow (the starter signals it); one that
disagrees with the first (another day, another cause) is kept and holds the next step until an
officer resolves it (``resolve_conflict``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from workflows.benefit_case.models import WORKFLOW as BENEFIT_CASE
    from workflows.benefit_case.models import CaseOpened
    from workflows.benefit_case.models import workflow_id as benefit_case_id
    from workflows.death.models import (
        REPORT,
        RESOLVE,
        WORKFLOW,
        CaseToOpen,
        CivilStatusSeen,
        DeathProgress,
        DeathRecorded,
        DeathReport,
        DeathToRecord,
        OpenedCase,
        Resolution,
        SlaPolicy,
        Survivor,
        SurvivorCheck,
    )
    from workflows.retries import CALL_TIMEOUT, SERVICE_RETRY, VIETNAM


class _Refused(Exception):
    """A service refused a step for good: the process stops and says why."""


class _Stopped(Exception):
    """An officer stopped the process over a conflicting report."""


def death_moment(death_date: str, now: dt.datetime) -> dt.datetime:
    """When the outcome takes effect: noon of the day of death in Vietnam (a report gives the
    day), or now when the death was today and noon is still to come."""
    day = dt.date.fromisoformat(death_date)
    return min(dt.datetime.combine(day, dt.time(12), VIETNAM), now)


def _conflicts(first: DeathReport, other: DeathReport) -> bool:
    return (other.death_date, other.cause.strip()) != (first.death_date, first.cause.strip())


@workflow.defn(name=WORKFLOW)
class CovidDeath:
    @workflow.init
    def __init__(self, report: DeathReport) -> None:
        self._report = report
        self._progress = DeathProgress(report.citizen_id, "verifying", reports_received=0)
        self._resolution: Resolution | None = None

    @workflow.run
    async def run(self, report: DeathReport) -> DeathRecorded:
        # A report sent with the start (the starter's signal-with-start) is counted already.
        self._progress.reports_received = max(self._progress.reports_received, 1)
        try:
            opened = await self._record(report)
        except _Refused as refused:
            self._step("refused", str(refused))
            return DeathRecorded(report.citizen_id, "REFUSED", str(refused))
        except _Stopped as stopped:
            self._step("stopped", str(stopped))
            return DeathRecorded(report.citizen_id, "STOPPED", str(stopped))
        self._step("done", f"{len(opened)} benefit case(s) handed over")
        return DeathRecorded(report.citizen_id, "DONE", benefit_cases=opened)

    async def _record(self, report: DeathReport) -> list[str]:
        wid = workflow.info().workflow_id
        seen = await self._call("verifying", "verify_identity", report, CivilStatusSeen)
        if not seen.alive and seen.death_date != report.death_date:
            # The registry holds another death: an officer must say which is right.
            self._progress.conflicting_reports.append(
                DeathReport(
                    report.citizen_id,
                    seen.death_date,
                    f"registered ({seen.death_cause})",
                    "registry",
                    "",
                )
            )
        self._event(
            "identity verified"
            + ("" if seen.alive else f"; the registry holds a death on {seen.death_date}")
        )
        effective = death_moment(report.death_date, workflow.now()).isoformat()
        event_id = await self._call(
            "recording_outcome",
            "record_deceased",
            DeathToRecord(report, f"{wid}:deceased", effective),
            str,
        )
        self._event(f"outcome DECEASED recorded in case status (event {event_id})")
        if seen.alive:
            await self._call(
                "registering_death",
                "register_death",
                DeathToRecord(report, f"{wid}:register-death"),
                CivilStatusSeen,
            )
            self._event(f"death on {report.death_date} registered in the registry")
        else:
            self._event("death already registered in the registry")
        survivors: list[Survivor] = await self._call(
            "finding_survivors", "find_survivors", report.citizen_id, list[Survivor]
        )
        alive = [s for s in survivors if s.alive]
        self._progress.survivors = [s.citizen_id for s in alive]
        self._event(f"{len(alive)} surviving spouse, child(ren) or parent(s) found")
        claims: list[CaseToOpen] = []
        for survivor in alive:
            programs: list[str] = await self._call(
                "checking_survivors",
                "check_survivor",
                SurvivorCheck(survivor.citizen_id, report.citizen_id),
                list[str],
            )
            claims += [
                CaseToOpen(
                    code,
                    survivor.citizen_id,
                    report.citizen_id,
                    f"{wid}:open-{code}-{survivor.citizen_id}",
                )
                for code in programs
            ]
        self._event(f"{len(claims)} eligible claim(s)")
        opened: list[OpenedCase] = []
        for claim in claims:
            try:
                case = await self._call("opening_cases", "open_benefit_case", claim, OpenedCase)
                opened.append(case)
            except _Refused as refused:
                # One claim refused (another survivor claimed a one-per-death benefit first)
                # leaves the others.
                self._event(f"{claim.program_code} not opened: {refused}")
        sla = await self._call("handing_over", "benefit_sla", None, SlaPolicy)
        for case in opened:
            await self._hand_over(case, sla)
        return [case.case_id for case in opened]

    async def _hand_over(self, case: OpenedCase, sla: SlaPolicy) -> None:
        try:
            await workflow.start_child_workflow(
                BENEFIT_CASE,
                CaseOpened(
                    case.case_id,
                    case.program_code,
                    case.beneficiary_citizen_id,
                    case.subject_citizen_id,
                    case.amount_vnd,
                    case.opened_by,
                    case.assessed_by,
                    case.units,
                    sla.remind_after_seconds,
                    sla.escalate_after_seconds,
                ),
                id=benefit_case_id(case.case_id),
                # The case waits on officers for days: it outlives this workflow.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            self._event(f"benefit case {case.case_id} was handed over already")
        else:
            self._event(f"benefit case {case.case_id} ({case.program_code}) handed over")
        self._progress.benefit_cases.append(case.case_id)

    async def _call(self, step: str, activity: str, arg: Any, result_type: Any) -> Any:
        await self._review()
        self._progress.step = step
        try:
            if arg is None:
                return await workflow.execute_activity(
                    activity,
                    start_to_close_timeout=CALL_TIMEOUT,
                    retry_policy=SERVICE_RETRY,
                    result_type=result_type,
                )
            return await workflow.execute_activity(
                activity,
                arg,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=SERVICE_RETRY,
                result_type=result_type,
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise _Refused(f"{step}: {cause.type} {cause.message}") from None
            raise

    async def _review(self) -> None:
        """Holds the next step while a conflicting report waits for an officer."""
        if not self._progress.conflicting_reports:
            return
        if self._resolution is None:
            self._progress.step = "awaiting_review"
            await workflow.wait_condition(lambda: self._resolution is not None)
        assert self._resolution is not None
        if not self._resolution.proceed:
            raise _Stopped(f"stopped by {self._resolution.officer}: {self._resolution.reason}")

    def _step(self, step: str, what: str) -> None:
        self._progress.step = step
        self._event(what)

    def _event(self, what: str) -> None:
        self._progress.events.append(what)

    @workflow.signal(name=REPORT)
    def report(self, report: DeathReport) -> None:
        """A report of this death (the first one too, when sent with the start)."""
        self._progress.reports_received += 1
        if _conflicts(self._report, report):
            self._progress.conflicting_reports.append(report)

    @workflow.update(name=RESOLVE)
    def resolve_conflict(self, resolution: Resolution) -> DeathProgress:
        self._resolution = resolution
        self._event(
            f"conflict resolved by {resolution.officer}: "
            f"{'proceed' if resolution.proceed else 'stop'} ({resolution.reason})"
        )
        return self._progress

    @resolve_conflict.validator
    def _validate_resolution(self, resolution: Resolution) -> None:
        if not self._progress.conflicting_reports or self._resolution is not None:
            raise ApplicationError(
                "there is no conflicting report to resolve",
                "NOTHING_TO_RESOLVE",
                type="FAILED_PRECONDITION",
                non_retryable=True,
            )
        if not resolution.officer.strip() or not resolution.reason.strip():
            raise ApplicationError(
                "officer and reason are required",
                "REASON_REQUIRED",
                type="INVALID_ARGUMENT",
                non_retryable=True,
            )

    @workflow.query
    def progress(self) -> DeathProgress:
        return self._progress
