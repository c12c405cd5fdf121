"""A staged list of two thousand rows in forty chunks, applied by the ListImport workflow while
the worker process is killed (SIGKILL) half-way, inside a chunk: the import completes on the
next worker, and the database holds one result per row and one status event per applied row.

The worker runs as ``python -m workflows`` against the Temporal dev server and the session's
real registry and case status. The kill comes at the worst moment (as in
test_workflow_death_faults): a table lock in case status's database holds a chunk's call in the
service, the progress query shows chunks done and chunks outstanding, the worker is frozen
(SIGSTOP: its connection stays open), the lock goes, case status commits the chunk, and only
then is the worker killed. The chunk's retry, after the activity's timeout, must be answered
with the counts recorded the first time, not applied again.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from services.kit.auth import TokenIssuer
from services.kit.server import Server
from tests.integration.daily_lists import cohort, daily_list, header, stage
from tests.integration.registry_client import SERVICE_CALLER, RegistryDatabase
from tests.integration.test_workflow_death_faults import (
    WorkerProcess,
    _activity_running,
    _attempts,
    _table_locked,
    _until,
    _waiting_on_lock,
)
from tests.support.temporal import dev_server
from workflows.list_import.models import ListImported, ListToImport
from workflows.list_import.starter import progress, start_import

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

WARD = "00136"
ROWS, CHUNK = 2000, 50


async def test_a_list_import_survives_its_worker_killed_inside_a_chunk(
    tmp_path: Path,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    case_status_database_url: str,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    people = await cohort(registrar, WARD, 60)
    head = header(WARD)
    staged = await stage(cdc, head, daily_list(people, ROWS, WARD), CHUNK)
    queue = f"list-import-faults-{uuid.uuid4().hex}"
    async with dev_server() as env:
        worker = WorkerProcess(
            {
                "DANCU_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                "DANCU_TEMPORAL_TASK_QUEUE": queue,
                "DANCU_WORKFLOWS_TOKEN": token_issuer.issue(SERVICE_CALLER, ttl_seconds=3600),
                "DANCU_WORKFLOWS_REGISTRY_ADDRESS": f"127.0.0.1:{registry_server.port}",
                "DANCU_WORKFLOWS_CASE_STATUS_ADDRESS": f"127.0.0.1:{case_status_server.port}",
                "DANCU_LOG_LEVEL": "WARNING",
                "DANCU_WORKFLOWS_STICKY_TIMEOUT_SECONDS": "1",
            },
            tmp_path / "worker.log",
        )
        try:
            worker.start()
            started = await start_import(
                env.client,
                ListToImport(staged.import_id, WARD, head.list_id, staged.chunks, ROWS),
                queue,
            )
            handle = started.handle

            async def a_few_chunks_done() -> bool:
                return (await progress(handle)).chunks_done >= 3

            await _until("three chunks applied", a_few_chunks_done, 60)
            # Chunks wait for their row lock inside case status while the table is locked.
            async with _table_locked(case_status_database_url, "import_chunks"):
                await _until(
                    "a chunk inside case status", _activity_running([handle], "apply_import_chunk")
                )
                # STARTED says a worker took the chunk, not that its call reached case status:
                # frozen before sending it, the worker would leave nothing to commit. Case
                # status's transaction waiting on the lock says the call is there.
                await _until(
                    "the chunk's call waiting in case status",
                    _waiting_on_lock(case_status_database_url, "import_chunks"),
                )
                at_kill = await progress(handle)
                worker.freeze()
            # Released: case status applies and commits the chunk the frozen worker asked for;
            # its answer stays unread, and the kill loses it.
            await _until(
                "the chunk committed",
                _chunks_applied_beyond(
                    case_status_database_url, staged.import_id, at_kill.chunks_done
                ),
            )
            worker.kill("inside apply_import_chunk: case status committed, the answer was lost")
            worker.start()
            imported: ListImported = await asyncio.wait_for(handle.result(), 120)
            final = await progress(handle)
        finally:
            worker.stop()
        retried = await _attempts(env.client, [handle.id], "apply_import_chunk")

    # The kill happened with chunks done and chunks outstanding, inside a chunk's call, and
    # that chunk completed on a later attempt.
    assert worker.kills == [
        ("inside apply_import_chunk: case status committed, the answer was lost", -signal.SIGKILL)
    ]
    assert 0 < at_kill.chunks_done < at_kill.chunks_total == ROWS // CHUNK
    assert at_kill.step == "applying"
    assert max(retried) > 1
    assert imported.outcome == "DONE"
    assert imported.summary is not None
    assert (final.chunks_done, final.rows_done) == (ROWS // CHUNK, ROWS)
    # One result per row, one event per applied row, none twice.
    rows = await case_db.rows(
        "SELECT count(*) AS n, count(DISTINCT row_number) AS distinct_rows FROM import_rows"
        " WHERE import_id = %s",
        staged.import_id,
    )
    assert rows == [{"n": ROWS, "distinct_rows": ROWS}]
    events = await case_db.rows(
        "SELECT count(*) AS n, count(DISTINCT source_report_ref) AS distinct_rows"
        " FROM status_events WHERE source_list_id = %s",
        head.list_id,
    )
    assert events == [{"n": imported.summary.applied, "distinct_rows": imported.summary.applied}]
    assert imported.summary.applied > 0
    changes = await case_db.scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'case_status.status_changed.v1'"
        " AND aggregate_id = ANY(%s)",
        [p.citizen_id for p in people],
    )
    assert changes == imported.summary.applied


def _chunks_applied_beyond(
    database_url: str, import_id: str, done: int
) -> Callable[[], Awaitable[bool]]:
    """True once more than ``done`` chunks of the import are committed applied."""

    async def check() -> bool:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            row = await (
                await conn.execute(
                    b"SELECT count(*) FROM import_chunks"
                    b" WHERE import_id = %s AND applied_at IS NOT NULL",
                    (import_id,),
                )
            ).fetchone()
        return row is not None and int(row[0]) > done

    return check
