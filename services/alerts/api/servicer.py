"""AlertsService over gRPC: reads requests, calls the use cases, writes responses.

Thin on purpose: validation and rules live in the domain, transactions in the use cases,
errors are mapped by the server's error interceptor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from dancu.alerts.v1 import alerts_service_pb2 as pb
from dancu.alerts.v1 import alerts_service_pb2_grpc as pb_grpc
from google.protobuf.message import Message

from services.alerts import use_cases
from services.alerts.api import convert
from services.alerts.use_cases import AlertsService, alerts, scans
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


class AlertsServicer(pb_grpc.AlertsServiceServicer):
    def __init__(self, service: AlertsService) -> None:
        self._svc = service

    async def RegisterCheckpoint(
        self, request: pb.RegisterCheckpointRequest, context: Context
    ) -> pb.RegisterCheckpointResponse:
        key = _key("RegisterCheckpoint", request, request.request_id)
        result = await use_cases.register_checkpoint(
            self._svc,
            current_identity(),
            convert.checkpoint(request.checkpoint),
            key,
            lambda c: pb.RegisterCheckpointResponse(
                checkpoint=convert.checkpoint_message(c)
            ).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.RegisterCheckpointResponse.FromString(result.data)
        return pb.RegisterCheckpointResponse(checkpoint=convert.checkpoint_message(result))

    async def Scan(self, request: pb.ScanRequest, context: Context) -> pb.ScanResponse:
        subject = request.WhichOneof("subject")
        answer = await use_cases.scan(
            self._svc,
            current_identity(),
            request.request_id,
            request.checkpoint_code.strip(),
            request.citizen_id.strip(),
            request.qr_payload.strip() if subject == "qr_payload" else None,
            timestamp_from_proto(request.scan_time),
        )
        return convert.scan_response(answer)

    async def ApplyStatusChange(
        self, request: pb.ApplyStatusChangeRequest, context: Context
    ) -> pb.ApplyStatusChangeResponse:
        applied = await use_cases.apply_status_change(
            self._svc, current_identity(), convert.status_change(request)
        )
        return convert.apply_response(applied)

    async def ApplyResidenceChange(
        self, request: pb.ApplyResidenceChangeRequest, context: Context
    ) -> pb.ApplyResidenceChangeResponse:
        redirected = await use_cases.apply_residence_change(
            self._svc, current_identity(), request.event_id.strip(), request.citizen_id.strip()
        )
        return pb.ApplyResidenceChangeResponse(
            flagged=redirected.flagged,
            alerts=[convert.alert_message(a) for a in redirected.alerts],
        )

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: Context
    ) -> pb.ListAlertsResponse:
        query = convert.alert_query(request)
        bound = (
            "ListAlerts",
            query.ward_code,
            int(query.state or 0),
            int(query.kind or 0),
            query.start.isoformat() if query.start else "",
            query.end.isoformat() if query.end else "",
        )
        page = page_request(
            request.page_size, request.page_token, bound, default=100, maximum=MAX_PAGE_SIZE
        )
        result = await alerts.list_alerts(self._svc, current_identity(), query, page)
        token = encode_token((result.after,), bound) if result.after is not None else ""
        return pb.ListAlertsResponse(
            alerts=[convert.alert_message(a) for a in result.alerts], next_page_token=token
        )

    async def WatchAlerts(
        self, request: pb.WatchAlertsRequest, context: Context
    ) -> AsyncIterator[pb.WatchAlertsResponse]:
        feed = alerts.watch_alerts(
            self._svc, current_identity(), request.ward_code.strip(), request.after_cursor
        )
        async for alert in feed:
            yield pb.WatchAlertsResponse(alert=convert.alert_message(alert))

    async def AcknowledgeAlert(
        self, request: pb.AcknowledgeAlertRequest, context: Context
    ) -> pb.AcknowledgeAlertResponse:
        key = _key("AcknowledgeAlert", request, request.request_id)
        result = await alerts.acknowledge_alert(
            self._svc,
            current_identity(),
            request.alert_id.strip(),
            key,
            lambda a: pb.AcknowledgeAlertResponse(
                alert=convert.alert_message(a)
            ).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.AcknowledgeAlertResponse.FromString(result.data)
        return pb.AcknowledgeAlertResponse(alert=convert.alert_message(result))

    async def VerifyAlert(
        self, request: pb.VerifyAlertRequest, context: Context
    ) -> pb.VerifyAlertResponse:
        key = _key("VerifyAlert", request, request.request_id)
        outcome, care = convert.verification_input(request)
        result = await alerts.verify_alert(
            self._svc,
            current_identity(),
            request.alert_id.strip(),
            outcome,
            care,
            request.note,
            key,
            lambda v: convert.verify_response(v).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.VerifyAlertResponse.FromString(result.data)
        return convert.verify_response(result)

    async def ListReviewItems(
        self, request: pb.ListReviewItemsRequest, context: Context
    ) -> pb.ListReviewItemsResponse:
        ward = request.ward_code.strip()
        bound = ("ListReviewItems", ward)
        page = page_request(
            request.page_size, request.page_token, bound, default=100, maximum=MAX_PAGE_SIZE
        )
        result = await alerts.list_review_items(self._svc, current_identity(), ward, page)
        token = encode_token(result.after, bound) if result.after is not None else ""
        return pb.ListReviewItemsResponse(
            review_items=[convert.review_item_message(i) for i in result.items],
            next_page_token=token,
        )

    async def SummarizeAlerts(
        self, request: pb.SummarizeAlertsRequest, context: Context
    ) -> pb.SummarizeAlertsResponse:
        rows = await alerts.summarize_alerts(
            self._svc, current_identity(), convert.summary_query(request)
        )
        return pb.SummarizeAlertsResponse(summaries=[convert.summary_message(r) for r in rows])

    async def ListScans(
        self, request: pb.ListScansRequest, context: Context
    ) -> pb.ListScansResponse:
        citizen_id = request.citizen_id.strip()
        start = timestamp_from_proto(request.start_time)
        end = timestamp_from_proto(request.end_time)
        bound = (
            "ListScans",
            citizen_id,
            start.isoformat() if start else "",
            end.isoformat() if end else "",
        )
        page = page_request(
            request.page_size, request.page_token, bound, default=100, maximum=MAX_PAGE_SIZE
        )
        result = await scans.list_scans(self._svc, current_identity(), citizen_id, start, end, page)
        token = encode_token(result.after, bound) if result.after is not None else ""
        return pb.ListScansResponse(
            scans=[convert.scan_message(s) for s in result.scans], next_page_token=token
        )

    async def FindCoPresence(
        self, request: pb.FindCoPresenceRequest, context: Context
    ) -> pb.FindCoPresenceResponse:
        found = await scans.find_co_presence(
            self._svc,
            current_identity(),
            request.citizen_id.strip(),
            timestamp_from_proto(request.start_time),
            timestamp_from_proto(request.end_time),
            request.window_minutes,
        )
        return pb.FindCoPresenceResponse(candidates=[convert.co_presence_message(c) for c in found])
