"""GetCaseStatus throughput and p99 over real timelines, beside a bare echo on the same stack.

    python -m bench.get_case_status [--residents 100000] [--cases 10000] [--seconds 10]
                                    [--registry-url URL]

The databases (``bench.import_list.registry_and_cases``): with ``BENCH_DATABASE_URL`` (a server
URL such as ``postgresql://postgres@127.0.0.1:5432/postgres``) a fresh registry database with
``--residents`` demo residents and a fresh case status database are created on that server and
dropped at the end; without it an embedded PostgreSQL (``pgserver``) runs in a temporary
directory. ``--registry-url`` uses an already loaded registry database as it is (the case
status database is still made fresh, on the same server).

The server runs in its own process (``--serve``, started by the benchmark): the registry and
case status wired as ``bench.import_list`` wires them (``open_registry`` and ``build_server``,
``open_case_status``), case status calling the registry with a nationwide ``service`` token;
the case status server also carries the bare echo of ``bench.echo``, behind the same
interceptors and token verifier.

The timelines: before measuring, one list of ``--cases`` living residents is imported through
the real ImportCaseList RPC, as ``bench.import_list`` draws and sends it (F0 or F1, effective
within the last week; the household contacts of the F0 get derived levels), and the case status
database is vacuumed. ``--sample`` of the residents that then have a timeline are read.

The load generator (``bench.against_echo``) runs in this process over loopback with a nationwide
``health_agency`` token, so GetCaseStatus needs no call to the registry to check the ward. Runs:
echo, GetCaseStatus, echo again; the mean of the two echo runs is the ceiling. The report gives
GetCaseStatus's throughput and p99 beside the echo's, as ratios. There is no bar: the exit code
is 0 unless the set-up fails.

``--profile-server PATH`` turns cProfile on in the server for the GetCaseStatus run only and
writes the stats to PATH (``python -m pstats PATH``); profiling slows the server, so the ratios
of such a run mean nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import sys
import time
from collections.abc import Sequence

import psycopg
from dancu.case_status.v1 import case_status_service_pb2, case_status_service_pb2_grpc

from bench.against_echo import Rpc, add_load_arguments, measure_against_echo, print_comparison
from bench.databases import libpq
from bench.echo import server_with_echo
from bench.import_list import (
    AGENCY_ROLE,
    F0_SHARE,
    case_status_beside_registry,
    draw_list,
    import_messages,
    issue_credentials,
    run_on_databases,
    send_list,
    start_servers,
)
from bench.server_process import serve_until_stopped, verifier_from_env
from services.case_status.config import DEFAULT_DATABASE_POOL_SIZE

GET_CASE_STATUS = Rpc(
    name="GetCaseStatus",
    method=lambda channel: (
        case_status_service_pb2_grpc.CaseStatusServiceStub(channel).GetCaseStatus
    ),
    request=lambda citizen_id: case_status_service_pb2.GetCaseStatusRequest(citizen_id=citizen_id),
    subject=lambda response: str(response.status.citizen_id),
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.serve:
        if not (args.registry_url and args.cases_url):
            raise SystemExit("--serve needs --registry-url and --cases-url")
        asyncio.run(
            _serve(
                args.registry_url, args.cases_url, args.pool_size, args.port, args.profile_server
            )
        )
        return 0
    if args.cases <= 0 or args.residents <= 0:
        raise SystemExit("--cases and --residents must be positive")
    return run_on_databases(args, args.registry_url, _drive)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.get_case_status",
        description="GetCaseStatus throughput and p99 beside a bare echo on the same server stack.",
    )
    add_load_arguments(
        parser,
        rpc="GetCaseStatus",
        residents=100_000,
        pool_size=DEFAULT_DATABASE_POOL_SIZE,
        service="case status",
    )
    parser.add_argument(
        "--cases", type=int, default=10_000, help="rows of the list imported before measuring"
    )
    parser.add_argument(
        "--f0-share", type=float, default=F0_SHARE, help="share of F0 rows (the rest are F1)"
    )
    parser.add_argument(
        "--registry-url",
        help="use this already loaded registry database as it is (no create, load or drop)",
    )
    parser.add_argument("--cases-url", help=argparse.SUPPRESS)
    return parser


# --- the server process ------------------------------------------------------------------


async def _serve(
    registry_url: str, cases_url: str, pool_size: int, port: int, profile_path: str | None
) -> None:
    # Imported here: the load generator process needs none of the servers' machinery.
    from services.case_status.api.errors import ERROR_DOMAIN, ERROR_TABLE
    from services.case_status.api.policy import POLICY
    from services.case_status.api.servicer import CaseStatusServicer
    from services.case_status.main import SERVICE_NAME
    from services.kit.config import Env
    from services.kit.telemetry import setup_tracing

    setup_tracing("dancu-case-status-bench", Env())
    verifier = verifier_from_env()
    async with case_status_beside_registry(registry_url, cases_url, verifier, pool_size) as service:
        servicer = CaseStatusServicer(service)
        server = server_with_echo(
            registrations=[
                lambda s: case_status_service_pb2_grpc.add_CaseStatusServiceServicer_to_server(
                    servicer, s
                )
            ],
            service_names=[SERVICE_NAME],
            verifier=verifier,
            policy=POLICY,
            echo_roles=[AGENCY_ROLE],
            error_table=ERROR_TABLE,
            error_domain=ERROR_DOMAIN,
            address=f"127.0.0.1:{port}",
        )
        await serve_until_stopped(server, profile_path)


# --- the timelines -----------------------------------------------------------------------


async def _import_list(
    port: int, messages: Sequence[case_status_service_pb2.ImportCaseListRequest], token: str
) -> None:
    started = time.perf_counter()
    summary = (await send_list(port, messages, token)).summary
    print(
        f"imported a list of {summary.rows:,} rows in {time.perf_counter() - started:.1f} s:"
        f" applied {summary.applied:,}, needs review {summary.needs_review:,},"
        f" rejected {summary.rejected:,}",
        flush=True,
    )


@dataclasses.dataclass(frozen=True)
class Timelines:
    sample: list[str]  # the citizen ids to read, in random order
    residents: int  # residents with a timeline
    events: int  # their events
    longest: int  # events of the longest timeline


def _sample_timelines(database_url: str, count: int, seed: int) -> Timelines:
    """``count`` random residents of those with a timeline."""
    with psycopg.connect(libpq(database_url), autocommit=True) as conn:
        # Sets hint bits and the visibility map, so the measured reads do not write pages.
        conn.execute("VACUUM (ANALYZE)")
        lengths = conn.execute(
            "SELECT citizen_id, count(*) FROM status_events GROUP BY citizen_id ORDER BY 1"
        ).fetchall()
    ids = [str(citizen_id) for citizen_id, _ in lengths]
    events = [int(n) for _, n in lengths]
    sample = random.Random(seed).sample(ids, min(count, len(ids)))
    return Timelines(sample, len(ids), sum(events), max(events, default=0))


# --- the benchmark -----------------------------------------------------------------------


async def _drive(args: argparse.Namespace, registry_url: str, cases_url: str) -> int:
    case_list = draw_list(registry_url, args.cases, args.seed, args.f0_share)
    credentials = issue_credentials()
    options = ["--pool-size", str(args.pool_size)]
    if args.profile_server:
        options += ["--profile-server", args.profile_server]
    server = await start_servers(
        "bench.get_case_status", registry_url, cases_url, credentials, options
    )
    token = credentials.agency_token
    try:
        await _import_list(server.port, import_messages(case_list), token)
        timelines = _sample_timelines(cases_url, args.sample, args.seed)
        if not timelines.sample:
            print("the import gave nobody a timeline: nothing to read", file=sys.stderr)
            return 1
        comparison = await measure_against_echo(
            args,
            server,
            GET_CASE_STATUS,
            timelines.sample,
            token,
            f"GetCaseStatus of {len(timelines.sample):,} residents drawn from the"
            f" {timelines.residents:,} with a timeline"
            f" ({timelines.events / timelines.residents:.2f} events each on average,"
            f" at most {timelines.longest}) over {case_list.population:,} registry residents",
        )
    finally:
        await server.stop(grace_seconds=15)
    print_comparison(comparison)
    if args.profile_server:
        print(f"server profile of the GetCaseStatus run: {args.profile_server}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
