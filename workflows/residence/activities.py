"""The residence-change propagation's activities: case status and alerts over gRPC."""

from __future__ import annotations

from temporalio import activity

from workflows.gateways.alerts import AlertsGateway
from workflows.gateways.case_status import CaseStatusGateway
from workflows.propagation.models import OutboxEvent
from workflows.residence.models import Redirected


class ResidenceActivities:
    def __init__(self, case_status: CaseStatusGateway, alerts: AlertsGateway) -> None:
        self._case_status = case_status
        self._alerts = alerts

    @activity.defn(name="refresh_case_residence")
    async def refresh_case_residence(self, citizen_id: str) -> bool:
        return await self._case_status.refresh_residence(citizen_id)

    @activity.defn(name="redirect_alerts")
    async def redirect_alerts(self, event: OutboxEvent) -> Redirected:
        applied = await self._alerts.apply_residence_change(
            event.event_id, str(event.payload["citizen_id"])
        )
        return Redirected(applied.flagged, list(applied.wards))
