"""Checkpoint Scan throughput and p99 with durable recording, beside a bare echo on the same stack.

    python -m bench.scan [--flagged 20000] [--warn-share 0.02] [--concurrency 16] [--seconds 10]
                         [--profile-server PATH]

The database: with ``BENCH_DATABASE_URL`` (a server URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``) a fresh database ``bench_alerts_<random>``
is created on that server and dropped at the end; without it an embedded PostgreSQL
(``pgserver``) runs in a temporary directory for the duration. The alerts migrations are
applied, one checkpoint is registered and ``--flagged`` residents are put on the watchlist
(F0 and F1, each with a permanent ward). The scanned citizen ids are drawn so that
``--warn-share`` of the scans hit a flagged resident: those are answered WARN and their alerts
are written with the scan.

The server runs in its own process (``--serve``, started by the benchmark): one
``services.kit.server.Server`` with the alerts servicer exactly as ``services.alerts.main``
wires it (``open_alerts``: watchlist loaded and followed, group-committed scan recorder) plus
the bare echo of ``bench.echo``, behind the same interceptors and token verifier. Every Scan
is answered only after its scan row, its audit row and (for a WARN) its alerts are committed;
the report's last line says how many scans shared a statement (warm-up included).

The load generator (``bench.harness``) runs in this process over loopback with a checkpoint
operator's token; each call carries a new request id. Runs: echo, Scan, echo; the mean of the
two echo runs is the ceiling. The bar: Scan throughput >= 0.6 x echo and Scan p99 <= 10 ms.
The exit code is 0 whether or not the bar is met: this is a measurement, not a test.

``--profile-server PATH`` turns cProfile on in the server for the Scan run only and writes its
stats to PATH (read them with ``python -m pstats PATH``); the profiler slows the server, so the
ratios of such a run are not meaningful.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from dancu.alerts.v1 import alert_pb2, alerts_service_pb2, alerts_service_pb2_grpc
from dancu.bench.v1 import echo_service_pb2, echo_service_pb2_grpc

from bench.databases import fresh_database, libpq, postgres_server
from bench.echo import server_with_echo
from bench.harness import (
    LoadResult,
    channels,
    closed_loop,
    linux_cpu_seconds,
    process_cpu_seconds,
    render_table,
)
from bench.server_process import (
    START_PROFILING,
    STOP_PROFILING,
    dump_profile,
    start_server_process,
)
from services.alerts.config import DEFAULT_DATABASE_POOL_SIZE

PUBLIC_KEY_ENV = "BENCH_AUTH_PUBLIC_KEY"
THROUGHPUT_BAR = 0.6
P99_BAR_SECONDS = 0.010
ROLE = "checkpoint"
AGENCY = "bench-checkpoint-agency"
CHECKPOINT = "BENCH-01"
CHECKPOINT_WARD = "00070"
WARDS = ("00070", "00073", "00004", "00008", "00025", "00256")
CALL_TIMEOUT_SECONDS = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.serve:
        if not args.database_url:
            raise SystemExit("--serve needs --database-url")
        asyncio.run(_serve(args.database_url, args.pool_size, args.port, args.profile_server))
        return 0
    return _benchmark(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scan",
        description="Scan throughput and p99 beside a bare echo on the same server stack.",
    )
    parser.add_argument("--flagged", type=int, default=20_000, help="residents on the watchlist")
    parser.add_argument("--warn-share", type=float, default=0.02, help="share of WARN scans")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight")
    parser.add_argument("--channels", type=int, default=1, help="gRPC channels (connections)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run")
    parser.add_argument("--max-calls", type=int, default=None, help="end a window after N")
    parser.add_argument("--seed", type=int, default=2021, help="population and sample seed")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=DEFAULT_DATABASE_POOL_SIZE,
        help=f"server database pool (alerts default: {DEFAULT_DATABASE_POOL_SIZE})",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database made for the run"
    )
    parser.add_argument(
        "--profile-server", metavar="PATH", help="cProfile the server during the Scan run"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser


# --- the server process ------------------------------------------------------------------


async def _serve(database_url: str, pool_size: int, port: int, profile_path: str | None) -> None:
    # Imported here: the load generator process needs none of the server's machinery.
    from services.alerts.adapters.scan_recorder import BatchedScanRecorder
    from services.alerts.api.errors import ERROR_DOMAIN, ERROR_TABLE
    from services.alerts.api.policy import POLICY
    from services.alerts.api.servicer import AlertsServicer
    from services.alerts.main import SERVICE_NAME, open_alerts
    from services.kit.auth import TokenVerifier
    from services.kit.config import Env
    from services.kit.db import create_engine
    from services.kit.telemetry import setup_tracing

    setup_tracing("dancu-alerts-bench", Env())
    engine = create_engine(database_url, pool_size=pool_size)
    try:
        # Registry and case status are not called by Scan: their channels stay idle.
        async with open_alerts(engine, "127.0.0.1:1", "127.0.0.1:1", "unused") as service:
            servicer = AlertsServicer(service)
            server = server_with_echo(
                registrations=[
                    lambda s: alerts_service_pb2_grpc.add_AlertsServiceServicer_to_server(
                        servicer, s
                    )
                ],
                service_names=[SERVICE_NAME],
                verifier=TokenVerifier(os.environ[PUBLIC_KEY_ENV].encode()),
                policy=POLICY,
                echo_roles=[ROLE],
                error_table=ERROR_TABLE,
                error_domain=ERROR_DOMAIN,
                address=f"127.0.0.1:{port}",
            )
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            if profile_path:
                profiler = cProfile.Profile()
                loop.add_signal_handler(START_PROFILING, profiler.enable)
                loop.add_signal_handler(STOP_PROFILING, dump_profile, profiler, profile_path)
            await server.start()
            print(f"READY {server.port} {len(service.watchlist)}", flush=True)
            await stop.wait()
            await server.stop(2.0)
            recorder = service.scans
            if isinstance(recorder, BatchedScanRecorder):
                group = recorder.group
                print(f"BATCHES {group.batches} {group.calls} {group.largest_batch}", flush=True)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Batching:
    statements: int
    calls: int
    largest: int


def _batching(lines: Sequence[str]) -> Batching | None:
    for line in lines:
        if line.startswith("BATCHES "):
            statements, calls, largest = (int(word) for word in line.split()[1:])
            return Batching(statements, calls, largest)
    return None


# --- the database ------------------------------------------------------------------------


def _citizen_id(serial: int) -> str:
    """A well-formed id (province 001, male, born 1985) for serial numbers below a million."""
    return f"001085{serial:06d}"


def _prepare(database_url: str, flagged: int, seed: int) -> list[str]:
    """Migrates, registers the checkpoint, fills the watchlist; returns the flagged ids."""
    from services.alerts.migrations import MIGRATIONS

    started = time.perf_counter()
    MIGRATIONS.upgrade(database_url)
    rng = random.Random(seed)
    ids = [_citizen_id(serial) for serial in rng.sample(range(1, 1_000_000), flagged)]
    with psycopg.connect(libpq(database_url)) as conn:
        conn.execute(
            "INSERT INTO checkpoints (code, name, ward_code, operating_agency, reveal_level,"
            " created_by_agency) VALUES (%s, 'Bench', %s, %s, false, 'bench')",
            (CHECKPOINT, CHECKPOINT_WARD, AGENCY),
        )
        with conn.cursor().copy(
            "COPY watchlist (citizen_id, level, event_id, effective_at, wards, change_seq)"
            " FROM STDIN"
        ) as copy:
            for n, cid in enumerate(ids, start=1):
                wards = [{"ward_code": rng.choice(WARDS), "role": 1}]
                level = 1 if n % 3 else 2
                copy.write_row(
                    (
                        cid,
                        level,
                        str(uuid.uuid4()),
                        "2021-09-01T08:00:00+07:00",
                        json.dumps(wards),
                        n,
                    )
                )
        conn.execute("SELECT setval('watchlist_change_seq', %s)", (flagged + 1,))
    with psycopg.connect(libpq(database_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    print(f"database ready in {time.perf_counter() - started:.1f} s ({flagged:,} flagged)")
    return ids


def _sample(flagged: Sequence[str], warn_share: float, seed: int, size: int = 50_000) -> list[str]:
    """Citizen ids to scan, ``warn_share`` of them flagged."""
    rng = random.Random(seed + 1)
    flagged_set = set(flagged)
    sample = []
    for _ in range(size):
        if flagged and rng.random() < warn_share:
            sample.append(rng.choice(flagged))
            continue
        while (cid := _citizen_id(rng.randrange(1, 1_000_000))) in flagged_set:
            pass
        sample.append(cid)
    return sample


# --- the benchmark -----------------------------------------------------------------------


def _benchmark(args: argparse.Namespace) -> int:
    with (
        postgres_server() as server_url,
        fresh_database(server_url, "bench_alerts", keep=args.keep_database) as url,
    ):
        flagged = _prepare(url, args.flagged, args.seed)
        return asyncio.run(_drive(args, url, _sample(flagged, args.warn_share, args.seed)))


async def _drive(args: argparse.Namespace, database_url: str, ids: list[str]) -> int:
    from services.kit.auth import Identity, TokenIssuer, generate_private_key_pem, public_key_pem

    private_key = generate_private_key_pem()
    token = TokenIssuer(private_key).issue(
        Identity(
            subject="bench-scan",
            agency=AGENCY,
            roles=frozenset({ROLE}),
            wards=frozenset({CHECKPOINT_WARD}),
            purpose="performance benchmark",
        )
    )
    metadata = (("authorization", f"Bearer {token}"),)
    command = [sys.executable, "-m", "bench.scan", "--serve", "--database-url", database_url]
    command += ["--pool-size", str(args.pool_size)]
    if args.profile_server:
        command += ["--profile-server", args.profile_server]
    server = await start_server_process(
        command, {PUBLIC_KEY_ENV: public_key_pem(private_key).decode()}
    )
    backends = _Backends(database_url)
    probes = {
        "client": process_cpu_seconds,
        "server": linux_cpu_seconds(lambda: [server.pid]),
        "database": linux_cpu_seconds(backends.pids),
    }
    run_tag = uuid.uuid4().hex[:8]
    verdicts: dict[int, int] = {}
    try:
        async with channels(f"127.0.0.1:{server.port}", args.channels) as opened:
            echo_stubs = [echo_service_pb2_grpc.EchoServiceStub(c) for c in opened]
            alerts_stubs = [alerts_service_pb2_grpc.AlertsServiceStub(c) for c in opened]

            async def echo(i: int) -> Any:
                return await echo_stubs[i % len(echo_stubs)].Echo(
                    echo_service_pb2.EchoRequest(payload=f"DC1:{ids[i % len(ids)]}"),
                    metadata=metadata,
                    timeout=CALL_TIMEOUT_SECONDS,
                )

            calls = iter(range(1 << 62))

            async def scan(i: int) -> Any:
                # Every call a new request id: a retry is not what is measured.
                n = next(calls)
                answer = await alerts_stubs[i % len(alerts_stubs)].Scan(
                    alerts_service_pb2.ScanRequest(
                        request_id=f"{run_tag}-{n}",
                        checkpoint_code=CHECKPOINT,
                        qr_payload=f"DC1:{ids[n % len(ids)]}",
                    ),
                    metadata=metadata,
                    timeout=CALL_TIMEOUT_SECONDS,
                )
                verdicts[answer.verdict] = verdicts.get(answer.verdict, 0) + 1
                return answer

            await echo(0)  # fail fast, with the real error, if the set-up is wrong
            await scan(0)
            await backends.refresh()

            async def run(name: str, call: Any) -> LoadResult:
                return await closed_loop(
                    name,
                    call,
                    concurrency=args.concurrency,
                    warmup_seconds=args.warmup,
                    seconds=args.seconds,
                    max_calls=args.max_calls,
                    cpu_probes=probes,
                )

            print(
                f"Scan with durable recording, {args.flagged:,} flagged residents,"
                f" {args.warn_share:.0%} of scans WARN; {args.concurrency} in flight on"
                f" {args.channels} channel(s), {args.warmup:g} s warm-up + {args.seconds:g} s"
                f" per run; {os.cpu_count()} cores",
                flush=True,
            )
            echo_before = await run("echo (1)", echo)
            if args.profile_server:
                server.start_profiling()
            scans = await run("Scan", scan)
            if args.profile_server:
                await server.stop_profiling()
            echo_after = await run("echo (2)", echo)
    finally:
        batching = _batching(await server.stop(grace_seconds=15))
    _report(echo_before, scans, echo_after, list(probes), batching, verdicts)
    if args.profile_server:
        print(f"server profile: {args.profile_server} (the Scan run's figures are not meaningful)")
    return 0


class _Backends:
    """The server's connections to the benchmark database, as PostgreSQL backend processes: the
    database's CPU per call. Read once the server has connected; the pool keeps them open. The
    shared background processes (WAL writer, checkpointer) are not counted."""

    def __init__(self, database_url: str) -> None:
        self._url = libpq(database_url)
        self._pids: list[int] = []

    def pids(self) -> list[int]:
        return self._pids

    async def refresh(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            self._pids = [pid for (pid,) in await cursor.fetchall()]


def _report(
    echo_before: LoadResult,
    scans: LoadResult,
    echo_after: LoadResult,
    cpu_columns: Sequence[str],
    batching: Batching | None,
    verdicts: dict[int, int],
) -> None:
    print()
    print(render_table([echo_before, scans, echo_after], cpu_columns))
    print(
        "(cpu ms/call: CPU time used per call by the load generator, the server process and"
        " the server's database backends; PostgreSQL's shared WAL writer is not counted)"
    )
    print()
    ceiling = statistics.fmean([echo_before.throughput, echo_after.throughput])
    drift = abs(echo_before.throughput - echo_after.throughput) / ceiling if ceiling else 0.0
    echo_p99 = statistics.fmean([echo_before.p99, echo_after.p99])
    ratio = scans.throughput / ceiling if ceiling else 0.0
    throughput_ok = ratio >= THROUGHPUT_BAR
    p99_ok = scans.p99 <= P99_BAR_SECONDS
    print(f"echo ceiling (mean of 2 runs): {ceiling:,.0f} calls/s (the runs differ by {drift:.0%})")
    print(f"Scan:                          {scans.throughput:,.0f} calls/s")
    print(
        f"ratio Scan / echo:             {ratio:.3f}  (bar >= {THROUGHPUT_BAR}):"
        f" {'PASS' if throughput_ok else 'BELOW BAR'}"
    )
    print(
        f"p99:                           Scan {scans.p99 * 1000:.2f} ms,"
        f" echo {echo_p99 * 1000:.2f} ms  (bar <= {P99_BAR_SECONDS * 1000:.0f} ms):"
        f" {'PASS' if p99_ok else 'ABOVE BAR'}"
    )
    warns = verdicts.get(alert_pb2.VERDICT_WARN, 0)
    total = sum(verdicts.values())
    if total:
        print(f"verdicts:                      {warns:,} WARN of {total:,} scans answered")
    if batching is not None and batching.statements:
        print(
            f"group commit:                  {batching.calls:,} scans in"
            f" {batching.statements:,} statements ({batching.calls / batching.statements:.2f}"
            f" per statement, at most {batching.largest}; warm-up included)"
        )
    errors = echo_before.errors + scans.errors + echo_after.errors
    if errors:
        print(f"WARNING: {errors} calls failed; see the errors column")


if __name__ == "__main__":
    sys.exit(main())
