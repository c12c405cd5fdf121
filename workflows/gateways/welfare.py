"""Welfare, as the workflows use it: survivors, eligibility, and benefit cases driven by request
id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb
from dancu.welfare.v1 import welfare_service_pb2_grpc as pb_grpc

from services.kit.channels import open_channel, retry_service_config
from workflows.gateways import final_or_retry

SERVICE = pb.DESCRIPTOR.services_by_name["WelfareService"].full_name
# Reads, and the mutations idempotent by their request id.
_IDEMPOTENT = (
    "FindSurvivors",
    "CheckEligibility",
    "GetBenefitCase",
    "OpenBenefitCase",
    "RecordPayment",
    "WithdrawBenefitCase",
    "RecordBenefitCaseAct",
)


@dataclass(frozen=True)
class Survivor:
    citizen_id: str
    # SPOUSE, CHILD or PARENT.
    relationship: str
    alive: bool


@dataclass(frozen=True)
class CaseView:
    case_id: str
    program_code: str
    beneficiary_citizen_id: str
    subject_citizen_id: str
    # OPEN, IN_REVIEW, APPROVED, REJECTED, PAID, WITHDRAWN or STOPPED.
    state: str
    assignee: str
    opened_by: str
    assessed_by: str
    decided_by: str
    amount_vnd: int
    payment_reference: str
    # Payments the case makes: the months of a monthly benefit, 1 otherwise.
    units: int
    periods_paid: int = 0


def _case(case: wpb.BenefitCase) -> CaseView:
    return CaseView(
        case_id=case.case_id,
        program_code=case.program_code,
        beneficiary_citizen_id=case.beneficiary_citizen_id,
        subject_citizen_id=case.subject_citizen_id,
        state=wpb.CaseState.Name(case.state).removeprefix("CASE_STATE_"),
        assignee=case.assignee,
        opened_by=case.opened_by,
        assessed_by=case.assessed_by,
        decided_by=case.decided_by,
        amount_vnd=case.amount_vnd,
        payment_reference=case.payment_reference,
        units=case.payment_periods or 1,
        periods_paid=case.periods_paid,
    )


class WelfareGateway:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.WelfareServiceStub(channel)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> WelfareGateway:
        config = retry_service_config(SERVICE, _IDEMPOTENT)
        return cls(open_channel(address, token=token, service_config=config))

    async def close(self) -> None:
        await self._channel.close()

    async def survivors(self, deceased_citizen_id: str) -> list[Survivor]:
        try:
            response = await self._stub.FindSurvivors(
                pb.FindSurvivorsRequest(deceased_citizen_id=deceased_citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return [
            Survivor(
                s.citizen_id,
                wpb.SurvivorRelationship.Name(s.relationship).removeprefix(
                    "SURVIVOR_RELATIONSHIP_"
                ),
                s.alive,
            )
            for s in response.survivors
        ]

    async def eligible_programs(
        self, beneficiary_citizen_id: str, subject_citizen_id: str, program_code: str = ""
    ) -> list[str]:
        """The programs in force (or the one named) the beneficiary is eligible for today."""
        try:
            response = await self._stub.CheckEligibility(
                pb.CheckEligibilityRequest(
                    beneficiary_citizen_id=beneficiary_citizen_id,
                    subject_citizen_id=subject_citizen_id,
                    program_code=program_code,
                )
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return [a.program_code for a in response.assessments if a.eligible]

    async def open_case(
        self,
        program_code: str,
        beneficiary_citizen_id: str,
        subject_citizen_id: str,
        request_id: str,
        driven_by_workflow: bool = False,
    ) -> CaseView:
        """``driven_by_workflow``: the caller hands the case to its BenefitCase workflow, so
        welfare forwards officers' acts on it there."""
        try:
            response = await self._stub.OpenBenefitCase(
                pb.OpenBenefitCaseRequest(
                    request_id=request_id,
                    program_code=program_code,
                    beneficiary_citizen_id=beneficiary_citizen_id,
                    subject_citizen_id=subject_citizen_id,
                    driven_by_workflow=driven_by_workflow,
                )
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return _case(response.benefit_case)

    async def case(self, case_id: str) -> CaseView:
        try:
            response = await self._stub.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=case_id))
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return _case(response.benefit_case)

    async def record_act(
        self,
        case_id: str,
        request_id: str,
        officer: str,
        agency: str,
        officer_request_id: str = "",
        officer_request_fingerprint: str = "",
        *,
        assignee: str = "",
        decision: tuple[bool, str] | None = None,
    ) -> CaseView:
        """Records an officer's assignment to ``assignee``, or with ``decision`` (approve,
        reason) their decision, in the officer's name."""
        request = pb.RecordBenefitCaseActRequest(
            request_id=request_id,
            case_id=case_id,
            officer_subject=officer,
            officer_agency=agency,
            officer_request_id=officer_request_id,
            officer_request_fingerprint=officer_request_fingerprint,
        )
        if decision is None:
            request.assignment.assignee = assignee
        else:
            approve, reason = decision
            request.decision.decision = pb.DECISION_APPROVE if approve else pb.DECISION_REJECT
            request.decision.reason = reason
        try:
            response = await self._stub.RecordBenefitCaseAct(request)
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return _case(response.benefit_case)

    async def record_payment(
        self, case_id: str, payment_reference: str, request_id: str, period: int = 1
    ) -> CaseView:
        try:
            response = await self._stub.RecordPayment(
                pb.RecordPaymentRequest(
                    request_id=request_id,
                    case_id=case_id,
                    payment_reference=payment_reference,
                    period=period,
                )
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return _case(response.benefit_case)

    async def withdraw(self, case_id: str, reason: str, request_id: str) -> CaseView:
        try:
            response = await self._stub.WithdrawBenefitCase(
                pb.WithdrawBenefitCaseRequest(request_id=request_id, case_id=case_id, reason=reason)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return _case(response.benefit_case)
