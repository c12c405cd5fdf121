"""The isolation follow-up: its timer on the time-skipping test server (with a recording
activity in place of case status), and its activity against the real case-status service."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import pytest
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.kit.auth import TokenIssuer
from services.kit.server import Server
from tests.integration.case_status_client import status_request
from tests.integration.registry_client import SERVICE_CALLER, register
from workflows.gateways.case_status import CaseStatusGateway
from workflows.isolation.activities import IsolationActivities
from workflows.isolation.models import (
    RESCHEDULE,
    STOP,
    FollowUpResult,
    IsolationPeriod,
    PeriodEnded,
    workflow_id,
)
from workflows.isolation.workflow import IsolationFollowUp, period_over_at
from workflows.retries import VIETNAM

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


class RecordingActivity:
    """Stands in for case status in the timer tests: records when it ran and with what."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self._env = env
        self.calls: list[tuple[PeriodEnded, dt.datetime]] = []

    @activity.defn(name="complete_isolation")
    async def complete_isolation(self, ended: PeriodEnded) -> str:
        self.calls.append((ended, await self._env.get_current_time()))
        return "CLEARED"


def _queue() -> str:
    return f"isolation-{uuid.uuid4().hex}"


def _vietnam_today(env_now: dt.datetime) -> dt.date:
    return env_now.astimezone(VIETNAM).date()


async def test_the_follow_up_waits_until_the_day_after_the_last_day(
    time_skipping: WorkflowEnvironment,
) -> None:
    recorder = RecordingActivity(time_skipping)
    queue = _queue()
    last_day = _vietnam_today(await time_skipping.get_current_time()) + dt.timedelta(days=10)
    async with Worker(
        time_skipping.client,
        task_queue=queue,
        workflows=[IsolationFollowUp],
        activities=[recorder.complete_isolation],
    ):
        result = await time_skipping.client.execute_workflow(
            IsolationFollowUp.run,
            IsolationPeriod("001085000001", last_day.isoformat()),
            id=f"isolation-timer-{uuid.uuid4()}",
            task_queue=queue,
        )
    assert result == FollowUpResult("001085000001", last_day.isoformat(), "CLEARED")
    [(ended, ran_at)] = recorder.calls
    over = period_over_at(last_day.isoformat())
    assert ended.ended_at == over.isoformat()
    # The timer, not the start, let the activity run: ten days passed on the server's clock.
    assert ran_at >= over


async def test_a_moved_end_reschedules_and_a_stop_ends_without_completing(
    time_skipping: WorkflowEnvironment,
) -> None:
    recorder = RecordingActivity(time_skipping)
    queue = _queue()
    today = _vietnam_today(await time_skipping.get_current_time())
    first, moved = today + dt.timedelta(days=5), today + dt.timedelta(days=9)
    async with Worker(
        time_skipping.client,
        task_queue=queue,
        workflows=[IsolationFollowUp],
        activities=[recorder.complete_isolation],
    ):
        rescheduled = await time_skipping.client.start_workflow(
            IsolationFollowUp.run,
            IsolationPeriod("001085000002", first.isoformat()),
            id=f"isolation-moved-{uuid.uuid4()}",
            task_queue=queue,
        )
        # Signal-with-start, as the status propagation sends a new period: the workflow
        # exists already, so this only moves its end.
        await time_skipping.client.start_workflow(
            IsolationFollowUp.run,
            IsolationPeriod("001085000002", first.isoformat()),
            id=rescheduled.id,
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=RESCHEDULE,
            start_signal_args=[IsolationPeriod("001085000002", moved.isoformat())],
        )
        stopped = await time_skipping.client.start_workflow(
            IsolationFollowUp.run,
            IsolationPeriod("001085000003", first.isoformat()),
            id=f"isolation-stopped-{uuid.uuid4()}",
            task_queue=queue,
            start_signal=STOP,
        )
        assert (await stopped.result()).outcome == "STOPPED"
        assert (await rescheduled.result()).isolation_end == moved.isoformat()
        assert await rescheduled.query("progress") == {
            "step": "done: CLEARED",
            "isolation_end": moved.isoformat(),
        }
    [(ended, ran_at)] = recorder.calls
    assert ended.citizen_id == "001085000002"
    assert ended.isolation_end == moved.isoformat()
    assert ran_at >= period_over_at(moved.isoformat())


async def test_a_contact_whose_quarantine_ran_out_is_cleared_once(
    time_skipping: WorkflowEnvironment,
    case_status_server: Server,
    token_issuer: TokenIssuer,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
) -> None:
    resident = await register(registrar)
    cid = resident.citizen_id
    exposed = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    await cdc.RecordStatus(status_request(cid, at=exposed, classification=cpb.CLASSIFICATION_F1))
    end = (await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=cid))).status.isolation_end
    last_day = dt.date(end.year, end.month, end.day)
    token = token_issuer.issue(SERVICE_CALLER)
    gateway = CaseStatusGateway.connect(f"127.0.0.1:{case_status_server.port}", lambda: token)
    queue = _queue()
    try:
        async with Worker(
            time_skipping.client,
            task_queue=queue,
            workflows=[IsolationFollowUp],
            activities=[IsolationActivities(gateway).complete_isolation],
        ):
            # Two follow-ups of the same period (a redelivered event): one clearance.
            for attempt in range(2):
                result = await time_skipping.client.execute_workflow(
                    IsolationFollowUp.run,
                    IsolationPeriod(cid, last_day.isoformat()),
                    id=f"{workflow_id(cid)}-{attempt}",
                    task_queue=queue,
                )
                assert result.outcome == "CLEARED" if attempt == 0 else "SUPERSEDED"
    finally:
        await gateway.close()
    after = await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=cid))
    assert after.status.classification == cpb.CLASSIFICATION_CLEARED
    cleared = [e for e in after.timeline if e.classification == cpb.CLASSIFICATION_CLEARED]
    assert len(cleared) == 1
    assert cleared[0].effective_time.ToDatetime(dt.UTC) == period_over_at(last_day.isoformat())


async def test_an_f0_is_left_to_the_health_agency(
    time_skipping: WorkflowEnvironment,
    case_status_server: Server,
    token_issuer: TokenIssuer,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
) -> None:
    resident = await register(registrar)
    cid = resident.citizen_id
    confirmed = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    await cdc.RecordStatus(status_request(cid, at=confirmed, classification=cpb.CLASSIFICATION_F0))
    end = (await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=cid))).status.isolation_end
    token = token_issuer.issue(SERVICE_CALLER)
    gateway = CaseStatusGateway.connect(f"127.0.0.1:{case_status_server.port}", lambda: token)
    try:
        outcome = await IsolationActivities(gateway).complete_isolation(
            PeriodEnded(
                cid,
                f"{end.year:04d}-{end.month:02d}-{end.day:02d}",
                dt.datetime.now(dt.UTC).isoformat(),
            )
        )
    finally:
        await gateway.close()
    assert outcome == "AWAITS_DISCHARGE"
    after = await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=cid))
    assert after.status.classification == cpb.CLASSIFICATION_F0


async def test_a_refused_request_fails_the_activity_without_retrying(
    time_skipping: WorkflowEnvironment, case_status_server: Server, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.issue(SERVICE_CALLER)
    gateway = CaseStatusGateway.connect(f"127.0.0.1:{case_status_server.port}", lambda: token)
    queue = _queue()
    yesterday = dt.datetime.now(VIETNAM).date() - dt.timedelta(days=1)
    try:
        async with Worker(
            time_skipping.client,
            task_queue=queue,
            workflows=[IsolationFollowUp],
            activities=[IsolationActivities(gateway).complete_isolation],
        ):
            handle = await time_skipping.client.start_workflow(
                IsolationFollowUp.run,
                IsolationPeriod("not-a-citizen-id", yesterday.isoformat()),
                id=f"isolation-refused-{uuid.uuid4()}",
                task_queue=queue,
            )
            with pytest.raises(WorkflowFailureError) as failed:
                await handle.result()
    finally:
        await gateway.close()
    activity_failed = failed.value.cause
    assert isinstance(activity_failed, ActivityError)
    refusal = activity_failed.cause
    assert isinstance(refusal, ApplicationError)
    assert (refusal.type, refusal.message) == ("INVALID_ARGUMENT", "INVALID_INPUT")
    history = await handle.fetch_history()
    attempts = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert [e.activity_task_started_event_attributes.attempt for e in attempts] == [1]
