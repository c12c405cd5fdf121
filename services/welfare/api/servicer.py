"""WelfareService over gRPC: reads requests, calls the use cases, writes responses.

Thin on purpose: validation and rules live in the domain, transactions in the use cases,
errors are mapped by the server's error interceptor.
"""

from __future__ import annotations

from dataclasses import replace

from dancu.welfare.v1 import welfare_service_pb2 as pb
from dancu.welfare.v1 import welfare_service_pb2_grpc as pb_grpc
from google.protobuf.message import Message

from services.kit.auth import current_identity
from services.kit.errors import FieldViolation, InvalidInput
from services.kit.grpc_types import Context
from services.kit.pagination import encode_token, page_request
from services.kit.request_ids import (
    IdempotencyKey,
    StoredResponse,
    fingerprint,
    validate_request_id,
)
from services.kit.request_reading import FieldReader
from services.welfare import use_cases
from services.welfare.api import convert
from services.welfare.domain.model import Actor, BenefitCase, Program
from services.welfare.use_cases import WelfareService, cases, programs, queue

MAX_PAGE_SIZE = 200


def _key(method: str, request: Message, request_id: str) -> IdempotencyKey:
    validate_request_id(request_id)
    return IdempotencyKey(request_id, fingerprint(method, request))


class WelfareServicer(pb_grpc.WelfareServiceServicer):
    def __init__(self, service: WelfareService) -> None:
        self._svc = service

    async def ListPrograms(
        self, request: pb.ListProgramsRequest, context: Context
    ) -> pb.ListProgramsResponse:
        read = FieldReader()
        day = read.date(request.in_force_on, "in_force_on", required=False)
        read.done()
        found = await programs.list_programs(self._svc, current_identity(), day)
        return pb.ListProgramsResponse(programs=[convert.program_message(p) for p in found])

    async def GetProgram(
        self, request: pb.GetProgramRequest, context: Context
    ) -> pb.GetProgramResponse:
        program = await programs.get_program(
            self._svc, current_identity(), request.code.strip(), request.version
        )
        return pb.GetProgramResponse(program=convert.program_message(program))

    async def PublishProgram(
        self, request: pb.PublishProgramRequest, context: Context
    ) -> pb.PublishProgramResponse:
        key = _key("PublishProgram", request, request.request_id)

        def response(result: tuple[Program, bool]) -> pb.PublishProgramResponse:
            program, created = result
            return pb.PublishProgramResponse(
                program=convert.program_message(program), created=created
            )

        result = await programs.publish_program(
            self._svc,
            current_identity(),
            convert.program_draft(request.program),
            key,
            lambda r: response(r).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.PublishProgramResponse.FromString(result.data)
        return response(result)

    async def CheckEligibility(
        self, request: pb.CheckEligibilityRequest, context: Context
    ) -> pb.CheckEligibilityResponse:
        read = FieldReader()
        day = read.date(request.assessment_date, "assessment_date", required=False)
        read.done()
        found = await use_cases.check_eligibility(
            self._svc,
            current_identity(),
            request.beneficiary_citizen_id.strip(),
            request.subject_citizen_id.strip(),
            request.program_code.strip(),
            day,
        )
        return pb.CheckEligibilityResponse(
            assessments=[convert.assessment_message(a) for a in found]
        )

    async def FindSurvivors(
        self, request: pb.FindSurvivorsRequest, context: Context
    ) -> pb.FindSurvivorsResponse:
        found = await use_cases.find_survivors(
            self._svc, current_identity(), request.deceased_citizen_id.strip()
        )
        return pb.FindSurvivorsResponse(survivors=[convert.survivor_message(s) for s in found])

    async def OpenBenefitCase(
        self, request: pb.OpenBenefitCaseRequest, context: Context
    ) -> pb.OpenBenefitCaseResponse:
        key = _key("OpenBenefitCase", request, request.request_id)
        result = await cases.open_case(
            self._svc,
            current_identity(),
            request.program_code.strip(),
            request.beneficiary_citizen_id.strip(),
            request.subject_citizen_id.strip(),
            key,
            lambda r: convert.opened_response(r).SerializeToString(),
            request.driven_by_workflow,
        )
        if isinstance(result, StoredResponse):
            return pb.OpenBenefitCaseResponse.FromString(result.data)
        return convert.opened_response(result)

    async def GetBenefitCase(
        self, request: pb.GetBenefitCaseRequest, context: Context
    ) -> pb.GetBenefitCaseResponse:
        case = await cases.get_case(self._svc, current_identity(), request.case_id.strip())
        return pb.GetBenefitCaseResponse(benefit_case=convert.case_message(case))

    async def ListBenefitCases(
        self, request: pb.ListBenefitCasesRequest, context: Context
    ) -> pb.ListBenefitCasesResponse:
        identity = current_identity()
        state = convert.case_state(request.state)
        query = queue.queue_query(
            identity,
            state,
            request.program_code.strip(),
            request.ward_code.strip(),
            request.assignee.strip(),
            self._svc.clock.now() if request.overdue_only else None,
        )
        bound = (
            "ListBenefitCases",
            int(state or 0),
            request.program_code.strip(),
            request.ward_code.strip(),
            request.assignee.strip(),
            request.overdue_only,
        )
        page = page_request(
            request.page_size, request.page_token, bound, default=50, maximum=MAX_PAGE_SIZE
        )
        result = await queue.list_cases(self._svc, identity, query, page)
        token = encode_token(result.after, bound) if result.after is not None else ""
        return pb.ListBenefitCasesResponse(
            benefit_cases=[convert.case_message(c, full=False) for c in result.cases],
            next_page_token=token,
        )

    async def AssignBenefitCase(
        self, request: pb.AssignBenefitCaseRequest, context: Context
    ) -> pb.AssignBenefitCaseResponse:
        key = _key("AssignBenefitCase", request, request.request_id)
        result = await cases.assign_case(
            self._svc,
            current_identity(),
            request.case_id.strip(),
            request.assignee.strip(),
            key,
            lambda c: pb.AssignBenefitCaseResponse(
                benefit_case=convert.case_message(c)
            ).SerializeToString(),
            request.etag.strip(),
        )
        if isinstance(result, StoredResponse):
            return pb.AssignBenefitCaseResponse.FromString(result.data)
        return pb.AssignBenefitCaseResponse(benefit_case=convert.case_message(result))

    async def DecideBenefitCase(
        self, request: pb.DecideBenefitCaseRequest, context: Context
    ) -> pb.DecideBenefitCaseResponse:
        key = _key("DecideBenefitCase", request, request.request_id)
        if request.decision not in (pb.DECISION_APPROVE, pb.DECISION_REJECT):
            raise InvalidInput(
                [FieldViolation("decision", "DECISION_REQUIRED", "is APPROVE or REJECT")]
            )
        result = await cases.decide_case(
            self._svc,
            current_identity(),
            request.case_id.strip(),
            request.decision == pb.DECISION_APPROVE,
            request.reason,
            key,
            lambda c: pb.DecideBenefitCaseResponse(
                benefit_case=convert.case_message(c)
            ).SerializeToString(),
            request.etag.strip(),
        )
        if isinstance(result, StoredResponse):
            return pb.DecideBenefitCaseResponse.FromString(result.data)
        return pb.DecideBenefitCaseResponse(benefit_case=convert.case_message(result))

    async def RequestBenefitCaseDocuments(
        self, request: pb.RequestBenefitCaseDocumentsRequest, context: Context
    ) -> pb.RequestBenefitCaseDocumentsResponse:
        key = _key("RequestBenefitCaseDocuments", request, request.request_id)

        def response(r: cases.DocumentsRequested) -> pb.RequestBenefitCaseDocumentsResponse:
            return pb.RequestBenefitCaseDocumentsResponse(
                benefit_case=convert.case_message(r.case), documents_requested=r.documents
            )

        result = await cases.request_documents(
            self._svc,
            current_identity(),
            request.case_id.strip(),
            list(request.documents),
            request.reason,
            key,
            lambda r: response(r).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.RequestBenefitCaseDocumentsResponse.FromString(result.data)
        return response(result)

    async def RecordBenefitCaseAct(
        self, request: pb.RecordBenefitCaseActRequest, context: Context
    ) -> pb.RecordBenefitCaseActResponse:
        key = _key("RecordBenefitCaseAct", request, request.request_id)
        officer = Actor(request.officer_subject.strip(), request.officer_agency.strip())
        kind = request.WhichOneof("act")
        if kind == "assignment":
            method = "AssignBenefitCase"
            act = cases.RecordedAct(officer, assignee=request.assignment.assignee.strip())

            def for_officer(c: BenefitCase) -> bytes:
                return pb.AssignBenefitCaseResponse(
                    benefit_case=convert.case_message(c)
                ).SerializeToString()
        elif kind == "decision" and request.decision.decision in (
            pb.DECISION_APPROVE,
            pb.DECISION_REJECT,
        ):
            method = "DecideBenefitCase"
            act = cases.RecordedAct(
                officer,
                approve=request.decision.decision == pb.DECISION_APPROVE,
                reason=request.decision.reason,
            )

            def for_officer(c: BenefitCase) -> bytes:
                return pb.DecideBenefitCaseResponse(
                    benefit_case=convert.case_message(c)
                ).SerializeToString()
        else:
            raise InvalidInput(
                [FieldViolation("act", "ACT_REQUIRED", "an assignment, an approval or a rejection")]
            )
        if request.officer_request_id:
            act = replace(
                act,
                officer_method=method,
                officer_key=IdempotencyKey(
                    request.officer_request_id, request.officer_request_fingerprint
                ),
            )
        result = await cases.record_act(
            self._svc,
            current_identity(),
            request.case_id.strip(),
            act,
            key,
            lambda c: pb.RecordBenefitCaseActResponse(
                benefit_case=convert.case_message(c)
            ).SerializeToString(),
            for_officer,
        )
        if isinstance(result, StoredResponse):
            return pb.RecordBenefitCaseActResponse.FromString(result.data)
        return pb.RecordBenefitCaseActResponse(benefit_case=convert.case_message(result))

    async def RecordPayment(
        self, request: pb.RecordPaymentRequest, context: Context
    ) -> pb.RecordPaymentResponse:
        key = _key("RecordPayment", request, request.request_id)
        result = await cases.record_payment(
            self._svc,
            current_identity(),
            request.case_id.strip(),
            request.payment_reference,
            request.period,
            key,
            lambda c: pb.RecordPaymentResponse(
                benefit_case=convert.case_message(c)
            ).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.RecordPaymentResponse.FromString(result.data)
        return pb.RecordPaymentResponse(benefit_case=convert.case_message(result))

    async def WithdrawBenefitCase(
        self, request: pb.WithdrawBenefitCaseRequest, context: Context
    ) -> pb.WithdrawBenefitCaseResponse:
        key = _key("WithdrawBenefitCase", request, request.request_id)
        result = await cases.withdraw_case(
            self._svc,
            current_identity(),
            request.case_id.strip(),
            request.reason,
            key,
            lambda c: pb.WithdrawBenefitCaseResponse(
                benefit_case=convert.case_message(c)
            ).SerializeToString(),
            request.etag.strip(),
        )
        if isinstance(result, StoredResponse):
            return pb.WithdrawBenefitCaseResponse.FromString(result.data)
        return pb.WithdrawBenefitCaseResponse(benefit_case=convert.case_message(result))
