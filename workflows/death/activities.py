"""The death workflow's activities: thin calls to the registry, case status and welfare."""

from __future__ import annotations

import datetime as dt

from temporalio import activity

from workflows.death.models import (
    CaseToOpen,
    CivilStatusSeen,
    DeathReport,
    DeathToRecord,
    OpenedCase,
    SlaPolicy,
    Survivor,
    SurvivorCheck,
)
from workflows.gateways.case_status import CaseStatusGateway
from workflows.gateways.registry import RegistryGateway
from workflows.gateways.welfare import WelfareGateway


class DeathActivities:
    def __init__(
        self,
        registry: RegistryGateway,
        case_status: CaseStatusGateway,
        welfare: WelfareGateway,
        sla: SlaPolicy,
    ) -> None:
        self._registry = registry
        self._case_status = case_status
        self._welfare = welfare
        self._sla = sla

    @activity.defn(name="verify_identity")
    async def verify_identity(self, report: DeathReport) -> CivilStatusSeen:
        """The reported citizen id is a registered resident (NOT_FOUND otherwise: the report
        names no one, and no retry changes that)."""
        status = await self._registry.civil_status(report.citizen_id)
        return CivilStatusSeen(status.alive, status.death_date, status.death_cause)

    @activity.defn(name="record_deceased")
    async def record_deceased(self, death: DeathToRecord) -> str:
        report = death.report
        return await self._case_status.record_death(
            report.citizen_id,
            dt.datetime.fromisoformat(death.effective_time),
            report.reporting_agency,
            report.report_ref,
            death.request_id,
        )

    @activity.defn(name="register_death")
    async def register_death(self, death: DeathToRecord) -> CivilStatusSeen:
        report = death.report
        status = await self._registry.register_death(
            report.citizen_id,
            dt.date.fromisoformat(report.death_date),
            report.cause,
            report.place,
            death.request_id,
        )
        return CivilStatusSeen(status.alive, status.death_date, status.death_cause)

    @activity.defn(name="find_survivors")
    async def find_survivors(self, deceased_citizen_id: str) -> list[Survivor]:
        found = await self._welfare.survivors(deceased_citizen_id)
        return [Survivor(s.citizen_id, s.relationship, s.alive) for s in found]

    @activity.defn(name="check_survivor")
    async def check_survivor(self, check: SurvivorCheck) -> list[str]:
        """The survivor programs in force the survivor is eligible for today."""
        return await self._welfare.eligible_programs(
            check.beneficiary_citizen_id, check.deceased_citizen_id
        )

    @activity.defn(name="open_benefit_case")
    async def open_benefit_case(self, claim: CaseToOpen) -> OpenedCase:
        case = await self._welfare.open_case(
            claim.program_code,
            claim.beneficiary_citizen_id,
            claim.subject_citizen_id,
            claim.request_id,
            # The workflow hands the case to its BenefitCase workflow next: officers' acts on
            # it go there through welfare.
            driven_by_workflow=True,
        )
        return OpenedCase(
            case.case_id,
            case.program_code,
            case.beneficiary_citizen_id,
            case.subject_citizen_id,
            case.amount_vnd,
            case.opened_by,
            case.assessed_by,
            case.units or 1,
        )

    @activity.defn(name="benefit_sla")
    async def benefit_sla(self) -> SlaPolicy:
        """The configured service level, read through an activity so that the workflow
        records it and replays it unchanged."""
        return self._sla
