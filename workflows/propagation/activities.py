"""The propagation's activities: alerts over gRPC, the isolation follow-up through Temporal."""

from __future__ import annotations

import datetime as dt

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from workflows.gateways.alerts import AlertsGateway
from workflows.isolation.models import RESCHEDULE, STOP, IsolationPeriod, workflow_id
from workflows.isolation.models import WORKFLOW as ISOLATION
from workflows.propagation.models import Delivered, OutboxEvent


class PropagationActivities:
    def __init__(self, alerts: AlertsGateway, client: Client, task_queue: str) -> None:
        self._alerts = alerts
        self._client = client
        self._task_queue = task_queue

    @activity.defn(name="deliver_to_alerts")
    async def deliver_to_alerts(self, event: OutboxEvent) -> Delivered:
        applied = await self._alerts.apply_status_change(event.event_id, event.payload)
        committed = dt.datetime.fromisoformat(event.created_at)
        lag = (dt.datetime.now(dt.UTC) - committed).total_seconds()
        return Delivered(applied.already_applied, list(applied.wards), lag)

    @activity.defn(name="follow_isolation")
    async def follow_isolation(self, period: IsolationPeriod) -> None:
        """Starts the resident's follow-up, or moves the running one to this period (one
        call: signal-with-start)."""
        await self._client.start_workflow(
            ISOLATION,
            period,
            id=workflow_id(period.citizen_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=RESCHEDULE,
            start_signal_args=[period],
        )

    @activity.defn(name="stop_isolation")
    async def stop_isolation(self, citizen_id: str) -> None:
        """Ends the resident's follow-up if one runs (none running: nothing to stop)."""
        handle = self._client.get_workflow_handle(workflow_id(citizen_id))
        try:
            await handle.signal(STOP)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
