"""Every workflow type replays its recorded histories (tests/histories): a change to running
workflow logic that is not guarded by ``workflow.patched`` fails here before it fails in
production."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workflows.isolation.models import WORKFLOW as ISOLATION
from workflows.isolation.models import IsolationPeriod, PeriodEnded
from workflows.worker import WORKFLOWS

HISTORIES = Path(__file__).parent.parent / "histories"


def _history(name: str) -> WorkflowHistory:
    path = HISTORIES / f"{name}.json"
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_workflow_type_has_a_recorded_history() -> None:
    # Workflow classes are named after their workflow type.
    recorded = {path.stem for path in HISTORIES.glob("*.json")}
    assert recorded >= {_file_name(w.__name__) for w in WORKFLOWS}


def _file_name(workflow_name: str) -> str:
    """IsolationFollowUp -> isolation_follow_up."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in workflow_name).lstrip("_")


@pytest.mark.parametrize("name", sorted(p.stem for p in HISTORIES.glob("*.json")))
async def test_recorded_history_replays(name: str) -> None:
    await Replayer(workflows=WORKFLOWS).replay_workflow(_history(name))


@workflow.defn(name=ISOLATION)
class ReorderedFollowUp:
    """The follow-up with its steps swapped: completes first, waits afterwards."""

    @workflow.run
    async def run(self, period: IsolationPeriod) -> str:
        outcome: str = await workflow.execute_activity(
            "complete_isolation",
            PeriodEnded(period.citizen_id, period.isolation_end, ""),
            start_to_close_timeout=dt.timedelta(minutes=1),
            result_type=str,
        )
        await workflow.sleep(dt.timedelta(days=1))
        return outcome


async def test_a_reordered_workflow_fails_replay() -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[ReorderedFollowUp]).replay_workflow(
            _history("isolation_follow_up")
        )
