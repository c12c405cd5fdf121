"""Case status, as the workflows use it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc

from services.kit.channels import open_channel, retry_service_config
from workflows.gateways import final_or_retry

SERVICE = pb.DESCRIPTOR.services_by_name["CaseStatusService"].full_name
# RecordStatus is idempotent by its request id and RefreshResidence by what it does (it takes
# the registry's current record), so they may be retried like the read; a chunk is applied
# once whatever the call (ApplyImportChunk), and an import completed once.
_IDEMPOTENT = (
    "GetCaseStatus",
    "RecordStatus",
    "RefreshResidence",
    "ApplyImportChunk",
    "CompleteImport",
)
WORKFLOW_AGENCY = "dancu-workflows"
# A chunk verifies up to 5,000 rows with the registry and applies them in one transaction:
# longer than the 10 s every other call gets, shorter than the activity's 30 s.
CHUNK_CALL_DEADLINE_SECONDS = 25.0


@dataclass(frozen=True)
class ChunkCounts:
    """A staged chunk's rows by outcome, as case status recorded them when it was applied."""

    chunk_number: int
    rows: int
    applied: int
    unchanged: int
    needs_review: int
    rejected: int


@dataclass(frozen=True)
class ImportCounts:
    """A completed import's summary."""

    import_id: str
    list_id: str
    rows: int
    applied: int
    unchanged: int
    needs_review: int
    rejected: int
    new_residents: int
    changed_residents: int
    dropped_residents: int


@dataclass(frozen=True)
class CurrentCase:
    citizen_id: str
    # F0...F3, CLEARED or "" (never a case); RECOVERED, DECEASED or "".
    classification: str
    outcome: str
    isolation_end: dt.date | None


def _name(enum_name: str, prefix: str) -> str:
    return "" if enum_name.endswith("UNSPECIFIED") else enum_name.removeprefix(prefix)


class CaseStatusGateway:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.CaseStatusServiceStub(channel)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> CaseStatusGateway:
        config = retry_service_config(SERVICE, _IDEMPOTENT)
        return cls(open_channel(address, token=token, service_config=config))

    async def close(self) -> None:
        await self._channel.close()

    async def current(self, citizen_id: str) -> CurrentCase:
        try:
            response = await self._stub.GetCaseStatus(
                pb.GetCaseStatusRequest(citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        status = response.status
        end = status.isolation_end
        return CurrentCase(
            citizen_id=citizen_id,
            classification=_name(cpb.Classification.Name(status.classification), "CLASSIFICATION_"),
            outcome=_name(cpb.Outcome.Name(status.outcome), "OUTCOME_"),
            isolation_end=dt.date(end.year, end.month, end.day) if end.year else None,
        )

    async def refresh_residence(self, citizen_id: str) -> bool:
        """False when case status holds nothing of the resident."""
        try:
            response = await self._stub.RefreshResidence(
                pb.RefreshResidenceRequest(citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return response.refreshed

    async def clear(
        self, citizen_id: str, effective: dt.datetime, reason: str, request_id: str
    ) -> None:
        """Records CLEARED at ``effective`` (the end of a contact's quarantine)."""
        event = cpb.StatusEvent(
            citizen_id=citizen_id,
            classification=cpb.CLASSIFICATION_CLEARED,
            reason=reason,
            source=cpb.Source(agency=WORKFLOW_AGENCY, report_ref=request_id),
        )
        event.effective_time.FromDatetime(effective)
        try:
            await self._stub.RecordStatus(
                pb.RecordStatusRequest(request_id=request_id, event=event)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None

    async def record_death(
        self, citizen_id: str, effective: dt.datetime, agency: str, report_ref: str, request_id: str
    ) -> str:
        """Records the outcome DECEASED at ``effective``, sourced to the reporting agency; the
        recorded event's id. Its status change alerts the wards (the propagation workflow)."""
        event = cpb.StatusEvent(
            citizen_id=citizen_id,
            outcome=cpb.OUTCOME_DECEASED,
            reason="death from COVID-19 reported",
            source=cpb.Source(agency=agency or WORKFLOW_AGENCY, report_ref=report_ref),
        )
        event.effective_time.FromDatetime(effective)
        try:
            response = await self._stub.RecordStatus(
                pb.RecordStatusRequest(request_id=request_id, event=event)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return str(response.event.event_id)

    async def retract_death(self, citizen_id: str, reason: str, request_id: str) -> str:
        """Retracts the resident's outcome DECEASED with a correction event (no values: the
        corrected event no longer counts, and stays in the timeline); the correction's event
        id, or "" when no standing DECEASED event is left to retract."""
        try:
            response = await self._stub.GetCaseStatus(
                pb.GetCaseStatusRequest(citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                # Never a case (a death registered without a COVID-19 record): nothing to
                # retract.
                return ""
            raise final_or_retry(error) from None
        standing = [
            e
            for e in response.timeline
            if e.outcome == cpb.OUTCOME_DECEASED and not e.superseded_by_event_id
        ]
        if not standing:
            # Nothing to retract, or this request retracted it already (a retry whose first
            # attempt's answer was lost): the correction it recorded, if any.
            mine = [e for e in response.timeline if e.source.report_ref == request_id]
            return str(mine[-1].event_id) if mine else ""
        death = standing[-1]
        event = cpb.StatusEvent(
            citizen_id=citizen_id,
            corrects_event_id=death.event_id,
            reason=reason,
            source=cpb.Source(agency=WORKFLOW_AGENCY, report_ref=request_id),
        )
        event.effective_time.CopyFrom(death.effective_time)
        try:
            recorded = await self._stub.RecordStatus(
                pb.RecordStatusRequest(request_id=request_id, event=event)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return str(recorded.event.event_id)

    async def apply_import_chunk(
        self, import_id: str, chunk_number: int, request_id: str
    ) -> ChunkCounts:
        """Applies a staged chunk (once: a retry gets the counts recorded the first time)."""
        try:
            response = await self._stub.ApplyImportChunk(
                pb.ApplyImportChunkRequest(
                    request_id=request_id, import_id=import_id, chunk_number=chunk_number
                ),
                timeout=CHUNK_CALL_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        got = response.outcome
        return ChunkCounts(
            got.chunk_number, got.rows, got.applied, got.unchanged, got.needs_review, got.rejected
        )

    async def complete_import(self, import_id: str, request_id: str) -> ImportCounts:
        try:
            response = await self._stub.CompleteImport(
                pb.CompleteImportRequest(request_id=request_id, import_id=import_id),
                timeout=CHUNK_CALL_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        s = response.summary
        return ImportCounts(
            s.import_id,
            s.list_id,
            s.rows,
            s.applied,
            s.unchanged,
            s.needs_review,
            s.rejected,
            s.new_residents,
            s.changed_residents,
            s.dropped_residents,
        )
