"""How a death report enters: start the resident's death workflow, or join the one that runs
or ran."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.death.models import REPORT, WORKFLOW, DeathProgress, DeathReport, workflow_id


@dataclass(frozen=True)
class Reported:
    workflow_id: str
    # False: the report joined a process that ran already.
    running: bool
    # The report disagrees with the one the finished process recorded (review by hand).
    conflicts_with_recorded: bool = False


async def report_death(client: Client, report: DeathReport, task_queue: str) -> Reported:
    """Signal-with-start: the first report starts the process, a later one while it runs is
    delivered to it (a conflicting one holds it for review). A report after it finished starts
    nothing: the recorded death is compared with it instead."""
    wid = workflow_id(report.citizen_id)
    try:
        await client.start_workflow(
            WORKFLOW,
            report,
            id=wid,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A death is recorded once: a finished process is never run again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal=REPORT,
            start_signal_args=[report],
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(wid)
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            # Refused as a start yet running: the server's view changed between the two
            # calls. The report still goes to it.
            await handle.signal(REPORT, report)
            return Reported(wid, running=True)
        # The report the finished process recorded is its input, in its first event.
        history = await handle.fetch_history()
        recorded = history.events[0].workflow_execution_started_event_attributes.input.payloads
        [original] = await client.data_converter.decode(recorded, [DeathReport])
        conflicts = (original.death_date, original.cause.strip()) != (
            report.death_date,
            report.cause.strip(),
        )
        return Reported(wid, running=False, conflicts_with_recorded=conflicts)
    return Reported(wid, running=True)


async def progress(client: Client, citizen_id: str) -> DeathProgress:
    result: DeathProgress = await client.get_workflow_handle(workflow_id(citizen_id)).query(
        "progress", result_type=DeathProgress
    )
    return result
