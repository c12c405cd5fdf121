"""The death correction workflow. The registry has restored the resident's civil status (the
correction's own transaction); this workflow makes the other services agree:

1. case status: the outcome DECEASED is retracted by a correction event (nothing is deleted:
   the death stays in the timeline, superseded). That status change alerts the wards through
   the status-change propagation, as every status change does.
2. welfare: every benefit case the death workflow opened is withdrawn unless it was paid, and
   a monthly case being paid stops — the case's own workflow is told (it withdraws an
   undecided case in welfare and pays nothing, or stops paying a monthly case: STOPPED in
   welfare, the months paid stay recorded); a case no workflow runs any more is withdrawn or
   stopped in welfare directly, and a decided one is left as recorded (welfare refuses to pay
   it: the death no longer qualifies).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.correction.models import WORKFLOW, CaseWithdrawal, DeathCorrected, Retraction
    from workflows.propagation.models import OutboxEvent
    from workflows.retries import CALL_TIMEOUT, SERVICE_RETRY


@workflow.defn(name=WORKFLOW)
class DeathCorrection:
    @workflow.run
    async def run(self, event: OutboxEvent) -> DeathCorrected:
        wid = workflow.info().workflow_id
        citizen_id = str(event.payload["citizen_id"])
        correction_id = str(event.payload.get("correction_id") or "")
        reason = f"death revoked by civil-status correction {correction_id}"
        retracted = await workflow.execute_activity(
            "retract_deceased",
            Retraction(citizen_id, reason, f"{wid}:retract-deceased"),
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=SERVICE_RETRY,
            result_type=str,
        )
        case_ids = await workflow.execute_activity(
            "benefit_cases_of_death",
            citizen_id,
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=SERVICE_RETRY,
            result_type=list[str],
        )
        outcomes = []
        for case_id in case_ids:
            outcome = await workflow.execute_activity(
                "withdraw_benefit_case",
                CaseWithdrawal(case_id, reason, f"{wid}:withdraw-{case_id}"),
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=SERVICE_RETRY,
                result_type=str,
            )
            outcomes.append(f"{case_id}: {outcome}")
        return DeathCorrected(citizen_id, correction_id, retracted, outcomes)
