"""The residence-change propagation: a registry residence change
(``registry.residence_changed.v1``, one workflow per event) reaches the services that keep a
resident's wards beside their own records.

- case status refreshes its residence snapshot (which ward lists the case);
- alerts points a flagged resident's warnings at the wards they live in now and alerts each
  ward they moved into.

Both ask the registry for the resident's current record rather than trusting the event's, so
deliveries out of order or repeated change nothing more; the two calls are independent and run
side by side.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.propagation.models import OutboxEvent
    from workflows.residence.models import WORKFLOW, Redirected, ResidenceChangePropagated
    from workflows.retries import CALL_TIMEOUT, SERVICE_RETRY


@workflow.defn(name=WORKFLOW)
class ResidenceChangePropagation:
    @workflow.run
    async def run(self, event: OutboxEvent) -> ResidenceChangePropagated:
        citizen_id = str(event.payload["citizen_id"])
        refreshed, redirected = await asyncio.gather(
            workflow.execute_activity(
                "refresh_case_residence",
                citizen_id,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=SERVICE_RETRY,
                result_type=bool,
            ),
            workflow.execute_activity(
                "redirect_alerts",
                event,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=SERVICE_RETRY,
                result_type=Redirected,
            ),
        )
        return ResidenceChangePropagated(
            event.event_id,
            citizen_id,
            refreshed,
            redirected.flagged,
            redirected.alerted_wards,
        )
