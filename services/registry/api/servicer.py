"""RegistryService over gRPC: reads requests, calls the use cases, writes responses.

Thin on purpose: validation and rules live in the domain, transactions in the use cases,
errors are mapped by the server's error interceptor.
"""

from __future__ import annotations

from typing import TypeVar

from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import registry_service_pb2_grpc as pb_grpc
from google.protobuf.message import Message

from services.kit.auth import current_identity
from services.kit.grpc_types import Context
from services.kit.pagination import encode_token, page_request
from services.kit.request_ids import (
    IdempotencyKey,
    StoredResponse,
    fingerprint,
    validate_request_id,
)
from services.registry import use_cases
from services.registry.api import convert
from services.registry.domain.model import CivilStatusCorrection, Resident
from services.registry.ports import ResultEncoder
from services.registry.use_cases import Registry

M = TypeVar("M", bound=Message)


def _key(method: str, request: Message, request_id: str) -> IdempotencyKey:
    validate_request_id(request_id)
    return IdempotencyKey(request_id, fingerprint(method, request))


class RegistryServicer(pb_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self._reg = registry
        self._out = convert.ResidentMessages(registry.wards)

    async def RegisterResident(
        self, request: pb.RegisterResidentRequest, context: Context
    ) -> pb.RegisterResidentResponse:
        key = _key("RegisterResident", request, request.request_id)
        result = await use_cases.register_resident(
            self._reg,
            current_identity(),
            convert.register_command(request),
            key,
            self._encoder(pb.RegisterResidentResponse),
        )
        return self._resident_message(result, pb.RegisterResidentResponse)

    async def GetResident(
        self, request: pb.GetResidentRequest, context: Context
    ) -> pb.GetResidentResponse:
        resident = await use_cases.get_resident(
            self._reg, current_identity(), request.citizen_id.strip()
        )
        return pb.GetResidentResponse(resident=self._out.resident(resident))

    async def BatchGetResidents(
        self, request: pb.BatchGetResidentsRequest, context: Context
    ) -> pb.BatchGetResidentsResponse:
        residents, missing = await use_cases.batch_get_residents(
            self._reg, current_identity(), [cid.strip() for cid in request.citizen_ids]
        )
        return pb.BatchGetResidentsResponse(
            residents=[self._out.resident(r) for r in residents], not_found_citizen_ids=missing
        )

    async def SearchResidents(
        self, request: pb.SearchResidentsRequest, context: Context
    ) -> pb.SearchResidentsResponse:
        query = convert.search_query(request)
        filters = (query.name, query.birth_date, query.birth_year, query.ward_code)
        page = page_request(request.page_size, request.page_token, filters)
        residents, after = await use_cases.search_residents(
            self._reg, current_identity(), query, page
        )
        return pb.SearchResidentsResponse(
            residents=[self._out.resident(r) for r in residents],
            next_page_token=encode_token(after, filters) if after else "",
        )

    async def VerifyIdentities(
        self, request: pb.VerifyIdentitiesRequest, context: Context
    ) -> pb.VerifyIdentitiesResponse:
        results = await use_cases.verify_identities(
            self._reg, current_identity(), convert.identity_claims(request)
        )
        return pb.VerifyIdentitiesResponse(results=[convert.verification(r) for r in results])

    async def UpdateResidence(
        self, request: pb.UpdateResidenceRequest, context: Context
    ) -> pb.UpdateResidenceResponse:
        key = _key("UpdateResidence", request, request.request_id)
        result = await use_cases.update_residence(
            self._reg,
            current_identity(),
            convert.update_residence_command(request),
            key,
            self._encoder(pb.UpdateResidenceResponse),
        )
        return self._resident_message(result, pb.UpdateResidenceResponse)

    async def ListResidenceHistory(
        self, request: pb.ListResidenceHistoryRequest, context: Context
    ) -> pb.ListResidenceHistoryResponse:
        citizen_id = request.citizen_id.strip()
        page = page_request(request.page_size, request.page_token, (citizen_id,))
        records, after = await use_cases.list_residence_history(
            self._reg, current_identity(), citizen_id, page
        )
        return pb.ListResidenceHistoryResponse(
            records=[self._out.residence_record(r) for r in records],
            next_page_token=encode_token(after, (citizen_id,)) if after else "",
        )

    async def GetHousehold(
        self, request: pb.GetHouseholdRequest, context: Context
    ) -> pb.GetHouseholdResponse:
        household = await use_cases.get_household(
            self._reg,
            current_identity(),
            request.household_id.strip(),
            request.citizen_id.strip(),
        )
        return pb.GetHouseholdResponse(household=convert.household(household))

    async def BatchGetHouseholds(
        self, request: pb.BatchGetHouseholdsRequest, context: Context
    ) -> pb.BatchGetHouseholdsResponse:
        households, missing = await use_cases.batch_get_households(
            self._reg, current_identity(), [cid.strip() for cid in request.citizen_ids]
        )
        return pb.BatchGetHouseholdsResponse(
            households=[convert.household(h) for h in households], not_found_citizen_ids=missing
        )

    async def RegisterDeath(
        self, request: pb.RegisterDeathRequest, context: Context
    ) -> pb.RegisterDeathResponse:
        key = _key("RegisterDeath", request, request.request_id)
        result = await use_cases.register_death(
            self._reg,
            current_identity(),
            convert.death_command(request),
            key,
            self._encoder(pb.RegisterDeathResponse),
        )
        return self._resident_message(result, pb.RegisterDeathResponse)

    async def ProposeCivilStatusCorrection(
        self,
        request: pb.ProposeCivilStatusCorrectionRequest,
        context: Context,
    ) -> pb.ProposeCivilStatusCorrectionResponse:
        key = _key("ProposeCivilStatusCorrection", request, request.request_id)
        result = await use_cases.propose_correction(
            self._reg,
            current_identity(),
            convert.correction_command(request),
            key,
            lambda c: _proposal_response(c).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.ProposeCivilStatusCorrectionResponse.FromString(result.data)
        return _proposal_response(result)

    async def CorrectCivilStatus(
        self, request: pb.CorrectCivilStatusRequest, context: Context
    ) -> pb.CorrectCivilStatusResponse:
        key = _key("CorrectCivilStatus", request, request.request_id)
        result = await use_cases.correct_civil_status(
            self._reg,
            current_identity(),
            request.correction_id.strip(),
            key,
            lambda pair: self._correction_response(*pair).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.CorrectCivilStatusResponse.FromString(result.data)
        return self._correction_response(*result)

    async def ListCivilStatusHistory(
        self, request: pb.ListCivilStatusHistoryRequest, context: Context
    ) -> pb.ListCivilStatusHistoryResponse:
        records = await use_cases.list_civil_status_history(
            self._reg, current_identity(), request.citizen_id.strip()
        )
        return pb.ListCivilStatusHistoryResponse(
            records=[convert.civil_status_record(r) for r in records]
        )

    # Responses that carry one resident: built once for the reply and, serialised, for the
    # request log, so a replay returns byte-for-byte what the first call returned.
    def _encoder(self, kind: type[M]) -> ResultEncoder[Resident]:
        return lambda resident: self._resident_message(resident, kind).SerializeToString()

    def _resident_message(self, result: Resident | StoredResponse, kind: type[M]) -> M:
        if isinstance(result, StoredResponse):
            return kind.FromString(result.data)
        return kind(resident=self._out.resident(result))

    def _correction_response(
        self, resident: Resident, correction: CivilStatusCorrection
    ) -> pb.CorrectCivilStatusResponse:
        return pb.CorrectCivilStatusResponse(
            resident=self._out.resident(resident), correction=convert.correction(correction)
        )


def _proposal_response(value: CivilStatusCorrection) -> pb.ProposeCivilStatusCorrectionResponse:
    return pb.ProposeCivilStatusCorrectionResponse(correction=convert.correction(value))
