"""Staged list imports: a list too large for one call is staged in chunks, each chunk is then
verified and applied in a transaction of its own (by the ListImport workflow, one activity per
chunk), and the import is completed with its summary.

The rows of a chunk go through ``imports.results_of_rows``, the pipeline ImportCaseList runs
on a whole list, so a list gives the same results staged or whole. Two things make that hold
across chunks: row numbers are checked against the whole list (a number repeated in a later
chunk is a duplicate, as it would be in one stream), and chunks are applied in order, each
reading the events the ones before it wrote.

Idempotency: StageImport by its request id (the request log); a staged chunk by its number
(the same rows again are accepted, other rows refused); ApplyImportChunk by the chunk itself,
whose row is locked while it is applied and records its counts in the same transaction, so a
second call (a retried activity, with any request id) finds it applied and returns the counts
recorded the first time; CompleteImport by the import's state.

Scope: a staged import keeps who staged it (subject, agency, wards). Its chunks are applied
with that caller's scope and name, whoever applies them (the workflow calls with the worker's
nationwide service token): ward police learn nothing of residents outside their wards through
a staged list either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.case_status.domain.imports import (
    MAX_CHUNKS_PER_IMPORT,
    MAX_ROWS_PER_CHUNK,
    ChunkCounts,
    ImportHeader,
    ImportRecord,
    ImportState,
    ImportSummary,
    StagedChunk,
    SubmittedRow,
    summarise,
)
from services.case_status.ports import ResultEncoder
from services.case_status.use_cases import CASE, CaseStatusService, _replay, _transaction
from services.case_status.use_cases.imports import (
    IMPORT,
    check_ward,
    import_in_scope,
    results_of_rows,
    validate_header,
)
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import (
    AlreadyExists,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Validator,
)
from services.kit.request_ids import IdempotencyKey, StoredResponse


@dataclass(frozen=True)
class StagedImport:
    import_id: str
    rows: int
    chunks: int


@dataclass(frozen=True)
class ChunkStaged:
    import_id: str
    chunk_number: int
    rows: int
    staged_chunks: int
    staged_rows: int


@dataclass(frozen=True)
class ChunkApplied:
    import_id: str
    chunk_number: int
    counts: ChunkCounts


def _owner(record: ImportRecord) -> Identity:
    """Who staged the import, as the rows are verified and applied for them."""
    return Identity(record.staged_by, record.agency, frozenset(), frozenset(record.staged_wards))


async def stage_import(
    svc: CaseStatusService,
    identity: Identity,
    header: ImportHeader,
    rows: int,
    chunks: int,
    key: IdempotencyKey,
    encode: ResultEncoder[StagedImport],
) -> StagedImport | StoredResponse:
    validate_header(svc, header, rows)
    assert header.list_date is not None
    v = Validator()
    v.check(rows >= 0, "rows", "ROWS_INVALID", "cannot be negative")
    v.check(
        0 <= chunks <= MAX_CHUNKS_PER_IMPORT,
        "chunks",
        "TOO_MANY_CHUNKS",
        f"0 to {MAX_CHUNKS_PER_IMPORT} chunks",
    )
    v.check(
        chunks <= rows <= chunks * MAX_ROWS_PER_CHUNK,
        "chunks",
        "CHUNKS_DO_NOT_FIT",
        f"each chunk holds 1 to {MAX_ROWS_PER_CHUNK} rows",
    )
    v.raise_if_any()
    method = "StageImport"
    async with _transaction(svc, identity, method, [], key.request_id) as uow:
        check_ward(identity, header.ward_code)
        replayed = await _replay(uow, method, key, [])
        if replayed is not None:
            return replayed
        import_id = str(uuid.uuid4())
        record = ImportRecord(
            import_id,
            identity.agency,
            header.request_id,
            header.list_id,
            header.ward_code,
            header.list_date,
            svc.clock.now(),
            ImportSummary(import_id, header.list_id, rows=rows),
            state=ImportState.STAGED,
            chunks=chunks,
            staged_by=identity.subject,
            staged_wards=tuple(sorted(identity.wards)),
        )
        await uow.cases.add_import(record, [])
        staged = StagedImport(import_id, rows, chunks)
        await uow.complete(key, encode(staged))
        await uow.audit(AuditEvent(method, IMPORT, (import_id,), "ok", key.request_id))
        await uow.commit()
        return staged


async def stage_rows(
    svc: CaseStatusService,
    identity: Identity,
    import_id: str,
    chunk_number: int,
    rows: list[SubmittedRow],
    fingerprint: str,
) -> ChunkStaged:
    """Stages one chunk; ``fingerprint`` identifies its rows as sent."""
    v = Validator()
    v.check(
        1 <= len(rows) <= MAX_ROWS_PER_CHUNK,
        "rows",
        "CHUNK_SIZE",
        f"give 1 to {MAX_ROWS_PER_CHUNK} rows",
    )
    v.raise_if_any()
    method = "StageImportRows"
    async with _transaction(svc, identity, method, []) as uow:
        record = await import_in_scope(uow, identity, import_id, for_update=True)
        if record.agency != identity.agency:
            raise Forbidden("IMPORT_OF_ANOTHER_AGENCY", "the list was staged by another agency")
        v.check(
            0 <= chunk_number < record.chunks,
            "chunk_number",
            "CHUNK_NUMBER_INVALID",
            f"the import has {record.chunks} chunks, numbered from 0",
        )
        v.raise_if_any()
        staging = await uow.cases.staging(import_id)
        existing = next((c for c in staging.chunks if c.chunk_number == chunk_number), None)
        if existing is not None and existing.fingerprint != fingerprint:
            raise AlreadyExists("CHUNK_ALREADY_STAGED", "the chunk was staged with other rows")
        staged_rows = sum(len(c.row_numbers) for c in staging.chunks)
        if existing is None and record.state is not ImportState.STAGED:
            raise PreconditionFailed("IMPORT_COMPLETE", "the import is complete")
        if existing is None:
            v.check(
                staged_rows + len(rows) <= record.summary.rows,
                "rows",
                "TOO_MANY_ROWS",
                f"the import announced {record.summary.rows} rows",
            )
            v.raise_if_any()
            chunk = StagedChunk(chunk_number, tuple(r.row_number for r in rows), fingerprint)
            await uow.cases.add_chunk(import_id, chunk, rows)
            staged_rows += len(rows)
        result = ChunkStaged(
            import_id,
            chunk_number,
            len(rows),
            len(staging.chunks) + (existing is None),
            staged_rows,
        )
        outcome = "ok" if existing is None else "replayed"
        await uow.audit(AuditEvent(method, IMPORT, (import_id,), outcome))
        await uow.commit()
        return result


async def apply_chunk(
    svc: CaseStatusService,
    identity: Identity,
    import_id: str,
    chunk_number: int,
    key: IdempotencyKey,
    encode: ResultEncoder[ChunkApplied],
) -> ChunkApplied | StoredResponse:
    method = "ApplyImportChunk"
    resource_ids: list[str] = []
    async with _transaction(svc, identity, method, resource_ids, key.request_id) as uow:
        replayed = await _replay(uow, method, key, [])
        if replayed is not None:
            return replayed
        record = await import_in_scope(uow, identity, import_id)
        staging = await uow.cases.staging(import_id)
        if not staging.complete(record):
            raise PreconditionFailed("IMPORT_NOT_STAGED", "not every chunk is staged yet")
        found = await uow.cases.chunk_rows_for_update(import_id, chunk_number)
        if found is None:
            raise NotFound("CHUNK_NOT_FOUND", "the import has no such chunk")
        chunk, rows = found
        if chunk.applied is not None:
            # Applied by an earlier call (a retry whose answer was lost): its counts.
            result = ChunkApplied(import_id, chunk_number, chunk.applied)
            await uow.complete(key, encode(result))
            await uow.audit(AuditEvent(method, IMPORT, (import_id,), "replayed", key.request_id))
            await uow.commit()
            return result
        start = staging.first_position(chunk_number)
        positioned = list(enumerate(rows, start=start))
        now = svc.clock.now()
        stored = await results_of_rows(
            svc, uow, _owner(record), record.list_id, positioned, staging.first_positions(), now
        )
        await uow.cases.add_import_rows(import_id, stored)
        counts = ChunkCounts.of(s.result for s in stored)
        await uow.cases.save_chunk_applied(import_id, chunk_number, counts)
        result = ChunkApplied(import_id, chunk_number, counts)
        await uow.complete(key, encode(result))
        resource_ids.extend(sorted({s.result.citizen_id for s in stored if s.result.citizen_id}))
        await uow.audit(AuditEvent(method, CASE, tuple(resource_ids), "ok", key.request_id))
        await uow.commit()
        return result


async def complete_import(
    svc: CaseStatusService,
    identity: Identity,
    import_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[ImportSummary],
) -> ImportSummary | StoredResponse:
    method = "CompleteImport"
    async with _transaction(svc, identity, method, [], key.request_id) as uow:
        replayed = await _replay(uow, method, key, [])
        if replayed is not None:
            return replayed
        record = await import_in_scope(uow, identity, import_id, for_update=True)
        if record.state is ImportState.COMPLETE:
            summary = record.summary
            outcome = "replayed"
        else:
            staging = await uow.cases.staging(import_id)
            if not staging.complete(record) or staging.pending():
                raise PreconditionFailed(
                    "IMPORT_CHUNKS_PENDING", "not every chunk is staged and applied yet"
                )
            tallies = await uow.cases.import_tallies(import_id)
            previous = await uow.cases.previous_import_rows(record)
            summary = summarise(import_id, record.list_id, tallies, previous)
            await uow.cases.save_import_complete(import_id, summary)
            outcome = "ok"
        await uow.complete(key, encode(summary))
        await uow.audit(AuditEvent(method, IMPORT, (import_id,), outcome, key.request_id))
        await uow.commit()
        return summary
