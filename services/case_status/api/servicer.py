"""CaseStatusService over gRPC: reads requests, calls the use cases, writes responses.

Thin on purpose: validation and rules live in the domain, transactions in the use cases,
errors are mapped by the server's error interceptor. The import RPCs do not exist yet: they
answer UNIMPLEMENTED (the generated base class does, and the policy names none of them).
"""

from __future__ import annotations

from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc
from google.protobuf.message import Message

from services.case_status import use_cases
from services.case_status.api import convert
from services.case_status.domain.model import Actor
from services.case_status.domain.tracing import MAX_DEPTH
from services.case_status.use_cases import CaseStatusService, listing, zones
from services.kit.auth import current_identity
from services.kit.grpc_types import Context
from services.kit.pagination import encode_token, page_request
from services.kit.protoconv import timestamp_from_proto
from services.kit.request_ids import (
    IdempotencyKey,
    StoredResponse,
    fingerprint,
    validate_request_id,
)

MAX_PAGE_SIZE = 500


def _key(method: str, request: Message, request_id: str) -> IdempotencyKey:
    validate_request_id(request_id)
    return IdempotencyKey(request_id, fingerprint(method, request))


class CaseStatusServicer(pb_grpc.CaseStatusServiceServicer):
    def __init__(self, service: CaseStatusService) -> None:
        self._svc = service

    async def RecordStatus(
        self, request: pb.RecordStatusRequest, context: Context
    ) -> pb.RecordStatusResponse:
        key = _key("RecordStatus", request, request.request_id)
        identity = current_identity()
        event = convert.status_event(
            request,
            use_cases.new_event_id(),
            self._svc.clock.now(),
            Actor(identity.subject, identity.agency),
        )
        result = await use_cases.record_status(
            self._svc,
            identity,
            event,
            key,
            lambda r: convert.record_status_response(r).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.RecordStatusResponse.FromString(result.data)
        return convert.record_status_response(result)

    async def GetCaseStatus(
        self, request: pb.GetCaseStatusRequest, context: Context
    ) -> pb.GetCaseStatusResponse:
        case = await use_cases.get_case_status(
            self._svc,
            current_identity(),
            request.citizen_id.strip(),
            timestamp_from_proto(request.as_of_time),
        )
        return convert.get_case_status_response(case)

    async def RecordContacts(
        self, request: pb.RecordContactsRequest, context: Context
    ) -> pb.RecordContactsResponse:
        key = _key("RecordContacts", request, request.request_id)
        identity = current_identity()
        links, unreadable = convert.exposure_links(
            request, Actor(identity.subject, identity.agency), self._svc.today()
        )
        result = await use_cases.record_contacts(
            self._svc,
            identity,
            links,
            key,
            lambda r: convert.record_contacts_response(r).SerializeToString(),
            unreadable,
        )
        if isinstance(result, StoredResponse):
            return pb.RecordContactsResponse.FromString(result.data)
        return convert.record_contacts_response(result)

    async def TraceContacts(
        self, request: pb.TraceContactsRequest, context: Context
    ) -> pb.TraceContactsResponse:
        # Unset depth: as far as levels go (F3).
        trace = await use_cases.trace_contacts(
            self._svc,
            current_identity(),
            request.citizen_id.strip(),
            request.depth or MAX_DEPTH,
        )
        return convert.trace_response(trace)

    async def DeclareZone(
        self, request: pb.DeclareZoneRequest, context: Context
    ) -> pb.DeclareZoneResponse:
        key = _key("DeclareZone", request, request.request_id)
        zone = convert.zone_declaration(request, zones.new_zone_id(), self._svc.clock.now())
        result = await zones.declare_zone(
            self._svc,
            current_identity(),
            zone,
            key,
            lambda z: pb.DeclareZoneResponse(zone=convert.zone_message(z)).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.DeclareZoneResponse.FromString(result.data)
        return pb.DeclareZoneResponse(zone=convert.zone_message(result))

    async def EndZone(self, request: pb.EndZoneRequest, context: Context) -> pb.EndZoneResponse:
        key = _key("EndZone", request, request.request_id)
        result = await zones.end_zone_now(
            self._svc,
            current_identity(),
            request.zone_id.strip(),
            timestamp_from_proto(request.end_time),
            request.reason,
            key,
            lambda z: pb.EndZoneResponse(zone=convert.zone_message(z)).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.EndZoneResponse.FromString(result.data)
        return pb.EndZoneResponse(zone=convert.zone_message(result))

    async def ListResidentsInZone(
        self, request: pb.ListResidentsInZoneRequest, context: Context
    ) -> pb.ListResidentsInZoneResponse:
        zone_id = request.zone_id.strip()
        query = ("ListResidentsInZone", zone_id)
        page = page_request(
            request.page_size, request.page_token, query, default=100, maximum=MAX_PAGE_SIZE
        )
        result = await zones.list_residents_in_zone(self._svc, current_identity(), zone_id, page)
        token = encode_token(result.after, query) if result.after is not None else ""
        return convert.zone_residents_response(result, token)

    async def ListCases(
        self, request: pb.ListCasesRequest, context: Context
    ) -> pb.ListCasesResponse:
        query = convert.case_query(request)
        as_of = timestamp_from_proto(request.as_of_time)
        bound = listing.page_query(query, as_of)
        page = page_request(
            request.page_size, request.page_token, bound, default=100, maximum=MAX_PAGE_SIZE
        )
        result = await listing.list_cases(self._svc, current_identity(), query, as_of, page)
        token = encode_token((result.after,), bound) if result.after is not None else ""
        return convert.list_cases_response(result, token)

    async def CountCases(
        self, request: pb.CountCasesRequest, context: Context
    ) -> pb.CountCasesResponse:
        counts = await listing.count_cases(
            self._svc,
            current_identity(),
            request.group_by == pb.COUNT_GROUPING_WARD,
            request.province_code.strip() or None,
            timestamp_from_proto(request.as_of_time),
        )
        return convert.count_cases_response(counts)
