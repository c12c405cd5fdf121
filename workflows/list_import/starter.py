"""How a staged list enters: start its ListImport workflow, or join the one that runs."""

from __future__ import annotations

import datetime as dt
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

# A query is answered by a worker: without one it fails after this, instead of waiting.
QUERY_TIMEOUT = dt.timedelta(seconds=5)


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
    # The import the workflow was started with is its input, in its first event: read from the
    # history, it needs no worker to answer (a query does).
    async for event in handle.fetch_history_events():
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [running] = await client.data_converter.decode(payloads, [ListToImport])
        return Started(handle, running.import_id)
    raise RuntimeError(f"workflow {handle.id} has no history")


async def progress(handle: WorkflowHandle[object, ListImported]) -> ImportProgress:
    result: ImportProgress = await handle.query(
        PROGRESS, result_type=ImportProgress, rpc_timeout=QUERY_TIMEOUT
    )
    return result
