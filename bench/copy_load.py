"""Bulk load of the demo population, against a raw-COPY ceiling measured in the same run.

    python -m bench.copy_load [--count 1000000] [--seed 2021]

The server: with ``BENCH_DATABASE_URL`` (a server URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``) fresh databases ``bench_copy_load_<random>_*``
are created on it and dropped at the end; without it an embedded PostgreSQL (``pgserver``) runs
in a temporary directory for the duration (and, being a new cluster, first writes about as much
WAL as one measurement, untimed, so that neither measurement pays for creating WAL files).

Two measurements, each in its own fresh database:

1. ``load_population``: what a user waits for, generation and COPY together (one transaction,
   ANALYZE included).
2. The ceiling: the same rows generated first into memory, untimed, then only the COPY
   statements (and the same ANALYZE) timed. load / ceiling tells how much generation still
   costs on top of what the database needs anyway.

The target is 1,000,000 residents loaded in under 60 s. The exit code is 0 whether or not it is
met: this is a measurement, not a test. On a shared machine, read the load average printed
with the result.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator, Sequence

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.databases import DATABASE_URL_ENV, fresh_database, postgres_server
from services.registry.adapters.tables import metadata
from services.registry.demo.loader import (
    LoadReport,
    analyze_population,
    copy_households,
    copy_residence_history,
    copy_residents,
    load_population,
    psycopg_conninfo,
    sort_for_copy,
)
from services.registry.demo.population import DemoPopulation

TARGET_RESIDENTS = 1_000_000
TARGET_SECONDS = 60.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.copy_load", description=__doc__)
    parser.add_argument("--count", type=int, default=TARGET_RESIDENTS, help="residents")
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)
    if args.count <= 0:
        parser.error("--count must be positive")
    # Only an embedded server is a new cluster; a given one is taken as it is.
    fresh_cluster = not os.environ.get(DATABASE_URL_ENV, "").strip()
    with postgres_server() as server_url:
        if fresh_cluster:
            _write_wal_once(server_url, "bench_copy_load_warm_up")
        with _registry_database(server_url, "bench_copy_load") as url:
            _print_context(url, args.count, args.seed)
            _checkpoint(server_url)
            report = load_population(url, args.count, args.seed)
        with _registry_database(server_url, "bench_copy_load_raw") as url:
            _checkpoint(server_url)
            generation, ceiling = _raw_copy(url, args.count, args.seed)
    _print_result(args.count, report, generation, ceiling)
    return 0


def _raw_copy(database_url: str, count: int, seed: int) -> tuple[float, float]:
    """Seconds to generate the rows into memory, and seconds to COPY them (the ceiling)."""
    started = time.perf_counter()
    population = DemoPopulation(count, seed)
    people = list(population.people())
    residents = [resident for resident, _ in people]
    residences = [record for _, records in people for record in records]
    sort_for_copy(residences)
    del people
    generated = time.perf_counter()
    with psycopg.connect(psycopg_conninfo(database_url)) as conn, conn.cursor() as cursor:
        copy_households(cursor, population.household_ids)
        copy_residents(cursor, residents)
        copy_residence_history(cursor, residences)
        analyze_population(cursor)
    return generated - started, time.perf_counter() - generated


def _print_context(database_url: str, count: int, seed: int) -> None:
    with psycopg.connect(psycopg_conninfo(database_url)) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        buffers = conn.execute("SHOW shared_buffers").fetchone()
    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"copy_load: {count:,} residents, seed {seed}")
    print(
        f"  PostgreSQL {version[0] if version else '?'}"
        f" (shared_buffers {buffers[0] if buffers else '?'}),"
        f" {os.cpu_count()} CPUs, load average {load}"
    )


def _print_result(count: int, report: LoadReport, generation: float, ceiling: float) -> None:
    rows = report.households + report.residents + report.residence_records
    print(
        f"  rows: {report.residents:,} residents, {report.households:,} households,"
        f" {report.residence_records:,} residence records ({rows:,} in all)"
    )

    def rates(seconds: float) -> str:
        return (
            f"{seconds:7.1f} s  {report.residents / seconds:9,.0f} residents/s"
            f"  {rows / seconds:9,.0f} rows/s"
        )

    print(f"  load_population (generation + COPY + ANALYZE): {rates(report.seconds)}")
    print(f"  raw COPY of pre-generated rows (+ ANALYZE):     {rates(ceiling)}")
    print(f"    (generating those rows into memory first took {generation:.1f} s, not counted)")
    print(f"  load / raw COPY: {report.seconds / ceiling:.2f}")
    if count < TARGET_RESIDENTS:
        print(
            f"  target: {TARGET_RESIDENTS:,} residents in < {TARGET_SECONDS:.0f} s - not measured"
            f" at {count:,} (fixed costs would make a projection misleading)"
        )
    else:
        verdict = "MET" if report.seconds < TARGET_SECONDS else "NOT MET"
        print(
            f"  target: {TARGET_RESIDENTS:,} residents in < {TARGET_SECONDS:.0f} s - {verdict}"
            f" ({report.residents:,} in {report.seconds:.1f} s)"
        )
    print(f"  load average now {', '.join(f'{figure:.2f}' for figure in os.getloadavg())}")


def _checkpoint(server_url: str) -> None:
    # Each measurement starts with no WAL of the previous one left to write out; skipped
    # without the privilege, which only makes the two runs less comparable.
    with (
        contextlib.suppress(psycopg.errors.InsufficientPrivilege),
        psycopg.connect(psycopg_conninfo(server_url), autocommit=True) as conn,
    ):
        conn.execute("CHECKPOINT")


def _write_wal_once(server_url: str, name: str) -> None:
    """Has a new cluster write, untimed, about as much WAL as one measurement does.

    A new cluster has no WAL segments to recycle yet: the first gigabyte or so of WAL goes to
    newly created, zero-filled files, a cost a long-running server does not pay and that would
    otherwise fall on whichever measurement runs first.
    """
    with _registry_database(server_url, name) as url:
        with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE wal_warm_up AS"
                " SELECT n, repeat('x', 500) AS filler FROM generate_series(1, 2500000) AS n"
            )
        _checkpoint(server_url)


@contextlib.contextmanager
def _registry_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new database with the registry tables, dropped afterwards."""
    with fresh_database(server_url, prefix) as url:
        # The service creates its schema with Alembic (services/registry/migrations); its
        # migrations create exactly these tables and indexes, all a load benchmark needs.
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
        yield url


if __name__ == "__main__":
    raise SystemExit(main())
