"""CaseStatusService over gRPC: reads requests, calls the use cases, writes responses.

Thin on purpose: validation and rules live in the domain, transactions in the use cases,
errors are mapped by the server's error interceptor.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable

from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc
from google.protobuf.message import Message

from services.case_status import use_cases
from services.case_status.api import convert
from services.case_status.domain.imports import MAX_ROWS_PER_IMPORT, SubmittedRow
from services.case_status.domain.model import Actor
from services.case_status.domain.tracing import MAX_DEPTH
from services.case_status.use_cases import (
    CaseStatusService,
    imports,
    listing,
    staged_imports,
    zones,
)
from services.kit.auth import current_identity
from services.kit.errors import FieldViolation, InvalidInput
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
MAX_ROWS_PER_MESSAGE = 5000


def _stream_problem(field: str, reason: str, description: str) -> InvalidInput:
    return InvalidInput([FieldViolation(field, reason, description)])


async def _read_import(
    requests: AsyncIterator[pb.ImportCaseListRequest],
) -> tuple[pb.ImportHeader, list[SubmittedRow], str]:
    """The header, the rows, and the fingerprint of both (row by row, so the same list split
    into messages differently is the same request)."""
    header: pb.ImportHeader | None = None
    rows: list[SubmittedRow] = []
    digest = hashlib.sha256(b"ImportCaseList")
    async for request in requests:
        part = request.WhichOneof("part")
        if header is None:
            if part != "header":
                raise _stream_problem("header", "HEADER_FIRST", "the first message is the header")
            header = request.header
            digest.update(header.SerializeToString(deterministic=True))
            continue
        if part != "rows":
            raise _stream_problem("header", "HEADER_REPEATED", "send the header once, first")
        if len(request.rows.rows) > MAX_ROWS_PER_MESSAGE:
            raise _stream_problem(
                "rows", "TOO_MANY_ROWS", f"at most {MAX_ROWS_PER_MESSAGE} rows per message"
            )
        if len(rows) + len(request.rows.rows) > MAX_ROWS_PER_IMPORT:
            raise _stream_problem(
                "rows", "TOO_MANY_ROWS", f"at most {MAX_ROWS_PER_IMPORT} rows per import"
            )
        for row in request.rows.rows:
            data = row.SerializeToString(deterministic=True)
            digest.update(len(data).to_bytes(4, "big"))
            digest.update(data)
            rows.append(convert.import_row(row))
    if header is None:
        raise _stream_problem("header", "HEADER_REQUIRED", "the stream starts with a header")
    return header, rows, digest.hexdigest()


def _rows_fingerprint(rows: Iterable[pb.ImportRow]) -> str:
    """The rows as sent, row by row (as ImportCaseList's fingerprint reads them)."""
    digest = hashlib.sha256(b"StageImportRows")
    for row in rows:
        data = row.SerializeToString(deterministic=True)
        digest.update(len(data).to_bytes(4, "big"))
        digest.update(data)
    return digest.hexdigest()


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

    async def RefreshResidence(
        self, request: pb.RefreshResidenceRequest, context: Context
    ) -> pb.RefreshResidenceResponse:
        refreshed = await use_cases.refresh_residence(
            self._svc, current_identity(), request.citizen_id.strip()
        )
        return pb.RefreshResidenceResponse(refreshed=refreshed)

    async def ImportCaseList(
        self, request_iterator: AsyncIterator[pb.ImportCaseListRequest], context: Context
    ) -> pb.ImportCaseListResponse:
        identity = current_identity()
        message, rows, digest = await _read_import(request_iterator)
        validate_request_id(message.request_id.strip(), "header.request_id")
        header = convert.import_header(message)
        result = await imports.import_case_list(
            self._svc,
            identity,
            header,
            rows,
            IdempotencyKey(header.request_id, digest),
            lambda s: pb.ImportCaseListResponse(
                summary=convert.import_summary(s)
            ).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.ImportCaseListResponse.FromString(result.data)
        return pb.ImportCaseListResponse(summary=convert.import_summary(result))

    async def ListImportResults(
        self, request: pb.ListImportResultsRequest, context: Context
    ) -> pb.ListImportResultsResponse:
        import_id = request.import_id.strip()
        outcome = convert.row_outcome(request.outcome)
        query = ("ListImportResults", import_id, int(outcome or 0))
        page = page_request(
            request.page_size,
            request.page_token,
            query,
            default=1000,
            maximum=imports.MAX_RESULTS_PAGE,
        )
        result = await imports.list_import_results(
            self._svc,
            current_identity(),
            import_id,
            outcome,
            page.after[0] if page.after else None,
            page.size,
        )
        token = encode_token((result.after,), query) if result.after is not None else ""
        return pb.ListImportResultsResponse(
            results=[convert.row_result(r) for r in result.results], next_page_token=token
        )

    async def ResolveImportRow(
        self, request: pb.ResolveImportRowRequest, context: Context
    ) -> pb.ResolveImportRowResponse:
        key = _key("ResolveImportRow", request, request.request_id)
        result = await imports.resolve_import_row(
            self._svc,
            current_identity(),
            request.import_id.strip(),
            request.row_number,
            request.citizen_id.strip(),
            key,
            lambda r: pb.ResolveImportRowResponse(result=convert.row_result(r)).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.ResolveImportRowResponse.FromString(result.data)
        return pb.ResolveImportRowResponse(result=convert.row_result(result))

    async def StageImport(
        self, request: pb.StageImportRequest, context: Context
    ) -> pb.StageImportResponse:
        validate_request_id(request.header.request_id.strip(), "header.request_id")
        header = convert.import_header(request.header)
        key = IdempotencyKey(header.request_id, fingerprint("StageImport", request))

        def response(staged: staged_imports.StagedImport) -> pb.StageImportResponse:
            return pb.StageImportResponse(
                import_id=staged.import_id, rows=staged.rows, chunks=staged.chunks
            )

        result = await staged_imports.stage_import(
            self._svc,
            current_identity(),
            header,
            request.rows,
            request.chunks,
            key,
            lambda s: response(s).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.StageImportResponse.FromString(result.data)
        return response(result)

    async def StageImportRows(
        self, request: pb.StageImportRowsRequest, context: Context
    ) -> pb.StageImportRowsResponse:
        staged = await staged_imports.stage_rows(
            self._svc,
            current_identity(),
            request.import_id.strip(),
            request.chunk_number,
            [convert.import_row(row) for row in request.rows],
            _rows_fingerprint(request.rows),
        )
        return pb.StageImportRowsResponse(
            import_id=staged.import_id,
            chunk_number=staged.chunk_number,
            rows=staged.rows,
            staged_chunks=staged.staged_chunks,
            staged_rows=staged.staged_rows,
        )

    async def ApplyImportChunk(
        self, request: pb.ApplyImportChunkRequest, context: Context
    ) -> pb.ApplyImportChunkResponse:
        key = _key("ApplyImportChunk", request, request.request_id)
        result = await staged_imports.apply_chunk(
            self._svc,
            current_identity(),
            request.import_id.strip(),
            request.chunk_number,
            key,
            lambda a: pb.ApplyImportChunkResponse(
                outcome=convert.chunk_outcome(a)
            ).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.ApplyImportChunkResponse.FromString(result.data)
        return pb.ApplyImportChunkResponse(outcome=convert.chunk_outcome(result))

    async def CompleteImport(
        self, request: pb.CompleteImportRequest, context: Context
    ) -> pb.CompleteImportResponse:
        key = _key("CompleteImport", request, request.request_id)
        result = await staged_imports.complete_import(
            self._svc,
            current_identity(),
            request.import_id.strip(),
            key,
            lambda s: pb.CompleteImportResponse(
                summary=convert.import_summary(s)
            ).SerializeToString(),
        )
        if isinstance(result, StoredResponse):
            return pb.CompleteImportResponse.FromString(result.data)
        return pb.CompleteImportResponse(summary=convert.import_summary(result))
