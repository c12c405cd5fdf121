"""The death correction's activities: case status and welfare over gRPC, the benefit cases'
workflows through Temporal."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workflows.benefit_case.models import WITHDRAW
from workflows.benefit_case.models import workflow_id as benefit_case_id
from workflows.correction.models import CaseWithdrawal, Retraction
from workflows.death.models import DeathProgress
from workflows.death.models import workflow_id as death_id
from workflows.gateways.case_status import CaseStatusGateway
from workflows.gateways.welfare import WelfareGateway


class CorrectionActivities:
    def __init__(
        self, case_status: CaseStatusGateway, welfare: WelfareGateway, client: Client
    ) -> None:
        self._case_status = case_status
        self._welfare = welfare
        self._client = client

    @activity.defn(name="retract_deceased")
    async def retract_deceased(self, retraction: Retraction) -> str:
        return await self._case_status.retract_death(
            retraction.citizen_id, retraction.reason, retraction.request_id
        )

    @activity.defn(name="benefit_cases_of_death")
    async def benefit_cases_of_death(self, citizen_id: str) -> list[str]:
        """The cases the resident's death workflow opened (none when no workflow recorded
        the death: it was registered by an officer only)."""
        handle = self._client.get_workflow_handle(death_id(citizen_id))
        try:
            progress = await handle.query("progress", result_type=DeathProgress)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return []
            raise
        return list(progress.benefit_cases)

    @activity.defn(name="withdraw_benefit_case")
    async def withdraw_benefit_case(self, withdrawal: CaseWithdrawal) -> str:
        """A running case workflow is told (it withdraws an undecided case, or stops a monthly
        case being paid); otherwise welfare withdraws or stops the case itself."""
        handle = self._client.get_workflow_handle(benefit_case_id(withdrawal.case_id))
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            description = None
        if description is not None and description.status == WorkflowExecutionStatus.RUNNING:
            await handle.signal(WITHDRAW, withdrawal.reason)
            return "withdrawal sent to its workflow"
        try:
            case = await self._welfare.withdraw(
                withdrawal.case_id, withdrawal.reason, withdrawal.request_id
            )
        except ApplicationError as refused:
            if refused.type != "FAILED_PRECONDITION":
                raise
            # Decided, or paid in full already: the record stays as it is.
            current = await self._welfare.case(withdrawal.case_id)
            return f"left {current.state}"
        if case.state == "STOPPED":
            # A monthly case being paid: its remaining periods are not paid.
            return f"stopped ({case.periods_paid} of {case.units} periods paid)"
        return f"withdrawn ({case.state})"
