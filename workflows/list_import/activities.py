"""The ListImport workflow's activities: one case-status call each (the gateway's counts
have the models' fields, by name)."""

from __future__ import annotations

import dataclasses

from temporalio import activity

from workflows.gateways.case_status import CaseStatusGateway
from workflows.list_import.models import (
    ChunkApplied,
    ChunkToApply,
    ImportSummary,
    ImportToComplete,
)


class ListImportActivities:
    def __init__(self, case_status: CaseStatusGateway) -> None:
        self._case_status = case_status

    @activity.defn(name="apply_import_chunk")
    async def apply_import_chunk(self, chunk: ChunkToApply) -> ChunkApplied:
        got = await self._case_status.apply_import_chunk(
            chunk.import_id, chunk.chunk_number, chunk.request_id
        )
        return ChunkApplied(**dataclasses.asdict(got))

    @activity.defn(name="complete_import")
    async def complete_import(self, done: ImportToComplete) -> ImportSummary:
        got = await self._case_status.complete_import(done.import_id, done.request_id)
        return ImportSummary(**dataclasses.asdict(got))
