"""ImportCaseList end to end (verify + apply) over a large registry, beside raw COPY of the
same rows in the same run.

    python -m bench.import_list [--residents 1000000] [--rows 50000] [--keep-database]
                                [--database-url URL] [--profile-server PATH]

The databases: with ``BENCH_DATABASE_URL`` (a server URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``) fresh databases ``bench_import_registry_*``
and ``bench_import_cases_*`` are created on that server and dropped at the end; without it an
embedded PostgreSQL (``pgserver``) runs in a temporary directory. The registry gets the demo
population (``services.registry.demo.load_population``) and ``VACUUM (ANALYZE)``; the case
status database gets its migrations. ``--database-url`` uses an already loaded registry
database as it is (the case status database is still made fresh, on the same server).

The servers run in their own process (``--serve``, started by the benchmark), so that the
client does not share their event loop: the registry (``services.registry.main.open_registry``
and ``build_server``) and case status (``services.case_status.main.open_case_status`` and
``build_server``), the latter calling the former with a nationwide ``service`` token.

The list: ``--rows`` living residents drawn at random from the registry, about 90% with their
citizen id, the rest by name and birth date only (some of those are ambiguous and go to
review); each with its permanent ward, F0 or F1, effective within the last week. The header
names the ward with the most residents; the caller is a nationwide ``health_agency``, so rows
of every ward are in scope.

Measured: the wall time of one ImportCaseList call (header, then the rows 5,000 per message,
until the summary arrives); and the ceiling, raw COPY of the same rows and columns into a
staging table of the case status database, once before and once after the import (the mean is
used, which damps drift on a shared machine). The bar is >= 25,000 rows/s for the import; the
ratio import / COPY is printed beside it. The exit code is 0 whether or not the bar is met.

The server also reports where the import's time went (wall-clock spans around the registry's
VerifyIdentities and the use case's steps). ``--profile-server PATH`` turns cProfile on in the
server for its whole life and writes the stats to PATH (``python -m pstats PATH``); profiling
slows the server, so the rates of such a run mean little.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import datetime as dt
import functools
import logging
import os
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import grpc
import psycopg
from dancu.case_status.v1 import case_pb2, case_status_service_pb2, case_status_service_pb2_grpc
from google.type.date_pb2 import Date

from bench.databases import fresh_database, libpq, postgres_server, prepare_registry
from bench.harness import load_average
from bench.server_process import (
    PUBLIC_KEY_ENV,
    ServerProcess,
    serve_until_stopped,
    start_server_process,
    verifier_from_env,
)

if TYPE_CHECKING:
    from services.case_status.use_cases import CaseStatusService
    from services.kit.auth import TokenVerifier
SERVICE_TOKEN_ENV = "BENCH_SERVICE_TOKEN"  # noqa: S105 (a variable name, not a secret)
# The benchmark's caller: a nationwide health agency may import lists and read any case.
AGENCY_ROLE = "health_agency"
BAR_ROWS_PER_SECOND = 25_000.0
ROWS_PER_MESSAGE = 5_000
WITH_CITIZEN_ID = 0.9
F0_SHARE = 0.2
CALL_TIMEOUT_SECONDS = 900.0
POOL_SIZE = 20
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
STAGING_COLUMNS = (
    "row_number",
    "citizen_id",
    "full_name",
    "birth_date",
    "ward_code",
    "classification",
    "effective_date",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.serve:
        asyncio.run(_serve(args.registry_url, args.cases_url, args.profile_server))
        return 0
    if args.rows <= 0 or args.residents <= 0:
        raise SystemExit("--rows and --residents must be positive")
    return run_on_databases(args, args.database_url, _drive)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.import_list",
        description="ImportCaseList end to end beside raw COPY of the same rows.",
    )
    parser.add_argument("--residents", type=int, default=1_000_000, help="population size")
    parser.add_argument("--rows", type=int, default=50_000, help="rows on the imported list")
    parser.add_argument("--seed", type=int, default=2021, help="population and sample seed")
    parser.add_argument(
        "--f0-share", type=float, default=F0_SHARE, help="share of F0 rows (the rest are F1)"
    )
    parser.add_argument(
        "--database-url",
        help="use this already loaded registry database as it is (no create, load or drop)",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the databases made for the run"
    )
    parser.add_argument("--profile-server", metavar="PATH", help="cProfile the server process")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--registry-url", help=argparse.SUPPRESS)
    parser.add_argument("--cases-url", help=argparse.SUPPRESS)
    return parser


# --- the server process ------------------------------------------------------------------


class Spans:
    """Wall-clock time spent in named awaitables (nested spans overlap their parents;
    concurrent calls of one name add up)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @functools.wraps(function)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed

    def lines(self) -> list[str]:
        return [f"SPAN {name} {self.calls[name]} {self.seconds[name]:.6f}" for name in self.seconds]


def _instrument(spans: Spans) -> None:
    """Times the import's steps and round trips by rebinding module and class attributes, in
    this process only (the services' code is unchanged)."""
    from services.case_status.adapters.registry_client import GrpcRegistry
    from services.case_status.adapters.repository import SqlCaseRepository
    from services.case_status.adapters.unit_of_work import SqlUnitOfWork
    from services.case_status.use_cases import imports

    targets: list[tuple[Any, str, tuple[str, ...]]] = [
        (
            imports,
            "imports",
            (
                "import_case_list",
                "_registry_context",
                "_apply",
                "_add_household_contacts",
                "recompute_around",
            ),
        ),
        (GrpcRegistry, "registry", ("verify_identities", "residents", "households")),
        (
            SqlCaseRepository,
            "sql",
            (
                "lock_residents",
                "events_of",
                "add_events",
                "links_around",
                "add_links",
                "save_current",
                "save_residences",
                "previous_import_rows",
                "add_import",
            ),
        ),
        (SqlUnitOfWork, "sql", ("publish_all", "audit", "complete", "commit")),
    ]
    for owner, prefix, names in targets:
        for name in names:
            setattr(owner, name, spans.wrap(f"{prefix}.{name}", getattr(owner, name)))


async def _serve(registry_url: str, cases_url: str, profile_path: str | None) -> None:
    # Imported here: the client process needs none of the servers' machinery.
    from services.case_status.main import build_server
    from services.kit.config import Env
    from services.kit.telemetry import setup_tracing

    profiler = cProfile.Profile() if profile_path else None
    if profiler is not None:
        profiler.enable()
    setup_tracing("dancu-import-bench", Env())
    spans = Spans()
    _instrument(spans)
    verifier = verifier_from_env()
    try:
        async with case_status_beside_registry(
            registry_url, cases_url, verifier, POOL_SIZE
        ) as service:
            await serve_until_stopped(build_server(service, verifier, "127.0.0.1:0"))
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
    for line in spans.lines():
        print(line, flush=True)


@contextlib.asynccontextmanager
async def case_status_beside_registry(
    registry_url: str, cases_url: str, verifier: TokenVerifier, pool_size: int
) -> AsyncIterator[CaseStatusService]:
    """Case status as ``services.case_status.main`` opens it, calling a registry served in this
    process as ``services.registry.main`` builds it, with the service token ``start_servers``
    passed. Each service gets a database pool of ``pool_size``."""
    from services.case_status.main import open_case_status
    from services.kit.db import create_engine
    from services.registry.main import build_server as build_registry
    from services.registry.main import open_registry

    registry_engine = create_engine(registry_url, pool_size=pool_size)
    cases_engine = create_engine(cases_url, pool_size=pool_size)
    try:
        async with open_registry(registry_engine) as registry:
            registry_server = build_registry(registry, verifier, "127.0.0.1:0")
            await registry_server.start()
            try:
                address = f"127.0.0.1:{registry_server.port}"
                token = os.environ[SERVICE_TOKEN_ENV]
                async with open_case_status(cases_engine, address, token) as service:
                    yield service
            finally:
                await registry_server.stop(2.0)
    finally:
        await cases_engine.dispose()
        await registry_engine.dispose()


def _spans(lines: Sequence[str]) -> dict[str, tuple[int, float]]:
    """The spans the servers reported on their way out."""
    spans: dict[str, tuple[int, float]] = {}
    for line in lines:
        if line.startswith("SPAN "):
            _, name, calls, seconds = line.split()
            spans[name] = (int(calls), float(seconds))
    return spans


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What the benchmark's own token issuer hands out."""

    public_key: bytes  # PEM: the server process verifies every token below with it
    service_token: str  # case status's own, for its calls to the registry
    agency_token: str  # a nationwide health agency's: the benchmark's caller


def issue_credentials() -> Credentials:
    from services.kit.auth import (
        EVERY_WARD,
        Identity,
        TokenIssuer,
        generate_private_key_pem,
        public_key_pem,
    )

    private_key = generate_private_key_pem()
    issuer = TokenIssuer(private_key)
    return Credentials(
        public_key=public_key_pem(private_key),
        service_token=issuer.issue(
            Identity("bench-case-status", "bench", frozenset({"service"}), EVERY_WARD)
        ),
        agency_token=issuer.issue(
            Identity("bench-cdc", "bench-cdc", frozenset({AGENCY_ROLE}), EVERY_WARD)
        ),
    )


async def start_servers(
    module: str,
    registry_url: str,
    cases_url: str,
    credentials: Credentials,
    options: Sequence[str] = (),
) -> ServerProcess:
    """``python -m module --serve``, serving case status beside the registry (see
    ``case_status_beside_registry``), with ``options`` added to its command line."""
    command = [sys.executable, "-m", module, "--serve"]
    command += ["--registry-url", registry_url, "--cases-url", cases_url, *options]
    return await start_server_process(
        command,
        {
            PUBLIC_KEY_ENV: credentials.public_key.decode(),
            SERVICE_TOKEN_ENV: credentials.service_token,
        },
    )


async def send_list(
    port: int, messages: Sequence[case_status_service_pb2.ImportCaseListRequest], token: str
) -> case_status_service_pb2.ImportCaseListResponse:
    """One ImportCaseList call (the header, then the rows) to the server on ``port``."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = case_status_service_pb2_grpc.CaseStatusServiceStub(channel)
        response: case_status_service_pb2.ImportCaseListResponse = await stub.ImportCaseList(
            iter(messages),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=CALL_TIMEOUT_SECONDS,
        )
        return response


# --- the databases -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ListRow:
    row_number: int
    citizen_id: str
    full_name: str
    birth_date: dt.date
    ward_code: str
    classification: int
    effective_date: dt.date


@dataclasses.dataclass(frozen=True)
class CaseList:
    population: int
    ward_code: str
    list_date: dt.date
    rows: list[ListRow]


def draw_list(database_url: str, count: int, seed: int, f0_share: float) -> CaseList:
    """Today's list of ``count`` living residents (see the module doc); exits if there are
    none."""
    today = dt.datetime.now(VIETNAM).date()
    with psycopg.connect(libpq(database_url)) as conn:
        total = conn.execute("SELECT count(*) FROM residents").fetchone()
        busiest = conn.execute(
            "SELECT perm_ward_code FROM residents GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        conn.execute("SELECT setseed(%s)", ((seed % 1000) / 1000,))
        drawn = conn.execute(
            "SELECT citizen_id, full_name, birth_date, perm_ward_code FROM residents"
            " WHERE death_date IS NULL ORDER BY random() LIMIT %s",
            (count,),
        ).fetchall()
    pick = random.Random(seed)
    rows = [
        ListRow(
            row_number=number,
            citizen_id=str(citizen_id) if pick.random() < WITH_CITIZEN_ID else "",
            full_name=str(full_name),
            birth_date=birth_date,
            ward_code=str(ward),
            classification=(
                case_pb2.CLASSIFICATION_F0
                if pick.random() < f0_share
                else case_pb2.CLASSIFICATION_F1
            ),
            effective_date=today - dt.timedelta(days=pick.randrange(7)),
        )
        for number, (citizen_id, full_name, birth_date, ward) in enumerate(drawn, start=1)
    ]
    if not rows:
        raise SystemExit("the registry is empty: nothing to import")
    population = int(total[0]) if total else 0
    return CaseList(population, str(busiest[0]) if busiest else "", today, rows)


# --- the measurements --------------------------------------------------------------------


def _copy_ceiling(database_url: str, rows: Sequence[ListRow], table: str) -> float:
    """Seconds to COPY ``rows`` into a new staging table (committed)."""
    values = [tuple(getattr(row, column) for column in STAGING_COLUMNS) for row in rows]
    with psycopg.connect(libpq(database_url)) as conn:
        conn.execute(
            f"CREATE TABLE {table} (row_number integer, citizen_id text, full_name text,"
            " birth_date date, ward_code text, classification smallint, effective_date date)"
        )
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy,
        ):
            for value in values:
                copy.write_row(value)
        conn.commit()
        return time.perf_counter() - started


def _date(value: dt.date) -> Date:
    return Date(year=value.year, month=value.month, day=value.day)


def import_messages(
    case_list: CaseList,
) -> list[case_status_service_pb2.ImportCaseListRequest]:
    pb = case_status_service_pb2
    header = pb.ImportHeader(
        request_id=str(uuid.uuid4()),
        list_id=f"bench-{case_list.ward_code}-{uuid.uuid4().hex[:8]}",
        list_date=_date(case_list.list_date),
        ward_code=case_list.ward_code,
    )
    rows = [
        pb.ImportRow(
            row_number=row.row_number,
            citizen_id=row.citizen_id,
            full_name=row.full_name,
            birth_date=_date(row.birth_date),
            ward_code=row.ward_code,
            classification=row.classification,  # type: ignore[arg-type]
            effective_date=_date(row.effective_date),
        )
        for row in case_list.rows
    ]
    return [pb.ImportCaseListRequest(header=header)] + [
        pb.ImportCaseListRequest(rows=pb.ImportRows(rows=rows[i : i + ROWS_PER_MESSAGE]))
        for i in range(0, len(rows), ROWS_PER_MESSAGE)
    ]


@contextlib.contextmanager
def registry_and_cases(
    registry_url: str | None, residents: int, seed: int, *, keep: bool = False
) -> Iterator[tuple[str, str]]:
    """The registry (``registry_url`` as it is, or a fresh one with ``residents`` demo
    residents) and a fresh, migrated case status database on the same server."""
    from services.case_status.migrations import MIGRATIONS

    with contextlib.ExitStack() as stack:
        if registry_url:
            server_url = registry_url
        else:
            server_url = stack.enter_context(postgres_server())
            registry_url = stack.enter_context(
                fresh_database(server_url, "bench_import_registry", keep=keep)
            )
            prepare_registry(registry_url, residents, seed)
        cases_url = stack.enter_context(fresh_database(server_url, "bench_import_cases", keep=keep))
        MIGRATIONS.upgrade(cases_url)
        yield registry_url, cases_url


def run_on_databases(
    args: argparse.Namespace,
    registry_url: str | None,
    drive: Callable[[argparse.Namespace, str, str], Coroutine[Any, Any, int]],
) -> int:
    """``drive(args, registry_url, cases_url)`` on the databases of ``registry_and_cases``."""
    with registry_and_cases(registry_url, args.residents, args.seed, keep=args.keep_database) as (
        registry,
        cases,
    ):
        return asyncio.run(drive(args, registry, cases))


async def _drive(args: argparse.Namespace, registry_url: str, cases_url: str) -> int:
    case_list = draw_list(registry_url, args.rows, args.seed, args.f0_share)
    rows = case_list.rows
    credentials = issue_credentials()
    messages = import_messages(case_list)
    by_id = sum(1 for row in rows if row.citizen_id)
    print(
        f"ImportCaseList of {len(rows):,} rows ({by_id:,} with citizen id,"
        f" {len(rows) - by_id:,} by name and birth date) over {case_list.population:,} residents,"
        f" header ward {case_list.ward_code}, {ROWS_PER_MESSAGE:,} rows per message;"
        f" {os.cpu_count()} cores, load average {load_average()} at start",
        flush=True,
    )
    copy_before = _copy_ceiling(cases_url, rows, "bench_copy_before")
    profile = ["--profile-server", args.profile_server] if args.profile_server else []
    server = await start_servers("bench.import_list", registry_url, cases_url, credentials, profile)
    failure: grpc.aio.AioRpcError | None = None
    try:
        started = time.perf_counter()
        try:
            response = await send_list(server.port, messages, credentials.agency_token)
        except grpc.aio.AioRpcError as error:
            failure = error
        elapsed = time.perf_counter() - started
    finally:
        spans = _spans(await server.stop())
    if failure is not None:
        print(
            f"ImportCaseList FAILED after {elapsed:.3f} s: {failure.code().name}"
            f" {failure.details()!r} (the server's log above says why)"
        )
        _report_spans(spans, elapsed)
        return 1
    copy_after = _copy_ceiling(cases_url, rows, "bench_copy_after")
    _report(len(rows), elapsed, copy_before, copy_after, response.summary, spans)
    if args.profile_server:
        print(f"server profile: {args.profile_server} (the rates above are not meaningful)")
    return 0


def _report(
    count: int,
    elapsed: float,
    copy_before: float,
    copy_after: float,
    summary: case_status_service_pb2.ImportSummary,
    spans: dict[str, tuple[int, float]],
) -> None:
    rate = count / elapsed
    copy_rates = [count / copy_before, count / copy_after]
    ceiling = statistics.fmean(copy_rates)
    drift = abs(copy_rates[0] - copy_rates[1]) / ceiling
    verdict = "PASS" if rate >= BAR_ROWS_PER_SECOND else "BELOW BAR"
    print()
    print(
        f"raw COPY ceiling (mean of 2):  {ceiling:>10,.0f} rows/s"
        f"  ({copy_before:.3f} s and {copy_after:.3f} s; the runs differ by {drift:.0%})"
    )
    print(f"ImportCaseList end to end:     {rate:>10,.0f} rows/s  ({elapsed:.3f} s)")
    print(f"ratio import / COPY:           {rate / ceiling:>10.3f}")
    print(f"bar >= {BAR_ROWS_PER_SECOND:,.0f} rows/s:          {verdict}")
    print(
        f"summary: rows {summary.rows:,}, applied {summary.applied:,},"
        f" unchanged {summary.unchanged:,}, needs review {summary.needs_review:,},"
        f" rejected {summary.rejected:,}; new residents {summary.new_residents:,}"
    )
    _report_spans(spans, elapsed)


def _report_spans(spans: dict[str, tuple[int, float]], elapsed: float) -> None:
    if spans:
        print(
            "server time (wall clock; nested spans overlap their parents, concurrent calls add up):"
        )
        for name, (calls, seconds) in spans.items():
            print(f"  {name:<34} {seconds:8.3f} s in {calls} call(s)  ({seconds / elapsed:.0%})")


if __name__ == "__main__":
    sys.exit(main())
