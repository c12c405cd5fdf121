"""The COVID-19 death workflow through the real services, beside a one-activity no-op workflow
on the same Temporal server in the same run.

    python -m bench.death_workflow [--deaths 40] [--noops 200] [--concurrency 8]
                                   [--population 5000]

The suite runs as ``make run`` runs it: ``dancu start --demo`` as a subprocess, with its own
``DANCU_HOME`` in a temporary folder and free ports (embedded PostgreSQL, the Temporal dev
server, the four services, the worker). The benchmark is a Temporal client of that dev server.

Measured, each with ``--concurrency`` workflows in flight:

- the ceiling: ``--noops`` runs of a workflow whose one activity returns at once, served by a
  worker in this process on a task queue of its own (the same server, the same client);
- ``--deaths`` death reports (``workflows.death.starter.report_death``) of household heads of
  the demo population who have relatives (their survivors), each first recorded F0 in case
  status so that the death ends a case. A report's latency runs from the report to the end of
  the death workflow: the identity verified, the outcome recorded, the death registered, the
  survivors found and checked, the benefit cases opened and handed to their own workflows.
  The officers' steps are not part of it: those workflows go on waiting for officers.

Printed: p50, p95 and workflows/s of each, and the ratios death / no-op. There is no bar in
the issue: this is a measurement. The exit code is 0 unless the suite does not start or a
death workflow does not finish.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from services.kit.channels import open_channel
from workflows.death.models import DeathRecorded, DeathReport, workflow_id
from workflows.death.starter import report_death

STARTUP_SECONDS = 300.0
DEATH_TIMEOUT_SECONDS = 300.0
TASK_QUEUE = "dancu"
NOOP_QUEUE = "bench-noop"


@activity.defn(name="bench_noop")
async def noop_activity(value: int) -> int:
    return value


@workflow.defn(name="BenchNoop", sandboxed=False)
class NoopWorkflow:
    """One activity that does nothing: what a workflow costs on this server."""

    @workflow.run
    async def run(self, value: int) -> int:
        result: int = await workflow.execute_activity(
            "bench_noop", value, start_to_close_timeout=dt.timedelta(seconds=30)
        )
        return result


@dataclass(frozen=True)
class Run:
    name: str
    latencies: list[float]
    seconds: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Suite:
    home: Path
    case_status: str
    temporal: str
    registry_database: str


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.death_workflow", description=__doc__)
    parser.add_argument("--deaths", type=int, default=40)
    parser.add_argument("--noops", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--population", type=int, default=5000)
    args = parser.parse_args(argv)
    if min(args.deaths, args.noops, args.concurrency, args.population) <= 0:
        raise SystemExit("every count must be positive")
    with (
        tempfile.TemporaryDirectory(prefix="dancu-bench-") as home,
        _suite(Path(home), args.population) as suite,
    ):
        return asyncio.run(_measure(suite, args))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _suite(home: Path, population: int) -> Iterator[Suite]:
    ports = {name: _free_port() for name in ("REGISTRY", "CASE_STATUS", "ALERTS", "WELFARE")}
    temporal, ui = _free_port(), _free_port()
    env = {
        **os.environ,
        "DANCU_HOME": str(home),
        **{f"DANCU_{name}_PORT": str(port) for name, port in ports.items()},
        "DANCU_TEMPORAL_PORT": str(temporal),
        "DANCU_TEMPORAL_UI_PORT": str(ui),
        "DANCU_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DANCU_DATABASE_SERVER_URL", None)
    command = [sys.executable, "-m", "services.cli", "start", "--demo"]
    command += ["--population", str(population)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait_until_up(process)
        yield Suite(
            home,
            f"127.0.0.1:{ports['CASE_STATUS']}",
            f"127.0.0.1:{temporal}",
            f"postgresql://postgres@/dancu_registry?host={home / 'pgdata'}",
        )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    for line in process.stdout:
        if "dancu is up." in line:
            # Keep reading its output, so that the suite never blocks on a full pipe.
            threading.Thread(target=_drain, args=(process,), daemon=True).start()
            return
        if time.monotonic() > deadline:
            break
    raise SystemExit(f"the suite did not start (exit code {process.poll()})")


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass


def _heads_with_relatives(database_url: str, count: int) -> list[tuple[str, str]]:
    """Household heads alive, with at least two relatives, and their names."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT r.citizen_id, r.full_name FROM residents r"
            " WHERE r.relationship_to_head = 1 AND r.death_date IS NULL"  # 1: HEAD
            " AND (SELECT count(*) FROM residents m WHERE m.household_id = r.household_id) >= 3"
            " ORDER BY r.citizen_id LIMIT %s",
            (count,),
        ).fetchall()
    return [(str(cid), str(name)) for cid, name in rows]


async def _record_f0(suite: Suite, citizen_ids: Sequence[str]) -> None:
    token = (suite.home / "tokens" / "health-agency.jwt").read_text().strip()
    channel = open_channel(suite.case_status, token=lambda: token)
    try:
        stub = pb_grpc.CaseStatusServiceStub(channel)
        confirmed = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        for cid in citizen_ids:
            event = cpb.StatusEvent(
                citizen_id=cid,
                classification=cpb.CLASSIFICATION_F0,
                source=cpb.Source(agency="bench-cdc", report_ref=f"bench-f0-{cid}"),
            )
            event.effective_time.FromDatetime(confirmed)
            await stub.RecordStatus(
                pb.RecordStatusRequest(request_id=f"bench-f0-{cid}", event=event)
            )
    finally:
        await channel.close()


async def _timed(
    name: str, count: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> Run:
    latencies: list[float] = []
    queue = iter(range(count))

    async def lane() -> None:
        for n in queue:
            started = time.perf_counter()
            await one(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return Run(name, latencies, time.perf_counter() - started)


async def _measure(suite: Suite, args: argparse.Namespace) -> int:
    heads = _heads_with_relatives(suite.registry_database, args.deaths)
    if len(heads) < args.deaths:
        raise SystemExit(f"the demo population has {len(heads)} such household heads")
    await _record_f0(suite, [cid for cid, _ in heads])
    client = await Client.connect(suite.temporal)
    run_tag = uuid.uuid4().hex[:8]

    async def noop(n: int) -> None:
        await client.execute_workflow(
            NoopWorkflow.run, n, id=f"bench-noop-{run_tag}-{n}", task_queue=NOOP_QUEUE
        )

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()
    failures: list[str] = []

    async def death(n: int) -> None:
        cid, _ = heads[n]
        report = DeathReport(
            citizen_id=cid,
            death_date=(today - dt.timedelta(days=1)).isoformat(),
            cause="COVID-19",
            reporting_agency="bench-hospital",
            report_ref=f"bench-{run_tag}-{n}",
        )
        await report_death(client, report, TASK_QUEUE)
        handle = client.get_workflow_handle(workflow_id(cid), result_type=DeathRecorded)
        recorded = await asyncio.wait_for(handle.result(), DEATH_TIMEOUT_SECONDS)
        if recorded.outcome != "DONE":
            failures.append(f"{cid}: {recorded.outcome}")

    async with Worker(
        client, task_queue=NOOP_QUEUE, workflows=[NoopWorkflow], activities=[noop_activity]
    ):
        ceiling = await _timed("no-op workflow", args.noops, args.concurrency, noop)
        deaths = await _timed("death workflow", args.deaths, args.concurrency, death)
    _report([ceiling, deaths], args.concurrency)
    if failures:
        print(f"{len(failures)} death workflow(s) did not finish as DONE: {failures[:5]}")
        return 1
    return 0


def _report(runs: Sequence[Run], concurrency: int) -> None:
    print(f"\n{concurrency} workflows in flight; {os.cpu_count()} cores")
    print(f"{'run':<16} {'workflows':>9} {'per s':>8} {'p50 ms':>9} {'p95 ms':>9}")
    for run in runs:
        print(
            f"{run.name:<16} {len(run.latencies):>9} {run.throughput:>8.1f}"
            f" {run.percentile(0.5) * 1000:>9.1f} {run.percentile(0.95) * 1000:>9.1f}"
        )
    ceiling, deaths = runs
    print(
        f"ratio death / no-op: throughput {deaths.throughput / ceiling.throughput:.3f},"
        f" p50 {deaths.percentile(0.5) / ceiling.percentile(0.5):.1f}x,"
        f" p95 {deaths.percentile(0.95) / ceiling.percentile(0.95):.1f}x"
        f" (median of the no-op: {statistics.median(ceiling.latencies) * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    sys.exit(main())
