"""The ListImport workflow: apply a staged list's chunks one after another, each an activity
(case status's ApplyImportChunk, idempotent by the chunk), then complete the import (the
summary and the comparison with the ward's previous list).

Chunks run in order, one at a time: a resident on two chunks gets the second row on top of the
first, as in one stream, and two chunks never lock the same residents against each other. The
rows stay in case status; the history holds only chunk numbers and counts (a list of 500
chunks, the most case status stages, is near 3,000 events), so it needs no continue-as-new.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.list_import.models import (
        PROGRESS,
        WORKFLOW,
        ChunkApplied,
        ChunkToApply,
        ImportProgress,
        ImportSummary,
        ImportToComplete,
        ListImported,
        ListToImport,
        chunk_request_id,
        complete_request_id,
    )
    from workflows.retries import SERVICE_RETRY

# One chunk is one call that verifies up to 5,000 rows with the registry and applies them (its
# deadline is 25 s in the gateway; at the 1,500-2,600 rows a second the import bench measures,
# a full chunk takes 2-4 s): an attempt still running at 30 s is lost with its worker, and the
# retry takes over, answered from the chunk's recorded counts if the lost attempt committed.
CHUNK_TIMEOUT = dt.timedelta(seconds=30)
# Completing reads every row's key once (up to 100,000).
COMPLETE_TIMEOUT = dt.timedelta(seconds=30)


class _Refused(Exception):
    """Case status refused a step for good."""


@workflow.defn(name=WORKFLOW)
class ListImport:
    @workflow.init
    def __init__(self, staged: ListToImport) -> None:
        self._progress = ImportProgress(
            staged.import_id, "applying", 0, staged.chunks, 0, staged.rows
        )

    @workflow.run
    async def run(self, staged: ListToImport) -> ListImported:
        try:
            summary = await self._import(staged)
        except _Refused as refused:
            self._progress.step = "refused"
            self._progress.reason = str(refused)
            return ListImported(staged.import_id, "REFUSED", reason=str(refused))
        self._progress.step = "done"
        return ListImported(staged.import_id, "DONE", summary)

    async def _import(self, staged: ListToImport) -> ImportSummary:
        for n in range(staged.chunks):
            chunk: ChunkApplied = await self._call(
                "apply_import_chunk",
                ChunkToApply(staged.import_id, n, chunk_request_id(staged.import_id, n)),
                ChunkApplied,
                CHUNK_TIMEOUT,
            )
            self._progress.add(chunk)
        self._progress.step = "completing"
        summary: ImportSummary = await self._call(
            "complete_import",
            ImportToComplete(staged.import_id, complete_request_id(staged.import_id)),
            ImportSummary,
            COMPLETE_TIMEOUT,
        )
        return summary

    async def _call(
        self, activity: str, arg: object, result_type: type, limit: dt.timedelta
    ) -> Any:
        try:
            return await workflow.execute_activity(
                activity,
                arg,
                start_to_close_timeout=limit,
                retry_policy=SERVICE_RETRY,
                result_type=result_type,
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise _Refused(f"{activity}: {cause.type} {cause.message}") from None
            raise

    @workflow.query(name=PROGRESS)
    def progress(self) -> ImportProgress:
        return self._progress
