"""The status-change propagation workflow: alerts first (the watchlist is what checkpoints
read), then the isolation follow-up."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.isolation.models import IsolationPeriod
    from workflows.propagation.models import WORKFLOW, Delivered, OutboxEvent, Propagated
    from workflows.retries import CALL_TIMEOUT, SERVICE_RETRY


@workflow.defn(name=WORKFLOW)
class StatusChangePropagation:
    @workflow.run
    async def run(self, event: OutboxEvent) -> Propagated:
        payload = event.payload
        citizen_id = str(payload["citizen_id"])
        delivered = await workflow.execute_activity(
            "deliver_to_alerts",
            event,
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=SERVICE_RETRY,
            result_type=Delivered,
        )
        isolation = ""
        # A cleared level or an ended episode may still carry the last isolation end date:
        # it ends the follow-up rather than scheduling one.
        if payload.get("outcome") or payload.get("classification") in (None, "CLEARED"):
            isolation = "STOPPED"
            await workflow.execute_activity(
                "stop_isolation",
                citizen_id,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=SERVICE_RETRY,
            )
        elif payload.get("isolation_end"):
            isolation = "FOLLOWING"
            await workflow.execute_activity(
                "follow_isolation",
                IsolationPeriod(citizen_id, str(payload["isolation_end"]), event.event_id),
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=SERVICE_RETRY,
            )
        return Propagated(
            event.event_id,
            citizen_id,
            delivered.wards,
            delivered.already_applied,
            delivered.lag_seconds,
            isolation,
        )
