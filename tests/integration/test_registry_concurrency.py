"""Concurrent calls on the same records: what PostgreSQL's locks must make of them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb
from psycopg import sql

from tests.integration.registry_client import (
    BA_DINH,
    CUA_NAM,
    TAY_HO,
    RegistryDatabase,
    date,
    death_request,
    new_request_id,
    register,
    registration,
    today,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


def decode(results: Sequence[object]) -> list[tuple[grpc.StatusCode, Any]]:
    """(OK, response) or (status code, details) for each result of ``gather``."""
    decoded: list[tuple[grpc.StatusCode, Any]] = []
    for result in results:
        if isinstance(result, grpc.aio.AioRpcError):
            decoded.append((result.code(), result.details()))
        elif isinstance(result, BaseException):
            raise result
        else:
            decoded.append((grpc.StatusCode.OK, result))
    return decoded


async def outcomes(*calls: Awaitable[Any]) -> list[tuple[grpc.StatusCode, Any]]:
    """Runs ``calls`` at once and decodes each outcome."""
    return decode(await asyncio.gather(*calls, return_exceptions=True))


@contextlib.asynccontextmanager
async def inserts_held(url: str, table: str) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Holds back every insert into ``table`` (reads go on) until the block ends.

    Yields ``wait_for(n)``: returns once ``n`` sessions wait on the lock, so calls started
    meanwhile are known to have made all their checks before any of them writes.
    """
    async with await psycopg.AsyncConnection.connect(url) as holder:
        await holder.execute(
            sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(sql.Identifier(table))
        )

        async def wait_for(n: int) -> None:
            for _ in range(500):
                cursor = await holder.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                row = await cursor.fetchone()
                if row is not None and row[0] >= n:
                    return
                await asyncio.sleep(0.01)
            raise AssertionError(f"{n} sessions never waited on {table}")

        yield wait_for
        await holder.rollback()


async def test_concurrent_retries_of_one_registration_register_once(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    request = registration()

    results = await outcomes(*(registrar.RegisterResident(request) for _ in range(5)))

    assert [code for code, _ in results] == [grpc.StatusCode.OK] * 5
    first = results[0][1].SerializeToString()
    assert all(response.SerializeToString() == first for _, response in results)
    assert await registry_db.count("residents", request.citizen_id) == 1
    assert await registry_db.count("residence_history", request.citizen_id) == 1


async def test_concurrent_registrations_of_one_citizen_id_leave_one_clear_refusal(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase, registry_database_url: str
) -> None:
    one = registration()
    other = registration(citizen_id=one.citizen_id)

    async with inserts_held(registry_database_url, "residents") as wait_for:
        calls = asyncio.gather(
            registrar.RegisterResident(one),
            registrar.RegisterResident(other),
            return_exceptions=True,
        )
        await wait_for(2)
    results = decode(await calls)

    assert sorted(code.name for code, _ in results) == ["FAILED_PRECONDITION", "OK"]
    assert await registry_db.count("residents", one.citizen_id) == 1


async def test_concurrent_changes_with_one_etag_apply_one(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)

    def stay(ward: str) -> pb.UpdateResidenceRequest:
        return pb.UpdateResidenceRequest(
            request_id=new_request_id(),
            citizen_id=resident.citizen_id,
            etag=resident.etag,
            temporary_registration=rpb.TemporaryResidence(
                address=rpb.Address(ward_code=ward, street="2 Nguyễn Thái Học"),
                valid_from=date(today()),
            ),
            reason="đăng ký tạm trú",
        )

    results = await outcomes(
        registrar.UpdateResidence(stay(TAY_HO)),
        registrar.UpdateResidence(stay(CUA_NAM)),
        registrar.UpdateResidence(stay(BA_DINH)),
    )

    codes = sorted(code.name for code, _ in results)
    assert codes == ["ABORTED", "ABORTED", "OK"]
    assert await registry_db.count("residence_history", resident.citizen_id) == 2


async def test_concurrent_reports_of_one_death_record_it_once(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    service_caller: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)

    results = await outcomes(
        civil_officer.RegisterDeath(death_request(resident.citizen_id)),
        service_caller.RegisterDeath(death_request(resident.citizen_id)),
        civil_officer.RegisterDeath(death_request(resident.citizen_id)),
    )

    assert [code for code, _ in results] == [grpc.StatusCode.OK] * 3
    assert await registry_db.count("civil_status_history", resident.citizen_id) == 2
    assert len(await registry_db.outbox(resident.citizen_id)) == 1


async def test_a_household_keeps_one_living_head(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
    registry_database_url: str,
) -> None:
    # The head dies; two officers register a new head at the same time.
    head = await register(registrar, birth_date=dt.date(1950, 1, 1))
    await civil_officer.RegisterDeath(death_request(head.citizen_id))
    candidates = [
        registration(household_id=head.household_id, birth_date=dt.date(1975, 3, 3)),
        registration(household_id=head.household_id, birth_date=dt.date(1976, 4, 4)),
    ]

    async with inserts_held(registry_database_url, "residents") as wait_for:
        calls = asyncio.gather(
            *(registrar.RegisterResident(c) for c in candidates), return_exceptions=True
        )
        await wait_for(2)
    results = decode(await calls)

    assert sorted(code.name for code, _ in results) == ["FAILED_PRECONDITION", "OK"]
    living_heads = await registry_db.scalar(
        "SELECT count(*) FROM residents WHERE household_id = %s"
        " AND relationship_to_head = 1 AND civil_status = 1",
        head.household_id,
    )
    assert living_heads == 1


async def test_the_head_of_a_household_is_its_living_head(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
) -> None:
    former = await register(registrar, birth_date=dt.date(1950, 1, 1))
    await civil_officer.RegisterDeath(death_request(former.citizen_id))
    successor = await register(
        registrar, household_id=former.household_id, birth_date=dt.date(1975, 3, 3)
    )

    household = await registrar.GetHousehold(
        pb.GetHouseholdRequest(household_id=former.household_id)
    )

    assert household.household.head_citizen_id == successor.citizen_id
