"""Many deaths reported at once while the worker process is killed (SIGKILL) again and again,
twice inside an activity: every process completes, every benefit case is paid, and the
databases hold one death, one DECEASED outcome, one benefit case and one payment per deceased
resident.

The worker runs as ``python -m workflows`` against the Temporal dev server and the session's
real services. The worst moment to die is inside an activity after the service committed its
effect and before the answer reached Temporal: the retry then runs the call again. The test
makes that moment certain. It holds a table lock in the service's database that the call
needs, waits until the workflow's pending activity shows STARTED (the call waits in the
service), freezes the worker (SIGSTOP: its connection stays open, so the service carries on),
releases the lock, waits until the service committed, and only then kills the worker. The retry
after the activity's timeout must be answered from the request id, not done twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as cspb
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as wfpb
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from services.kit.auth import TokenIssuer
from services.kit.server import Server
from tests.integration.registry_client import SERVICE_CALLER, RegistryDatabase, new_request_id
from tests.integration.welfare_client import CHECKER, OFFICER, family, record_stay
from tests.support.temporal import dev_server
from workflows.benefit_case.models import ASSIGN, DECIDE, Assignment, CaseClosed, Decision
from workflows.benefit_case.models import workflow_id as benefit_case_id
from workflows.death.models import DeathRecorded, DeathReport, workflow_id
from workflows.death.starter import report_death
from workflows.retries import VIETNAM

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

DEATHS = 10
STARTED = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED


class WorkerProcess:
    """``python -m workflows``, started and SIGKILLed by this test only (by its pid)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None
        # (why, exit status) of every kill.
        self.kills: list[tuple[str, int]] = []

    def start(self) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DANCU_")}
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "workflows"],
                env={**clean, **self._env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def freeze(self) -> None:
        """SIGSTOP: the worker's connections stay open (the services finish its calls), but it
        reads no answer and reports nothing to Temporal."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def kill(self, why: str) -> None:
        assert self._process is not None
        assert self._process.returncode is None, "the worker died before it was killed"
        self._process.send_signal(signal.SIGKILL)
        self.kills.append((why, self._process.wait(timeout=10)))
        self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None


async def _until(what: str, check: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _activity_running(
    handles: list[WorkflowHandle[Any, Any]], activity: str
) -> Callable[[], Awaitable[bool]]:
    """True once a workflow shows ``activity`` STARTED: a worker is inside it."""

    async def check() -> bool:
        for handle in handles:
            described = await handle.describe()
            for pending in described.raw_description.pending_activities:
                if pending.activity_type.name == activity and pending.state == STARTED:
                    return True
        return False

    return check


DEATHS_SQL = "SELECT count(*) FROM residents WHERE civil_status = 2 AND citizen_id = ANY(%s)"
PAID_SQL = (
    "SELECT count(*) FROM benefit_cases WHERE payment_reference <> '' AND case_id::text = ANY(%s)"
)


def _committed(database_url: str, sql: str, keys: list[str]) -> Callable[[], Awaitable[bool]]:
    """True once the service committed an effect for some of ``keys``."""

    async def check() -> bool:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            row = await (await conn.execute(sql.encode(), (keys,))).fetchone()
        return row is not None and int(row[0]) > 0

    return check


@asynccontextmanager
async def _table_locked(database_url: str, table: str) -> AsyncIterator[None]:
    """Writers of ``table`` wait (readers do not) until the block ends."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE".encode())
        try:
            yield
        finally:
            await conn.rollback()


def _waiting_on_lock(database_url: str, table: str) -> Callable[[], Awaitable[bool]]:
    """True once a transaction of the database waits for a lock on ``table``."""

    async def check() -> bool:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            row = await (
                await conn.execute(
                    b"SELECT count(*) FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation"
                    b" WHERE NOT l.granted AND c.relname = %s",
                    (table,),
                )
            ).fetchone()
        return row is not None and int(row[0]) > 0

    return check


async def _attempts(client: Client, workflow_ids: list[str], activity: str) -> list[int]:
    """The attempt that completed ``activity`` in each workflow's history."""
    found = []
    for wid in workflow_ids:
        history = await client.get_workflow_handle(wid).fetch_history()
        scheduled = {
            e.event_id
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name == activity
        }
        found += [
            e.activity_task_started_event_attributes.attempt
            for e in history.events
            if e.HasField("activity_task_started_event_attributes")
            and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
        ]
    return found


async def test_deaths_survive_a_worker_killed_again_and_again(
    tmp_path: Path,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    welfare_server: Server,
    registry_database_url: str,
    welfare_database_url: str,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
    registry_db: RegistryDatabase,
    welfare_db: RegistryDatabase,
) -> None:
    today = dt.datetime.now(VIETNAM).date()
    deceased = []
    for _ in range(DEATHS):
        father, _, _ = await family(registrar, dt.date(2001, 1, 1))
        await record_stay(
            cdc,
            father.citizen_id,
            cpb.CLASSIFICATION_F0,
            cpb.CARE_SETTING_HOSPITAL,
            today - dt.timedelta(days=6),
            None,
        )
        deceased.append(father.citizen_id)
    queue = f"faults-{uuid.uuid4().hex}"
    async with dev_server() as env:
        worker = WorkerProcess(
            _worker_env(
                env,
                queue,
                token_issuer,
                registry_server,
                case_status_server,
                alerts_server,
                welfare_server,
            ),
            tmp_path / "worker.log",
        )
        try:
            await _run_with_kills(
                env,
                worker,
                queue,
                deceased,
                today,
                registry_database_url,
                welfare_database_url,
                officer,
                checker,
            )
        finally:
            worker.stop()
        death_ids = [workflow_id(cid) for cid in deceased]
        deaths_retried = await _attempts(env.client, death_ids, "register_death")
        case_ids = [
            (
                await env.client.get_workflow_handle(wid, result_type=DeathRecorded).result()
            ).benefit_cases
            for wid in death_ids
        ]
        case_wids = [benefit_case_id(c) for cases in case_ids for c in cases]
        payments_retried = await _attempts(env.client, case_wids, "disburse")

    # The kills happened: four SIGKILLs, two of them with an activity inside a service call,
    # and those activities completed on a later attempt.
    assert worker.kills == [
        ("inside register_death: the registry committed, the answer was lost", -signal.SIGKILL),
        ("while the benefit cases waited for officers", -signal.SIGKILL),
        ("halfway through the officers' assignments", -signal.SIGKILL),
        ("inside disburse: welfare committed the payment, the answer was lost", -signal.SIGKILL),
    ]
    assert max(deaths_retried) > 1
    assert max(payments_retried) > 1
    # One death, one outcome, one case and one payment per deceased resident.
    for cid, cases in zip(deceased, case_ids, strict=True):
        registered = await registry_db.rows(
            "SELECT count(*) AS n FROM civil_status_history WHERE citizen_id = %s"
            " AND civil_status = 2",
            cid,
        )
        assert registered[0]["n"] == 1
        status = await cdc.GetCaseStatus(cspb.GetCaseStatusRequest(citizen_id=cid))
        assert [e.outcome for e in status.timeline].count(cpb.OUTCOME_DECEASED) == 1
        opened = await welfare_db.rows(
            "SELECT case_id::text AS case_id FROM benefit_cases WHERE subject_id = %s", cid
        )
        assert [row["case_id"] for row in opened] == cases
        [case_id] = cases
        paid = await welfare_db.rows(
            "SELECT count(*) AS n FROM outbox WHERE aggregate_id = %s"
            " AND payload->>'to_state' = 'PAID'",
            case_id,
        )
        assert paid[0]["n"] == 1
        case = (
            await officer.GetBenefitCase(wfpb.GetBenefitCaseRequest(case_id=case_id))
        ).benefit_case
        assert case.state == wpb.CASE_STATE_PAID
        assert case.payment_reference == f"{benefit_case_id(case_id)}:payment-1"


def _worker_env(
    env: WorkflowEnvironment,
    queue: str,
    token_issuer: TokenIssuer,
    registry: Server,
    case_status: Server,
    alerts: Server,
    welfare: Server,
) -> dict[str, str]:
    return {
        "DANCU_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "DANCU_TEMPORAL_TASK_QUEUE": queue,
        "DANCU_WORKFLOWS_TOKEN": token_issuer.issue(SERVICE_CALLER, ttl_seconds=3600),
        "DANCU_WORKFLOWS_REGISTRY_ADDRESS": f"127.0.0.1:{registry.port}",
        "DANCU_WORKFLOWS_CASE_STATUS_ADDRESS": f"127.0.0.1:{case_status.port}",
        "DANCU_WORKFLOWS_ALERTS_ADDRESS": f"127.0.0.1:{alerts.port}",
        "DANCU_WORKFLOWS_WELFARE_ADDRESS": f"127.0.0.1:{welfare.port}",
        "DANCU_LOG_LEVEL": "WARNING",
        # A killed worker's workflows wait this long before the next worker takes them.
        "DANCU_WORKFLOWS_STICKY_TIMEOUT_SECONDS": "1",
    }


async def _run_with_kills(
    env: WorkflowEnvironment,
    worker: WorkerProcess,
    queue: str,
    deceased: list[str],
    today: dt.date,
    registry_database_url: str,
    welfare_database_url: str,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
) -> None:
    client = env.client
    deaths = [
        client.get_workflow_handle(workflow_id(cid), result_type=DeathRecorded) for cid in deceased
    ]
    reports = [
        DeathReport(
            cid,
            (today - dt.timedelta(days=1)).isoformat(),
            "suy hô hấp do COVID-19",
            "benh-vien-thanh-nhan",
            f"BV-TN-{cid}",
        )
        for cid in deceased
    ]
    # The registry's residents table locked: RegisterDeath calls wait inside the registry.
    async with _table_locked(registry_database_url, "residents"):
        worker.start()
        # Every death reported twice, at once: the second report of each joins the first.
        await asyncio.gather(*(report_death(client, r, queue) for r in reports + reports))
        await _until(
            "register_death inside the registry", _activity_running(deaths, "register_death")
        )
        # STARTED says a worker took the activity, not that its call reached the registry.
        await _until(
            "a RegisterDeath waiting in the registry",
            _waiting_on_lock(registry_database_url, "residents"),
        )
        worker.freeze()
    # Released: the registry commits the deaths the frozen worker asked for; the answers stay
    # unread, and the kill loses them.
    await _until("deaths committed", _committed(registry_database_url, DEATHS_SQL, deceased))
    worker.kill("inside register_death: the registry committed, the answer was lost")
    worker.start()
    recorded = [await asyncio.wait_for(h.result(), 60) for h in deaths]
    assert {r.outcome for r in recorded} == {"DONE"}
    # The benefit cases wait for officers: the next worker rebuilds them from their histories.
    worker.kill("while the benefit cases waited for officers")
    worker.start()

    # Officers assign and approve every case through the welfare API; the workflows hear of it.
    cases = [
        client.get_workflow_handle(benefit_case_id(c), result_type=CaseClosed)
        for r in recorded
        for c in r.benefit_cases
    ]

    async def assign_and_approve(handle: WorkflowHandle[Any, CaseClosed]) -> None:
        case_id = handle.id.removeprefix("benefit-case-")
        await officer.AssignBenefitCase(
            wfpb.AssignBenefitCaseRequest(
                request_id=new_request_id(), case_id=case_id, assignee=CHECKER.subject
            )
        )
        await handle.execute_update(ASSIGN, Assignment(OFFICER.subject, CHECKER.subject))
        await checker.DecideBenefitCase(
            wfpb.DecideBenefitCaseRequest(
                request_id=new_request_id(),
                case_id=case_id,
                decision=wfpb.DECISION_APPROVE,
                reason="đủ hồ sơ",
            )
        )

    half = len(cases) // 2
    await asyncio.gather(*(assign_and_approve(h) for h in cases[:half]))
    worker.kill("halfway through the officers' assignments")
    worker.start()
    await asyncio.gather(*(assign_and_approve(h) for h in cases[half:]))
    # Welfare's cases locked: RecordPayment calls wait inside welfare.
    async with _table_locked(welfare_database_url, "benefit_cases"):
        await asyncio.gather(
            *(h.execute_update(DECIDE, Decision(CHECKER.subject, True, "đủ hồ sơ")) for h in cases)
        )
        await _until("disburse inside welfare", _activity_running(cases, "disburse"))
        await _until(
            "a RecordPayment waiting in welfare",
            _waiting_on_lock(welfare_database_url, "benefit_cases"),
        )
        worker.freeze()
    case_ids = [h.id.removeprefix("benefit-case-") for h in cases]
    await _until("payments committed", _committed(welfare_database_url, PAID_SQL, case_ids))
    worker.kill("inside disburse: welfare committed the payment, the answer was lost")
    worker.start()
    closed = [await asyncio.wait_for(h.result(), 60) for h in cases]
    assert {c.state for c in closed} == {"PAID"}
