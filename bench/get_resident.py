"""GetResident throughput and p99 over a large registry, beside a bare echo on the same stack.

    python -m bench.get_resident [--residents 1000000] [--concurrency 16] [--seconds 10]

The database: with ``BENCH_DATABASE_URL`` (a server URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``) a fresh database ``bench_registry_<random>``
is created on that server and dropped at the end; without it an embedded PostgreSQL
(``pgserver``) runs in a temporary directory for the duration. The registry migrations are
applied, the demo population is bulk-loaded (``services.registry.demo.load_population``) and
vacuumed, and ``--sample`` random existing citizen ids are drawn so that requests spread over
the whole table.

The server runs in its own process (``--serve``, started by the benchmark): one
``services.kit.server.Server`` with the registry servicer exactly as ``services.registry.main``
wires it (``open_registry``: engine, unit of work, GetResident's reader, ward directory,
clock; tracing provider) plus the bare echo of ``bench.echo``, behind the same interceptors and
token verifier. GetResident is group-committed (``services.registry.adapters.audited_reads``):
the calls that arrive while a statement is in the database leave together in the next one,
which reads the residents and inserts every call's audit row; the report's last line says how
many calls shared a statement (warm-up included).

The load generator (``bench.harness``) runs in this process over loopback with a nationwide
``service`` token. Runs: echo, GetResident, echo again; the mean of the two echo runs is the
ceiling, which damps drift on a shared machine. The first bar is GetResident throughput >= 0.5 x
echo. The exit code is 0 whether or not the bar is met: this is a measurement, not a test.

``--profile-server PATH`` turns cProfile on in the server for the GetResident run only and
writes the stats to PATH (``python -m pstats PATH``); profiling slows the server, so the ratio
of such a run means nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from dancu.bench.v1 import echo_service_pb2, echo_service_pb2_grpc
from dancu.registry.v1 import registry_service_pb2, registry_service_pb2_grpc

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
from bench.server_process import ServerProcess, start_server_process
from services.registry.config import DEFAULT_DATABASE_POOL_SIZE

if TYPE_CHECKING:
    from services.registry.use_cases import Registry

PUBLIC_KEY_ENV = "BENCH_AUTH_PUBLIC_KEY"
BAR = 0.5
ROLE = "service"
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
        prog="python -m bench.get_resident",
        description="GetResident throughput and p99 beside a bare echo on the same server stack.",
    )
    parser.add_argument("--residents", type=int, default=1_000_000, help="population size")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight")
    parser.add_argument("--channels", type=int, default=1, help="gRPC channels (connections)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run")
    parser.add_argument("--max-calls", type=int, default=None, help="end a window after N")
    parser.add_argument("--sample", type=int, default=10_000, help="distinct citizen ids used")
    parser.add_argument("--seed", type=int, default=2021, help="population and sample seed")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=DEFAULT_DATABASE_POOL_SIZE,
        help=f"server database pool (registry default: {DEFAULT_DATABASE_POOL_SIZE})",
    )
    parser.add_argument(
        "--database-url",
        help="use this already loaded registry database as it is (no create, load or drop)",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database made for the run"
    )
    parser.add_argument(
        "--profile-server", metavar="PATH", help="cProfile the server during GetResident"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser


# --- the server process ------------------------------------------------------------------


async def _serve(database_url: str, pool_size: int, port: int, profile_path: str | None) -> None:
    # Imported here: the load generator process needs none of the server's machinery.
    from services.kit.config import Env
    from services.kit.db import create_engine
    from services.kit.telemetry import setup_tracing
    from services.registry.main import open_registry

    setup_tracing("dancu-registry-bench", Env())
    engine = create_engine(database_url, pool_size=pool_size)
    try:
        async with open_registry(engine) as registry:
            await _serve_registry(registry, port, profile_path)
    finally:
        await engine.dispose()


async def _serve_registry(registry: Registry, port: int, profile_path: str | None) -> None:
    from services.kit.auth import TokenVerifier
    from services.registry.api.errors import ERROR_DOMAIN, ERROR_TABLE
    from services.registry.api.policy import POLICY
    from services.registry.api.servicer import RegistryServicer
    from services.registry.main import SERVICE_NAME

    servicer = RegistryServicer(registry)
    server = server_with_echo(
        registrations=[
            lambda s: registry_service_pb2_grpc.add_RegistryServiceServicer_to_server(servicer, s)
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
    profiler = cProfile.Profile()
    if profile_path:
        loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
        loop.add_signal_handler(signal.SIGUSR2, _dump_profile, profiler, profile_path)
    await server.start()
    print(f"READY {server.port}", flush=True)
    await stop.wait()
    await server.stop(2.0)
    from services.registry.adapters.audited_reads import BatchedResidentReads

    reads = registry.reads
    if isinstance(reads, BatchedResidentReads):
        group = reads.group
        print(f"BATCHES {group.batches} {group.calls} {group.largest_batch}", flush=True)


def _dump_profile(profiler: cProfile.Profile, path: str) -> None:
    profiler.disable()
    profiler.dump_stats(path)
    print("PROFILED", flush=True)


async def _collect_profile(server: ServerProcess) -> None:
    """Stops the server's profiler and waits until it has written its stats."""
    assert server.process.stdout is not None
    server.process.send_signal(signal.SIGUSR2)
    line = await asyncio.wait_for(server.process.stdout.readline(), timeout=60)
    if line.strip() != b"PROFILED":
        raise RuntimeError(f"the server did not write its profile: {line!r}")


def _batching(lines: Sequence[str]) -> Batching | None:
    """What the server reported of GetResident's batching on its way out."""
    for line in lines:
        if line.startswith("BATCHES "):
            batches, calls, largest = (int(word) for word in line.split()[1:])
            return Batching(batches, calls, largest)
    return None


@dataclass(frozen=True)
class Batching:
    """GetResident's group commit over the server's life, warm-up included."""

    statements: int
    calls: int
    largest: int


async def _start_server(
    database_url: str, public_key: bytes, pool_size: int, profile_path: str | None
) -> ServerProcess:
    command = [sys.executable, "-m", "bench.get_resident", "--serve"]
    command += ["--database-url", database_url, "--pool-size", str(pool_size)]
    if profile_path:
        command += ["--profile-server", profile_path]
    return await start_server_process(command, {PUBLIC_KEY_ENV: public_key.decode()})


# --- the database ------------------------------------------------------------------------


def _prepare(database_url: str, residents: int, seed: int) -> None:
    from services.registry.demo import load_population
    from services.registry.migrations import MIGRATIONS

    started = time.perf_counter()
    MIGRATIONS.upgrade(database_url)
    report = load_population(database_url, residents, seed=seed, replace=False)
    print(report)
    with psycopg.connect(libpq(database_url), autocommit=True) as conn:
        # Sets hint bits and the visibility map, so the measured reads do not write pages.
        conn.execute("VACUUM (ANALYZE)")
    print(f"database ready in {time.perf_counter() - started:.1f} s")


def _sample_ids(database_url: str, count: int, seed: int) -> tuple[int, list[str]]:
    with psycopg.connect(libpq(database_url)) as conn:
        total = conn.execute("SELECT count(*) FROM residents").fetchone()
        conn.execute("SELECT setseed(%s)", ((seed % 1000) / 1000,))
        rows = conn.execute(
            "SELECT citizen_id FROM residents ORDER BY random() LIMIT %s", (count,)
        ).fetchall()
    return (int(total[0]) if total else 0), [str(row[0]) for row in rows]


# --- the benchmark -----------------------------------------------------------------------


def _benchmark(args: argparse.Namespace) -> int:
    if args.database_url:
        return asyncio.run(_drive(args, args.database_url))
    with (
        postgres_server() as server_url,
        fresh_database(server_url, "bench_registry", keep=args.keep_database) as url,
    ):
        _prepare(url, args.residents, args.seed)
        return asyncio.run(_drive(args, url))


async def _drive(args: argparse.Namespace, database_url: str) -> int:
    from services.kit.auth import (
        EVERY_WARD,
        Identity,
        TokenIssuer,
        generate_private_key_pem,
        public_key_pem,
    )

    population, ids = _sample_ids(database_url, args.sample, args.seed)
    if not ids:
        print("the registry is empty: nothing to read", file=sys.stderr)
        return 1
    private_key = generate_private_key_pem()
    token = TokenIssuer(private_key).issue(
        Identity(
            subject="bench-get-resident",
            agency="bench",
            roles=frozenset({ROLE}),
            wards=EVERY_WARD,
            purpose="performance benchmark",
        )
    )
    metadata = (("authorization", f"Bearer {token}"),)
    server = await _start_server(
        database_url, public_key_pem(private_key), args.pool_size, args.profile_server
    )
    probes = {"client": process_cpu_seconds, "server": linux_cpu_seconds(lambda: [server.pid])}
    try:
        async with channels(f"127.0.0.1:{server.port}", args.channels) as opened:
            echo_stubs = [echo_service_pb2_grpc.EchoServiceStub(c) for c in opened]
            registry_stubs = [registry_service_pb2_grpc.RegistryServiceStub(c) for c in opened]

            async def echo(i: int) -> Any:
                return await echo_stubs[i % len(echo_stubs)].Echo(
                    echo_service_pb2.EchoRequest(payload=ids[i % len(ids)]),
                    metadata=metadata,
                    timeout=CALL_TIMEOUT_SECONDS,
                )

            async def get_resident(i: int) -> Any:
                return await registry_stubs[i % len(registry_stubs)].GetResident(
                    registry_service_pb2.GetResidentRequest(citizen_id=ids[i % len(ids)]),
                    metadata=metadata,
                    timeout=CALL_TIMEOUT_SECONDS,
                )

            # Fail fast, with the real error, if the set-up is wrong.
            await echo(0)
            first = await get_resident(0)
            if first.resident.citizen_id != ids[0]:
                raise RuntimeError("GetResident returned another resident")

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
                f"GetResident over {population:,} residents ({len(ids):,} distinct ids drawn),"
                f" {args.concurrency} in flight on {args.channels} channel(s),"
                f" {args.warmup:g} s warm-up + {args.seconds:g} s per run;"
                f" {os.cpu_count()} cores, load average {_load_average()} at start",
                flush=True,
            )
            echo_before = await run("echo (1)", echo)
            if args.profile_server:
                server.process.send_signal(signal.SIGUSR1)
            resident = await run("GetResident", get_resident)
            if args.profile_server:
                await _collect_profile(server)
            echo_after = await run("echo (2)", echo)
    finally:
        batching = _batching(await server.stop(grace_seconds=15))
    _report(echo_before, resident, echo_after, list(probes), bool(args.profile_server), batching)
    if args.profile_server:
        print(f"server profile of the GetResident run: {args.profile_server}")
    return 0


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def _report(
    echo_before: LoadResult,
    resident: LoadResult,
    echo_after: LoadResult,
    cpu_columns: Sequence[str],
    profiled: bool,
    batching: Batching | None,
) -> None:
    print()
    print(render_table([echo_before, resident, echo_after], cpu_columns))
    print(
        "(cpu ms/call: CPU time used per call by the load generator and by the server process;"
        " the database's is not counted)"
    )
    print()
    ceiling = statistics.fmean([echo_before.throughput, echo_after.throughput])
    drift = abs(echo_before.throughput - echo_after.throughput) / ceiling if ceiling else 0.0
    echo_p99 = statistics.fmean([echo_before.p99, echo_after.p99])
    ratio = resident.throughput / ceiling if ceiling else 0.0
    verdict = "PASS" if ratio >= BAR else "BELOW BAR"
    print(f"echo ceiling (mean of 2 runs): {ceiling:,.0f} calls/s (the runs differ by {drift:.0%})")
    print(f"GetResident:                   {resident.throughput:,.0f} calls/s")
    print(f"ratio GetResident / echo:      {ratio:.3f}  (bar >= {BAR}): {verdict}")
    print(
        f"p99:                           GetResident {resident.p99 * 1000:.2f} ms,"
        f" echo {echo_p99 * 1000:.2f} ms"
        + (f" ({resident.p99 / echo_p99:.1f}x)" if echo_p99 > 0 else "")
    )
    if batching is not None and batching.statements:
        print(
            f"group commit:                  {batching.calls:,} GetResident calls in"
            f" {batching.statements:,} statements ({batching.calls / batching.statements:.2f}"
            f" per statement, at most {batching.largest}; warm-up included)"
        )
    errors = echo_before.errors + resident.errors + echo_after.errors
    if errors:
        print(f"WARNING: {errors} calls failed; see the errors column")
    if profiled:
        print("NOTE: the server was profiled during GetResident; the ratio is not meaningful")


if __name__ == "__main__":
    sys.exit(main())
