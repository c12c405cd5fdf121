"""CaseStatusService over gRPC: reads requests, calls the use cases, writes responses.

Thin on purpose: validation and rules live in the domain, transactions in the use cases,
errors are mapped by the server's error interceptor. Only RecordStatus, GetCaseStatus,
RecordContacts and TraceContacts exist so far; the other RPCs of the contract answer
UNIMPLEMENTED (the generated base class does, and the policy names none of them).
"""

from __future__ import annotations

from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc
from google.protobuf.message import Message

from services.case_status import use_cases
from services.case_status.api import convert
from services.case_status.domain.model import Actor
from services.case_status.domain.tracing import MAX_DEPTH
from services.case_status.use_cases import CaseStatusService
from services.kit.auth import current_identity
from services.kit.grpc_types import Context
from services.kit.protoconv import timestamp_from_proto
from services.kit.request_ids import (
    IdempotencyKey,
    StoredResponse,
    fingerprint,
    validate_request_id,
)


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
