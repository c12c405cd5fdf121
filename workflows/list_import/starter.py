"""How a staged list enters: start its ListImport workflow, or join the one that runs."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from workflows.list_import.models import (
    PROGRESS,
    WORKFLOW,
    ImportProgress,
    ListImported,
    ListToImport,
    workflow_id,
)


@dataclass(frozen=True)
class Started:
    handle: WorkflowHandle[object, ListImported]
    # The import the running workflow applies: another one than ``staged`` when the same list
    # (ward and list id) was staged again under another request id while the first ran.
    import_id: str


async def start_import(client: Client, staged: ListToImport, task_queue: str) -> Started:
    """Starts the list's workflow, or joins the one that runs (USE_EXISTING); a list imported
    before runs again (ALLOW_DUPLICATE), which for the same import id applies nothing twice."""
    handle: WorkflowHandle[object, ListImported] = await client.start_workflow(
        WORKFLOW,
        staged,
        id=workflow_id(staged.ward_code, staged.list_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        result_type=ListImported,
    )
    running = await progress(handle)
    return Started(handle, running.import_id)


async def progress(handle: WorkflowHandle[object, ListImported]) -> ImportProgress:
    result: ImportProgress = await handle.query(PROGRESS, result_type=ImportProgress)
    return result
