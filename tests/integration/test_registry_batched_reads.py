"""GetResident group-committed: concurrent calls share statements, each keeps its own answer,
its own audit row and its own failure.

These tests run a registry server of their own (same database as the session's) whose reader
is the production ``BatchedResidentReads`` with instruments a test can read (batches sent) and
two faults it can arm: hold the batches back, and make one call's batch fail in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from sqlalchemy.pool import QueuePool

from services.kit.auth import EVERY_WARD, Identity, TokenIssuer, TokenVerifier, public_key_pem
from services.kit.db import create_engine
from services.registry.adapters.audited_reads import MAX_IN_FLIGHT, BatchedResidentReads, ReadCall
from services.registry.adapters.repository import SqlResidentRepository
from services.registry.domain.model import Resident
from services.registry.main import build_server, open_registry
from services.registry.use_cases import _visible
from tests.integration.registry_client import (
    BA_DINH,
    HOAN_KIEM,
    HOAN_KIEM_POLICE,
    REGISTRAR,
    TAY_HO,
    RegistryClients,
    RegistryDatabase,
    date,
    new_citizen_id,
    register,
    rich_error,
    today,
)

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from sqlalchemy.ext.asyncio import AsyncEngine


class InstrumentedReads(BatchedResidentReads):
    """The production reader, with faults a test arms and checks fired."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        # While set, every batch waits for it before its statement (batches "in flight").
        self.gate: asyncio.Event | None = None
        self.held = 0
        # The next batch holding this citizen id fails in PostgreSQL (once).
        self.poison: str | None = None
        self.poisoned: list[list[str]] = []

    async def execute(self, calls: Sequence[ReadCall]) -> list[Resident | None]:
        if self.gate is not None:
            self.held += 1
            await self.gate.wait()
        if self.poison is not None and any(call.citizen_id == self.poison for call in calls):
            self.poisoned.append([call.citizen_id for call in calls])
            calls = [self._poisoned(call) for call in calls]
            self.poison = None
        return await super().execute(calls)

    def _poisoned(self, call: ReadCall) -> ReadCall:
        if call.citizen_id != self.poison:
            return call
        # A NULL subject: the audit row breaks NOT NULL, so the whole statement fails.
        return replace(call, identity=replace(call.identity, subject=None))  # type: ignore[arg-type]


@dataclass
class BatchingServer:
    reads: InstrumentedReads
    clients: RegistryClients

    def stub(self, identity: Identity) -> RegistryServiceAsyncStub:
        return self.clients.stub(identity)


@pytest.fixture(scope="module")
async def batching(
    registry_database_url: str, signing_key: bytes, token_issuer: TokenIssuer
) -> AsyncIterator[BatchingServer]:
    engine = create_engine(registry_database_url, pool_size=5)
    reads = InstrumentedReads(engine)
    try:
        async with open_registry(engine) as registry:
            verifier = TokenVerifier(public_key_pem(signing_key))
            server = build_server(replace(registry, reads=reads), verifier, "127.0.0.1:0")
            await server.start()
            clients = RegistryClients(f"127.0.0.1:{server.port}", token_issuer)
            try:
                yield BatchingServer(reads, clients)
            finally:
                await clients.close()
                await server.stop(1.0)
                await reads.aclose()
    finally:
        await engine.dispose()


async def get(stub: RegistryServiceAsyncStub, citizen_id: str) -> rpb.Resident | str:
    """The resident, or the failure's status code name and reason."""
    try:
        response = await stub.GetResident(pb.GetResidentRequest(citizen_id=citizen_id))
    except grpc.aio.AioRpcError as error:
        failure = rich_error(error)
        return f"{failure.code.name} {failure.reason}".strip()
    return response.resident


async def audit_rows(registry_db: RegistryDatabase, citizen_ids: Sequence[str]) -> list[Any]:
    return await registry_db.rows(
        "SELECT subject, agency, roles, purpose, resource_type, resource_ids, outcome,"
        " request_id FROM audit_log WHERE action = 'GetResident' AND resource_ids[1] = ANY(%s)"
        " ORDER BY id",
        list(citizen_ids),
    )


def temporary(ward: str, valid_from: dt.date, valid_to: dt.date | None) -> rpb.TemporaryResidence:
    residence = rpb.TemporaryResidence(
        address=rpb.Address(ward_code=ward, street="20 Hàng Bạc"), valid_from=date(valid_from)
    )
    if valid_to is not None:
        residence.valid_to.CopyFrom(date(valid_to))
    return residence


# --- many callers at once ------------------------------------------------------------------


async def test_concurrent_calls_share_statements_and_each_gets_its_answer_and_audit_row(
    batching: BatchingServer, registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    day = today()
    kinds = {
        # kind: (permanent ward, temporary residence, seen by Hoàn Kiếm's police)
        "inside": (HOAN_KIEM, None, True),
        "other ward": (BA_DINH, None, False),
        "staying here": (
            BA_DINH,
            temporary(HOAN_KIEM, day - dt.timedelta(days=3), day + dt.timedelta(days=3)),
            True,
        ),
        "stayed here": (
            BA_DINH,
            temporary(HOAN_KIEM, day - dt.timedelta(days=30), day - dt.timedelta(days=1)),
            False,
        ),
        "not here yet": (BA_DINH, temporary(HOAN_KIEM, day + dt.timedelta(days=1), None), False),
    }
    specs = [spec for spec in kinds.values() for _ in range(16)]
    registered = await asyncio.gather(
        *(register(registrar, ward=ward, temporary=stay) for ward, stay, _ in specs)
    )
    residents = {r.citizen_id: r for r in registered}
    seen_by_police = {
        r.citizen_id for r, (_, _, seen) in zip(registered, specs, strict=True) if seen
    }
    unknown = [new_citizen_id() for _ in range(40)]
    police, national = batching.stub(HOAN_KIEM_POLICE), batching.stub(REGISTRAR)
    calls = [(HOAN_KIEM_POLICE, police, cid) for cid in [*residents, *unknown[:20]]]
    calls += [(REGISTRAR, national, cid) for cid in [*residents, *unknown[20:]]]
    assert len(calls) == 200
    batches_before = batching.reads.group.batches

    answers = await asyncio.gather(*(get(stub, cid) for _, stub, cid in calls))

    not_found = "NOT_FOUND RESIDENT_NOT_FOUND"
    for (who, _, cid), answer in zip(calls, answers, strict=True):
        visible = cid in residents and (who is REGISTRAR or cid in seen_by_police)
        assert answer == (residents[cid] if visible else not_found), (who.subject, cid)
    # Batches of more than one call did happen: fewer statements than calls.
    batches = batching.reads.group.batches - batches_before
    assert batches < len(calls)
    assert batching.reads.group.largest_batch > 1

    rows = await audit_rows(registry_db, [*residents, *unknown])
    by_call = Counter((row["subject"], row["resource_ids"][0]) for row in rows)
    assert set(by_call.values()) == {1}  # exactly one row per call
    assert len(rows) == len(calls)
    for row in rows:
        who = HOAN_KIEM_POLICE if row["subject"] == HOAN_KIEM_POLICE.subject else REGISTRAR
        cid = row["resource_ids"][0]
        visible = cid in residents and (who is REGISTRAR or cid in seen_by_police)
        assert row == {
            "subject": who.subject,
            "agency": who.agency,
            "roles": sorted(who.roles),
            "purpose": "unspecified",
            "resource_type": "resident",
            "resource_ids": [cid],
            "outcome": "ok" if visible else "not_found",
            "request_id": None,
        }


# --- the statement's visibility is the domain's --------------------------------------------


async def test_the_statement_sees_exactly_what_the_domain_rule_sees(
    batching: BatchingServer,
    registrar: RegistryServiceAsyncStub,
    registry_database_url: str,
    registry_db: RegistryDatabase,
) -> None:
    start = dt.date(2021, 9, 18)
    end = start + dt.timedelta(days=10)
    shapes = [
        (BA_DINH, None),
        (BA_DINH, temporary(HOAN_KIEM, start, None)),
        (BA_DINH, temporary(HOAN_KIEM, start, end)),
        (BA_DINH, temporary(HOAN_KIEM, start, start)),
        (BA_DINH, temporary(BA_DINH, start, end)),  # another address in its own ward
    ]
    registered = await asyncio.gather(
        *(register(registrar, ward=ward, temporary=stay) for ward, stay in shapes)
    )
    ids = [r.citizen_id for r in registered]
    engine = create_engine(registry_database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            repository = SqlResidentRepository(conn)
            stored = {cid: await repository.get(cid) for cid in ids}
    finally:
        await engine.dispose()
    unknown = new_citizen_id()
    odd_role = 'odd,role "with" {braces}'
    scopes = [
        frozenset({BA_DINH}),
        frozenset({HOAN_KIEM}),
        frozenset({TAY_HO}),
        frozenset({BA_DINH, HOAN_KIEM}),
        frozenset({TAY_HO, HOAN_KIEM}),
        frozenset(),
        EVERY_WARD,
        frozenset({"*", TAY_HO}),
    ]
    callers = [
        Identity(f"agree-{ids[0]}-{i}", "cong-an", frozenset({"ward_police", odd_role}), wards)
        for i, wards in enumerate(scopes)
    ]
    days = [start - dt.timedelta(days=1), start, start + dt.timedelta(days=5), end]
    days.append(end + dt.timedelta(days=1))
    cases = [(who, cid, day) for who in callers for cid in [*ids, unknown] for day in days]

    answers = await asyncio.gather(*(batching.reads.get(who, cid, day) for who, cid, day in cases))

    expected_outcomes: Counter[tuple[str, str, str]] = Counter()
    for (who, cid, day), answer in zip(cases, answers, strict=True):
        resident = stored.get(cid)
        visible = resident is not None and _visible(who, resident, day)
        assert answer == (resident if visible else None), (sorted(who.wards), cid, day)
        expected_outcomes[(who.subject, cid, "ok" if visible else "not_found")] += 1
    # Both answers occur for every stay in Hoàn Kiếm: the days do straddle its boundaries.
    hoan_kiem = callers[1]
    for cid, (_, stay) in zip(ids, shapes, strict=True):
        if stay is not None and stay.address.ward_code == HOAN_KIEM:
            assert expected_outcomes[(hoan_kiem.subject, cid, "ok")] > 0
            assert expected_outcomes[(hoan_kiem.subject, cid, "not_found")] > 0

    rows = await audit_rows(registry_db, [*ids, unknown])
    mine = [row for row in rows if row["subject"].startswith(f"agree-{ids[0]}-")]
    assert (
        Counter((row["subject"], row["resource_ids"][0], row["outcome"]) for row in mine)
        == expected_outcomes
    )
    assert {tuple(row["roles"]) for row in mine} == {tuple(sorted({"ward_police", odd_role}))}


async def test_each_audit_row_carries_its_own_calls_trace_id(
    batching: BatchingServer, registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)
    traces = [0x5EED0000000000000000000000000000 + i for i in range(1, 31)]

    async def traced_read(trace_id: int) -> Resident | None:
        context = SpanContext(
            trace_id, 0x1D, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
        with trace.use_span(NonRecordingSpan(context)):
            return await batching.reads.get(REGISTRAR, resident.citizen_id, today())

    batches_before = batching.reads.group.batches
    found = await asyncio.gather(*(traced_read(trace_id) for trace_id in traces))

    assert all(r is not None and r.citizen_id == resident.citizen_id for r in found)
    assert batching.reads.group.batches - batches_before < len(traces)  # shared statements
    rows = await registry_db.rows(
        "SELECT trace_id FROM audit_log WHERE action = 'GetResident' AND resource_ids[1] = %s"
        " ORDER BY id",
        resident.citizen_id,
    )
    assert sorted(row["trace_id"] for row in rows) == [format(t, "032x") for t in traces]


# --- failures ------------------------------------------------------------------------------


async def test_a_failing_batch_fails_its_own_calls_only_and_batching_goes_on(
    batching: BatchingServer, registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    reads = batching.reads
    stub = batching.stub(REGISTRAR)
    residents = await asyncio.gather(*(register(registrar) for _ in range(MAX_IN_FLIGHT + 10)))
    blockers, victims = residents[:MAX_IN_FLIGHT], residents[MAX_IN_FLIGHT:]
    poison = victims[3].citizen_id

    # As many batches as may be in flight are held; the next calls queue behind them, so they
    # leave together in one batch, the one the poisoned call makes fail.
    reads.gate = asyncio.Event()
    first = await _hold_batches(reads, [get(stub, r.citizen_id) for r in blockers])
    reads.poison = poison
    queued = [asyncio.ensure_future(get(stub, r.citizen_id)) for r in victims]
    await _until(lambda: reads.group.waiting == len(victims))
    gate, reads.gate = reads.gate, None
    gate.set()

    assert await asyncio.gather(*first) == list(blockers)
    failed = await asyncio.gather(*queued)

    assert reads.poisoned == [[r.citizen_id for r in victims]]  # the fault fired, once
    assert failed == ["INTERNAL"] * len(victims)
    # One statement: its reads and every audit row of the batch were rolled back together.
    assert await audit_rows(registry_db, [r.citizen_id for r in victims]) == []
    assert len(await audit_rows(registry_db, [r.citizen_id for r in blockers])) == MAX_IN_FLIGHT

    # The reader goes on: the same calls again, the poisoned one included, all succeed.
    again = await asyncio.gather(*(get(stub, r.citizen_id) for r in victims))
    assert again == list(victims)
    assert len(await audit_rows(registry_db, [r.citizen_id for r in victims])) == len(victims)


async def test_stopping_the_server_with_batches_in_flight_does_not_hang(
    registry_database_url: str,
    signing_key: bytes,
    token_issuer: TokenIssuer,
    registrar: RegistryServiceAsyncStub,
) -> None:
    resident = await register(registrar)
    engine = create_engine(registry_database_url, pool_size=2)
    reads = InstrumentedReads(engine)
    reads.gate = asyncio.Event()  # the batches never get to the database before the stop
    clients: RegistryClients | None = None
    try:
        async with open_registry(engine) as registry:
            verifier = TokenVerifier(public_key_pem(signing_key))
            server = build_server(replace(registry, reads=reads), verifier, "127.0.0.1:0")
            await server.start()
            clients = RegistryClients(f"127.0.0.1:{server.port}", token_issuer)
            stub = clients.stub(REGISTRAR)
            calls = await _hold_batches(
                reads, [get(stub, resident.citizen_id) for _ in range(MAX_IN_FLIGHT)]
            )
            calls += [asyncio.ensure_future(get(stub, resident.citizen_id)) for _ in range(18)]
            await _until(lambda: reads.group.waiting == 18)

            await asyncio.wait_for(server.stop(0.2), timeout=10)
            answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
            assert set(answers) <= {"UNAVAILABLE", "CANCELLED"}, answers  # none left hanging
            await asyncio.wait_for(reads.aclose(), timeout=10)
    finally:
        await asyncio.wait_for(engine.dispose(), timeout=10)
        if clients is not None:
            await clients.close()

    # Let the held batches finish (they find no caller left) so nothing outlives the test.
    assert reads.gate is not None
    reads.gate.set()
    await _until(lambda: reads.group.in_flight == 0)
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedout() == 0
    await engine.dispose()


async def _hold_batches(
    reads: InstrumentedReads, calls: Sequence[Awaitable[rpb.Resident | str]]
) -> list[asyncio.Future[rpb.Resident | str]]:
    """Starts ``calls`` one after the other, each held as its own batch at the gate."""
    assert reads.gate is not None
    started: list[asyncio.Future[rpb.Resident | str]] = []
    for call in calls:
        held = reads.held
        started.append(asyncio.ensure_future(call))
        await _until(lambda: reads.held == held + 1)  # noqa: B023 - awaited right here
    return started


async def _until(condition: Callable[[], bool]) -> None:
    """Returns once ``condition()`` holds; fails after 10 s."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")
