"""Staged imports over real gRPC, a real database and the real registry: StageImport,
StageImportRows, ApplyImportChunk and CompleteImport, their idempotency (a chunk applied twice
applies nothing twice), their refusals, and the stager's scope kept when the workflow's service
token applies the chunks."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_status_service_pb2 as pb

from tests.integration.case_status_client import HOAN_KIEM_POLICE, TAY_HO_POLICE
from tests.integration.daily_lists import F0, F1, cohort, header, import_row, stage
from tests.integration.registry_client import (
    BA_DINH,
    HOAN_KIEM,
    SERVICE_CALLER,
    RegistryDatabase,
    expect_error,
    new_request_id,
)
from tests.integration.test_case_status_import import results

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

    from tests.integration.case_status_client import CaseStatusClients

WARD = "00091"
OUTCOME = pb.RowOutcome


def _apply(import_id: str, chunk: int, request_id: str | None = None) -> pb.ApplyImportChunkRequest:
    return pb.ApplyImportChunkRequest(
        request_id=request_id or new_request_id(), import_id=import_id, chunk_number=chunk
    )


def _complete(import_id: str) -> pb.CompleteImportRequest:
    return pb.CompleteImportRequest(request_id=new_request_id(), import_id=import_id)


async def test_stage_apply_twice_and_complete(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    a, b, c = await cohort(registrar, WARD, 3)
    service = case_status_clients.case_stub(SERVICE_CALLER)

    def row(n: int, who: str, classification: int = F1) -> pb.ImportRow:
        person = {"a": a, "b": b, "c": c}[who]
        return import_row(
            n,
            citizen_id=person.citizen_id,
            full_name=person.full_name,
            ward=WARD,
            classification=classification,
        )

    first = [row(1, "a"), row(2, "b"), row(3, "a")]
    # Row 1's number again in the second chunk: a duplicate, as in one stream.
    second = [row(4, "c"), row(1, "b", F0)]
    head = header(WARD)
    staged = await cdc.StageImport(pb.StageImportRequest(header=head, rows=5, chunks=2))
    again = await cdc.StageImport(pb.StageImportRequest(header=head, rows=5, chunks=2))
    assert again.import_id == staged.import_id
    iid = staged.import_id

    chunk0 = pb.StageImportRowsRequest(import_id=iid, chunk_number=0, rows=first)
    assert (await cdc.StageImportRows(chunk0)).staged_rows == 3
    # The same chunk again is accepted; other rows under its number are not.
    assert (await cdc.StageImportRows(chunk0)).staged_chunks == 1
    other = await expect_error(
        cdc.StageImportRows(pb.StageImportRowsRequest(import_id=iid, chunk_number=0, rows=second)),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert other.reason == "CHUNK_ALREADY_STAGED"
    beyond = await expect_error(
        cdc.StageImportRows(pb.StageImportRowsRequest(import_id=iid, chunk_number=2, rows=first)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert beyond.violations[0][1] == "CHUNK_NUMBER_INVALID"
    early = await expect_error(
        service.ApplyImportChunk(_apply(iid, 0)), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert early.reason == "IMPORT_NOT_STAGED"
    done = await cdc.StageImportRows(
        pb.StageImportRowsRequest(import_id=iid, chunk_number=1, rows=second)
    )
    assert (done.staged_chunks, done.staged_rows) == (2, 5)
    pending = await expect_error(
        service.CompleteImport(_complete(iid)), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert pending.reason == "IMPORT_CHUNKS_PENDING"

    applied = (await service.ApplyImportChunk(_apply(iid, 0))).outcome
    assert (applied.rows, applied.applied, applied.unchanged) == (3, 2, 1)
    # Applied again under another request id (a second workflow run, a person): nothing is
    # applied twice, and the answer is the one recorded.
    twice = (await service.ApplyImportChunk(_apply(iid, 0))).outcome
    assert twice == applied
    same_id = new_request_id()
    last = (await service.ApplyImportChunk(_apply(iid, 1, same_id))).outcome
    assert (last.applied, last.rejected) == (1, 1)
    assert (await service.ApplyImportChunk(_apply(iid, 1, same_id))).outcome == last
    events = await case_db.scalar(
        "SELECT count(*) FROM status_events WHERE source_list_id = %s", head.list_id
    )
    assert events == 3

    got = {r.row_number: r for r in await results(cdc, iid)}
    assert [got[n].outcome for n in (1, 2, 3, 4)] == [
        OUTCOME.ROW_OUTCOME_APPLIED,
        OUTCOME.ROW_OUTCOME_APPLIED,
        OUTCOME.ROW_OUTCOME_UNCHANGED,
        OUTCOME.ROW_OUTCOME_APPLIED,
    ]
    assert (got[-5].outcome, got[-5].reason) == (
        OUTCOME.ROW_OUTCOME_REJECTED,
        "ROW_NUMBER_DUPLICATE",
    )
    summary = (await service.CompleteImport(_complete(iid))).summary
    assert (summary.rows, summary.applied, summary.unchanged, summary.rejected) == (5, 3, 1, 1)
    assert summary.new_residents == 3
    assert (await cdc.CompleteImport(_complete(iid))).summary == summary
    # A complete import takes no more rows.
    closed = await expect_error(
        cdc.StageImportRows(pb.StageImportRowsRequest(import_id=iid, chunk_number=5, rows=first)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert closed.violations[0][1] == "CHUNK_NUMBER_INVALID"


async def test_a_staged_list_keeps_the_scope_of_who_staged_it(
    case_status_clients: CaseStatusClients,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    [mine] = await cohort(registrar, HOAN_KIEM, 1)
    [elsewhere] = await cohort(registrar, BA_DINH, 1)
    police = case_status_clients.case_stub(HOAN_KIEM_POLICE)
    service = case_status_clients.case_stub(SERVICE_CALLER)
    rows = [
        import_row(
            1,
            citizen_id=mine.citizen_id,
            full_name=mine.full_name,
            ward=HOAN_KIEM,
            classification=F1,
        ),
        import_row(
            2,
            citizen_id=elsewhere.citizen_id,
            full_name=elsewhere.full_name,
            ward=BA_DINH,
            classification=F1,
        ),
    ]
    denied = await expect_error(
        stage(case_status_clients.case_stub(TAY_HO_POLICE), header(HOAN_KIEM), rows, 1),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert denied.reason == "OUT_OF_JURISDICTION"
    head = header(HOAN_KIEM)
    staged = await stage(police, head, rows, 1)

    # The workflow applies with the nationwide service token; the rows are still matched as
    # the ward police who sent them may see residents, and the events name them.
    for chunk in range(2):
        await service.ApplyImportChunk(_apply(staged.import_id, chunk))
    await service.CompleteImport(_complete(staged.import_id))

    ours, theirs = await results(police, staged.import_id)
    assert ours.outcome == OUTCOME.ROW_OUTCOME_APPLIED
    assert (theirs.outcome, theirs.reason) == (OUTCOME.ROW_OUTCOME_REJECTED, "NO_MATCH")
    recorded = await case_db.rows(
        "SELECT recorded_by_subject, source_agency FROM status_events WHERE event_id = %s",
        ours.event_id,
    )
    assert recorded == [
        {
            "recorded_by_subject": HOAN_KIEM_POLICE.subject,
            "source_agency": HOAN_KIEM_POLICE.agency,
        }
    ]
    # Another ward's police do not see the import at all.
    await expect_error(
        case_status_clients.case_stub(TAY_HO_POLICE).ApplyImportChunk(_apply(staged.import_id, 0)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_review_waits_for_completion(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
) -> None:
    [person] = await cohort(registrar, WARD, 1)
    rows = [
        import_row(
            1,
            citizen_id=person.citizen_id,
            full_name=person.full_name,
            ward=WARD,
            classification=F1,
            # Another birth date than the registry's: a match with differences.
            birth_date=dt.date(1979, 3, 15),
        )
    ]
    staged = await stage(cdc, header(WARD), rows, 1)
    await cdc.ApplyImportChunk(_apply(staged.import_id, 0))
    [review] = await results(cdc, staged.import_id)
    assert review.outcome == OUTCOME.ROW_OUTCOME_NEEDS_REVIEW
    resolve = pb.ResolveImportRowRequest(
        request_id=new_request_id(),
        import_id=staged.import_id,
        row_number=1,
        citizen_id=person.citizen_id,
    )
    early = await expect_error(cdc.ResolveImportRow(resolve), grpc.StatusCode.FAILED_PRECONDITION)
    assert early.reason == "IMPORT_NOT_COMPLETE"
    await cdc.CompleteImport(_complete(staged.import_id))
    resolved = await cdc.ResolveImportRow(resolve)
    assert resolved.result.outcome == OUTCOME.ROW_OUTCOME_APPLIED
