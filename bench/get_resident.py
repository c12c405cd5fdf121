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

The load generator (``bench.against_echo``) runs in this process over loopback with a
nationwide ``service`` token. Runs: echo, GetResident, echo again; the mean of the two echo runs
is the ceiling, which damps drift on a shared machine. The first bar is GetResident throughput
>= 0.5 x echo. The exit code is 0 whether or not the bar is met: this is a measurement, not a test.

``--profile-server PATH`` turns cProfile on in the server for the GetResident run only and
writes the stats to PATH (``python -m pstats PATH``); profiling slows the server, so the ratio
of such a run means nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from dancu.registry.v1 import registry_service_pb2, registry_service_pb2_grpc

from bench.against_echo import (
    Rpc,
    add_load_arguments,
    measure_against_echo,
    print_comparison,
    print_figure,
)
from bench.databases import fresh_database, libpq, postgres_server, prepare_registry
from bench.echo import server_with_echo
from bench.server_process import (
    PUBLIC_KEY_ENV,
    ServerProcess,
    serve_until_stopped,
    start_server_process,
    verifier_from_env,
)
from services.registry.config import DEFAULT_DATABASE_POOL_SIZE

if TYPE_CHECKING:
    from services.registry.use_cases import Registry

BAR = 0.5
ROLE = "service"
GET_RESIDENT = Rpc(
    name="GetResident",
    method=lambda channel: registry_service_pb2_grpc.RegistryServiceStub(channel).GetResident,
    request=lambda citizen_id: registry_service_pb2.GetResidentRequest(citizen_id=citizen_id),
    subject=lambda response: str(response.resident.citizen_id),
)


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
    add_load_arguments(
        parser,
        rpc="GetResident",
        residents=1_000_000,
        pool_size=DEFAULT_DATABASE_POOL_SIZE,
        service="registry",
    )
    parser.add_argument(
        "--database-url",
        help="use this already loaded registry database as it is (no create, load or drop)",
    )
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
    from services.registry.adapters.audited_reads import BatchedResidentReads
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
        verifier=verifier_from_env(),
        policy=POLICY,
        echo_roles=[ROLE],
        error_table=ERROR_TABLE,
        error_domain=ERROR_DOMAIN,
        address=f"127.0.0.1:{port}",
    )
    await serve_until_stopped(server, profile_path)
    reads = registry.reads
    if isinstance(reads, BatchedResidentReads):
        group = reads.group
        print(f"BATCHES {group.batches} {group.calls} {group.largest_batch}", flush=True)


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
        prepare_registry(url, args.residents, args.seed)
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
    server = await _start_server(
        database_url, public_key_pem(private_key), args.pool_size, args.profile_server
    )
    try:
        comparison = await measure_against_echo(
            args,
            server,
            GET_RESIDENT,
            ids,
            token,
            f"GetResident over {population:,} residents ({len(ids):,} distinct ids drawn)",
        )
    finally:
        batching = _batching(await server.stop(grace_seconds=15))
    print_comparison(comparison, bar=BAR)
    if batching is not None and batching.statements:
        print_figure(
            "group commit",
            f"{batching.calls:,} GetResident calls in {batching.statements:,} statements"
            f" ({batching.calls / batching.statements:.2f} per statement,"
            f" at most {batching.largest}; warm-up included)",
        )
    if args.profile_server:
        print(f"server profile of the GetResident run: {args.profile_server}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
