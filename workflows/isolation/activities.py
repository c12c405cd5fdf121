"""The isolation follow-up's one activity: ask case status, then record the clearance."""

from __future__ import annotations

import datetime as dt

from temporalio import activity

from workflows.gateways.case_status import CaseStatusGateway
from workflows.isolation.models import PeriodEnded, workflow_id

CONTACT_LEVELS = frozenset({"F1", "F2", "F3"})


class IsolationActivities:
    def __init__(self, case_status: CaseStatusGateway) -> None:
        self._case_status = case_status

    @activity.defn(name="complete_isolation")
    async def complete_isolation(self, ended: PeriodEnded) -> str:
        current = await self._case_status.current(ended.citizen_id)
        if current.outcome or current.isolation_end != dt.date.fromisoformat(ended.isolation_end):
            return "SUPERSEDED"
        if current.classification == "F0":
            return "AWAITS_DISCHARGE"
        if current.classification not in CONTACT_LEVELS:
            return "SUPERSEDED"
        # The request id names the period: a retry, or a second follow-up of the same
        # period, records one clearance.
        await self._case_status.clear(
            ended.citizen_id,
            dt.datetime.fromisoformat(ended.ended_at),
            f"quarantine ended on {ended.isolation_end} without a positive result",
            f"{workflow_id(ended.citizen_id)}:{ended.isolation_end}",
        )
        return "CLEARED"
