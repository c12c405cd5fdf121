"""Every registry query an RPC runs, EXPLAINed over a large registry: index use and cost.

    python -m bench.explain_queries [--residents 1000000] [--database-url URL]

Loads the demo population (or reuses ``--database-url``), runs each read use case the way the
API does — GetResident, BatchGetResidents, SearchResidents (name prefix, name + birth year,
ward), VerifyIdentities (5,000 claims), ListResidenceHistory, GetHousehold, BatchGetHouseholds,
ListCivilStatusHistory — and one of each write, capturing every SQL statement they send.
Each statement is then run again under ``EXPLAIN (ANALYZE, BUFFERS)`` inside a transaction
that is rolled back. The report shows, per statement, the plan's scans, whether any big table
was read sequentially, and its execution time beside the ceiling measured in the same run:
a primary-key lookup of one resident.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.databases import fresh_database, libpq, postgres_server
from services.kit.auth import EVERY_WARD, Identity
from services.kit.db import create_engine
from services.kit.pagination import PageRequest
from services.kit.request_ids import IdempotencyKey
from services.kit.wards import OfficialWards
from services.registry import use_cases
from services.registry.adapters.audited_reads import (
    STATEMENT,
    BatchedResidentReads,
    ReadCall,
    parameters,
)
from services.registry.adapters.clock import SystemClock
from services.registry.adapters.unit_of_work import SqlUnitOfWorkFactory
from services.registry.domain import commands
from services.registry.domain.model import Address, Resident, TemporaryResidence

BIG_ROWS = 10_000
OFFICER = Identity("bench-explain", "bench", frozenset({"service"}), EVERY_WARD, "benchmark")


@dataclass(frozen=True)
class Captured:
    rpc: str
    statement: str
    parameters: Any


@dataclass(frozen=True)
class Plan:
    scans: tuple[str, ...]
    sequential_on_big_table: bool
    milliseconds: float


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain_queries")
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a loaded registry database to reuse as is")
    args = parser.parse_args(argv)
    if args.database_url:
        return _explain_all(args.database_url)
    with postgres_server() as server, fresh_database(server, "bench_explain") as url:
        _load(url, args.residents)
        return _explain_all(url)


def _load(url: str, residents: int) -> None:
    from services.registry.demo import load_population
    from services.registry.migrations import MIGRATIONS

    MIGRATIONS.upgrade(url)
    print(load_population(url, residents))
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def _explain_all(url: str) -> int:
    captured = asyncio.run(_capture(url))
    with psycopg.connect(libpq(url)) as conn:
        ceiling = _ceiling(conn)
        big = _big_tables(conn)
        print(f"ceiling: primary-key lookup of one resident, {ceiling:.3f} ms\n")
        print(f"tables of more than {BIG_ROWS:,} rows: {', '.join(sorted(big))}\n")
        print(f"{'rpc':<24} {'statement':<28} {'ms':>8} {'x ceiling':>10}  scans")
        print(f"{'-' * 24} {'-' * 28} {'-' * 8} {'-' * 10}  {'-' * 30}")
        failures = 0
        for item in captured:
            plan = _explain(conn, item, big)
            flag = "  SEQUENTIAL SCAN OF A BIG TABLE" if plan.sequential_on_big_table else ""
            failures += plan.sequential_on_big_table
            print(
                f"{item.rpc:<24} {_label(item.statement):<28} {plan.milliseconds:>8.3f} "
                f"{plan.milliseconds / ceiling:>10.1f}  {', '.join(plan.scans)}{flag}"
            )
    print(f"\n{len(captured)} statements, {failures} with a sequential scan of a big table")
    return 0


async def _capture(url: str) -> list[Captured]:
    engine = create_engine(url)
    captured: list[Captured] = []
    current = [""]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        # Plans are about finding rows; an INSERT's cost is the indexes it maintains.
        if current[0] and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            captured.append(Captured(current[0], statement, parameters))

    class CapturedReads(BatchedResidentReads):
        # GetResident's statement goes through psycopg directly, past the engine's events.
        async def execute(self, calls: Sequence[ReadCall]) -> list[Resident | None]:
            if current[0]:
                captured.append(Captured(current[0], STATEMENT, parameters(calls)))
            return await super().execute(calls)

    reads = CapturedReads(engine)
    try:
        reg = use_cases.Registry(
            uow=SqlUnitOfWorkFactory(engine),
            reads=reads,
            wards=OfficialWards(),
            clock=SystemClock(),
        )
        samples = await _samples(engine)
        for rpc, run in _calls(reg, samples):
            current[0] = rpc
            await run
    finally:
        await reads.aclose()
        await engine.dispose()
    return captured


@dataclass(frozen=True)
class Samples:
    citizen_ids: list[str]
    names: list[tuple[str, dt.date]]
    ward: str
    household_id: str


async def _samples(engine: AsyncEngine) -> Samples:
    async with engine.connect() as conn:
        rows: Sequence[Any] = (
            await conn.exec_driver_sql(
                "SELECT citizen_id, full_name, birth_date, perm_ward_code, household_id "
                "FROM residents TABLESAMPLE SYSTEM (1) LIMIT 5000"
            )
        ).all()  # fmt: skip
    return Samples(
        citizen_ids=[row[0] for row in rows],
        names=[(row[1], row[2]) for row in rows],
        ward=rows[0][3],
        household_id=str(rows[0][4]),
    )


def _calls(reg: use_cases.Registry, s: Samples) -> Iterator[tuple[str, Any]]:
    page = PageRequest(50, None)
    first_name, first_birth = s.names[0]
    family_name = first_name.split()[0]
    yield "GetResident", use_cases.get_resident(reg, OFFICER, s.citizen_ids[0])
    yield "BatchGetResidents", use_cases.batch_get_residents(reg, OFFICER, s.citizen_ids[:1000])
    for label, query in (
        ("Search name prefix", commands.SearchQuery(first_name[:-2], None, None, None)),
        ("Search name+year", commands.SearchQuery(family_name, None, first_birth.year, None)),
        ("Search ward", commands.SearchQuery("", None, None, s.ward)),
    ):
        yield label, use_cases.search_residents(reg, OFFICER, query, page)
    claims = [
        commands.IdentityClaim(str(i), cid if i % 2 else "", name, birth, "")
        for i, (cid, (name, birth)) in enumerate(zip(s.citizen_ids, s.names, strict=False))
    ]
    yield "VerifyIdentities", use_cases.verify_identities(reg, OFFICER, claims)
    yield (
        "ListResidenceHistory",
        use_cases.list_residence_history(reg, OFFICER, s.citizen_ids[1], page),
    )
    yield "GetHousehold", use_cases.get_household(reg, OFFICER, s.household_id, "")
    yield (
        "BatchGetHouseholds",
        use_cases.batch_get_households(reg, OFFICER, s.citizen_ids[:1000]),
    )
    yield (
        "ListCivilStatusHistory",
        use_cases.list_civil_status_history(reg, OFFICER, s.citizen_ids[2]),
    )
    resident_id = s.citizen_ids[3]
    yield "UpdateResidence", _register_temporary(reg, resident_id)


async def _register_temporary(reg: use_cases.Registry, citizen_id: str) -> None:
    current = await use_cases.get_resident(reg, OFFICER, citizen_id)
    ward = "00073" if current.permanent_residence.ward_code != "00073" else "00070"
    change = commands.TemporaryRegistration(
        TemporaryResidence(Address(ward, "1 Phố Huế"), reg.today())
    )
    await use_cases.update_residence(
        reg,
        OFFICER,
        commands.UpdateResidence(citizen_id, current.etag, change, "bench"),
        IdempotencyKey(f"explain-{citizen_id}", "bench"),
        lambda resident: b"",
    )


def _explain(conn: psycopg.Connection[Any], item: Captured, big: frozenset[str]) -> Plan:
    try:
        row = conn.execute(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {item.statement}", item.parameters
        ).fetchone()
    finally:
        conn.rollback()
    assert row is not None
    plan = row[0][0]
    scans = tuple(_scans(plan["Plan"]))
    sequential = any(scan.startswith("Seq Scan on ") and scan.split()[-1] in big for scan in scans)
    return Plan(scans, sequential, float(plan["Execution Time"]))


def _big_tables(conn: psycopg.Connection[Any]) -> frozenset[str]:
    """Tables whose planner estimate exceeds BIG_ROWS: a sequential scan of them is a defect.
    Smaller ones (an empty history table in demo data) are rightly scanned."""
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples > %s", (BIG_ROWS,)
    ).fetchall()
    return frozenset(name for (name,) in rows)


def _scans(node: dict[str, Any]) -> Iterator[str]:
    kind = node["Node Type"]
    if "Scan" in kind and "Relation Name" in node:
        index = f" using {node['Index Name']}" if "Index Name" in node else ""
        yield f"{kind} on {node['Relation Name']}{index}"
    for child in node.get("Plans", ()):
        yield from _scans(child)


def _ceiling(conn: psycopg.Connection[Any]) -> float:
    row = conn.execute(
        "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM residents WHERE citizen_id = "
        "(SELECT citizen_id FROM residents LIMIT 1)"
    ).fetchone()
    assert row is not None
    return float(row[0][0]["Execution Time"])


def _label(statement: str) -> str:
    words = " ".join(statement.split())
    for keyword in ("INSERT INTO", "UPDATE", "FROM"):
        if keyword in words:
            rest = words.split(keyword, 1)[1].split()
            return f"{keyword.split()[0]} {rest[0] if rest else ''}"[:28]
    return words[:28]


if __name__ == "__main__":
    sys.exit(main())
