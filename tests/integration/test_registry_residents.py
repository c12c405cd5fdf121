"""RegisterResident, GetResident and BatchGetResidents over real gRPC and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import unicodedata
from typing import TYPE_CHECKING

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from services.cli.main import main as dancu
from services.registry.domain.model import Sex
from tests.integration.registry_client import (
    BA_DINH,
    CUA_NAM,
    HOAN_KIEM,
    REGISTRAR,
    UNKNOWN_WARD,
    RegistryDatabase,
    date,
    expect_error,
    new_citizen_id,
    new_request_id,
    register,
    registration,
    today,
)

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


async def households(db: RegistryDatabase) -> int:
    value: int = await db.scalar("SELECT count(*) FROM households")
    return value


# --- RegisterResident ----------------------------------------------------------------------


async def test_register_resident_returns_the_registered_resident(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    # Typed decomposed (as some keyboards send it), with stray spaces.
    typed = unicodedata.normalize("NFD", "  Phạm   Thị  Hồng ")
    request = registration(full_name=typed, sex=Sex.FEMALE, birth_date=dt.date(1990, 7, 15))

    resident = (await registrar.RegisterResident(request)).resident

    assert resident.citizen_id == request.citizen_id
    assert resident.full_name == "Phạm Thị Hồng"  # stored normalised: single spaces, NFC
    assert resident.birth_date == date(dt.date(1990, 7, 15))
    assert resident.sex == rpb.SEX_FEMALE
    assert resident.birth_registration_province_code == "001"
    assert resident.permanent_residence == rpb.Address(
        ward_code=HOAN_KIEM,
        street="12 Hàng Bài",
        ward_name="Phường Hoàn Kiếm",
        province_code="01",
        province_name="Thành phố Hà Nội",
    )
    assert not resident.HasField("temporary_residence")
    assert resident.household_id
    assert resident.relationship_to_head == rpb.RELATIONSHIP_HEAD
    assert resident.civil_status == rpb.CIVIL_STATUS_ALIVE
    assert not resident.HasField("death")
    assert resident.etag
    assert resident.create_time.seconds > 0
    # What the database holds: the resident, one permanent residence record from today, one
    # civil-status record, the new household.
    assert await registry_db.count("residents", resident.citizen_id) == 1
    history = await registry_db.rows(
        "SELECT kind, ward_code, valid_from, valid_to, recorded_by FROM residence_history"
        " WHERE citizen_id = %s",
        resident.citizen_id,
    )
    assert history == [
        {
            "kind": 1,
            "ward_code": HOAN_KIEM,
            "valid_from": today(),
            "valid_to": None,
            "recorded_by": REGISTRAR.subject,
        }
    ]
    assert await registry_db.count("civil_status_history", resident.citizen_id) == 1
    assert (
        await registry_db.scalar(
            "SELECT count(*) FROM households WHERE household_id = %s", resident.household_id
        )
        == 1
    )
    # Fetched again, it is the same resident.
    fetched = await registrar.GetResident(pb.GetResidentRequest(citizen_id=resident.citizen_id))
    assert fetched.resident == resident


async def test_register_with_a_temporary_residence(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    start = today() - dt.timedelta(days=10)
    temporary = rpb.TemporaryResidence(
        address=rpb.Address(ward_code=CUA_NAM, street="5 Lý Thường Kiệt"),
        valid_from=date(start),
    )

    resident = await register(registrar, temporary=temporary)

    assert resident.temporary_residence.address.ward_code == CUA_NAM
    assert resident.temporary_residence.address.ward_name == "Phường Cửa Nam"
    assert resident.temporary_residence.valid_from == date(start)
    assert not resident.temporary_residence.HasField("valid_to")
    kinds = await registry_db.rows(
        "SELECT kind, ward_code, valid_from FROM residence_history WHERE citizen_id = %s"
        " ORDER BY id",
        resident.citizen_id,
    )
    assert kinds == [
        {"kind": 1, "ward_code": HOAN_KIEM, "valid_from": today()},
        {"kind": 2, "ward_code": CUA_NAM, "valid_from": start},
    ]


async def test_register_replay_returns_the_first_response_and_writes_once(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    request = registration()
    households_before = await households(registry_db)

    first = await registrar.RegisterResident(request)
    replay = await registrar.RegisterResident(request)

    assert replay.SerializeToString() == first.SerializeToString()
    assert await registry_db.count("residents", request.citizen_id) == 1
    assert await registry_db.count("residence_history", request.citizen_id) == 1
    assert await registry_db.count("civil_status_history", request.citizen_id) == 1
    assert await households(registry_db) == households_before + 1
    assert await registry_db.request_logged(request.request_id) == 1
    audit = await registry_db.audit("RegisterResident", request.citizen_id)
    assert [(row["outcome"], row["request_id"]) for row in audit] == [
        ("ok", request.request_id),
        ("replayed", request.request_id),
    ]


async def test_register_request_id_reused_for_another_request_is_refused(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    first = registration()
    await registrar.RegisterResident(first)
    other = registration(request_id=first.request_id)

    error = await expect_error(registrar.RegisterResident(other), grpc.StatusCode.ALREADY_EXISTS)

    assert error.reason == "REQUEST_ID_REUSED"
    assert await registry_db.count("residents", other.citizen_id) == 0
    assert other.citizen_id not in error.text
    assert other.full_name not in error.text


async def test_request_id_is_required(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    request = registration()
    request.request_id = ""

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.violations == (("request_id", "REQUEST_ID_INVALID"),)
    assert await registry_db.count("residents", request.citizen_id) == 0


async def test_register_bad_input_lists_every_field_and_writes_nothing(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    request = pb.RegisterResidentRequest(
        request_id=new_request_id(),
        citizen_id="00108500012X",
        full_name="Nguyễn Văn 2",
        permanent_residence=rpb.Address(ward_code=UNKNOWN_WARD, street="1 Tràng Tiền"),
    )

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.reason == "INVALID_INPUT"
    assert error.domain == "registry.dancu"
    assert error.violations == (
        ("citizen_id", "CITIZEN_ID_MALFORMED"),
        ("full_name", "FULL_NAME_INVALID"),
        ("birth_date", "BIRTH_DATE_REQUIRED"),
        ("sex", "SEX_REQUIRED"),
        ("permanent_residence.ward_code", "WARD_UNKNOWN"),
        ("relationship_to_head", "RELATIONSHIP_REQUIRED"),
    )
    assert "Nguyễn Văn 2" not in error.text
    assert "00108500012X" not in error.text
    assert await registry_db.request_logged(request.request_id) == 0
    assert await registry_db.audit("RegisterResident", request.citizen_id) == []


async def test_citizen_id_inconsistent_with_sex_and_birth_date(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    # The id says: a woman born in 1990. The request says: a man born in 1985.
    citizen_id = new_citizen_id(sex=Sex.FEMALE, birth_year=1990)
    request = registration(citizen_id=citizen_id, sex=Sex.MALE, birth_date=dt.date(1985, 4, 2))

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.violations == (
        ("citizen_id", "CITIZEN_ID_INCONSISTENT"),
        ("citizen_id", "CITIZEN_ID_INCONSISTENT"),
    )
    assert citizen_id not in error.text
    assert await registry_db.count("residents", citizen_id) == 0


async def test_citizen_id_century_digit_must_match_birth_year(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    # Same two-digit year, wrong century: digit 4 says 1900s, the birth date 2005.
    citizen_id = new_citizen_id(sex=Sex.MALE, birth_year=1905)
    request = registration(citizen_id=citizen_id, birth_date=dt.date(2005, 1, 1))

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.violations == (("citizen_id", "CITIZEN_ID_INCONSISTENT"),)
    assert await registry_db.count("residents", citizen_id) == 0


async def test_unknown_ward_is_refused(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    request = registration(ward=UNKNOWN_WARD)

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.violations == (("permanent_residence.ward_code", "WARD_UNKNOWN"),)
    assert await registry_db.count("residents", request.citizen_id) == 0


async def test_birth_date_in_the_future_is_refused(registrar: RegistryServiceAsyncStub) -> None:
    tomorrow = today() + dt.timedelta(days=1)
    request = registration(birth_date=tomorrow)

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.violations == (("birth_date", "BIRTH_DATE_OUT_OF_RANGE"),)


async def test_impossible_birth_date_is_refused(registrar: RegistryServiceAsyncStub) -> None:
    request = registration()
    request.birth_date.day = 31
    request.birth_date.month = 2

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert ("birth_date", "DATE_INVALID") in error.violations


async def test_temporary_residence_equal_to_the_permanent_is_refused(
    registrar: RegistryServiceAsyncStub,
) -> None:
    same = rpb.TemporaryResidence(
        address=rpb.Address(ward_code=HOAN_KIEM, street="12 Hàng Bài"), valid_from=date(today())
    )
    request = registration(temporary=same)

    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.violations == (("temporary_residence.address", "TEMPORARY_EQUALS_PERMANENT"),)


async def test_a_registered_citizen_id_cannot_be_registered_again(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    first = await register(registrar)
    again = registration(citizen_id=first.citizen_id, full_name="Lê Văn Khác")

    error = await expect_error(
        registrar.RegisterResident(again), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert error.reason == "CITIZEN_ID_TAKEN"
    assert first.citizen_id not in error.text
    assert await registry_db.count("residents", first.citizen_id) == 1
    assert await registry_db.count("residence_history", first.citizen_id) == 1
    assert await registry_db.request_logged(again.request_id) == 0


async def test_ward_scoped_registrar_registers_only_in_own_wards(
    ward_registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    elsewhere = registration(ward=BA_DINH)

    error = await expect_error(
        ward_registrar.RegisterResident(elsewhere), grpc.StatusCode.PERMISSION_DENIED
    )

    assert error.reason == "OUT_OF_JURISDICTION"
    assert await registry_db.count("residents", elsewhere.citizen_id) == 0
    at_home = await register(ward_registrar, ward=HOAN_KIEM)
    assert at_home.permanent_residence.ward_code == HOAN_KIEM


# --- GetResident ---------------------------------------------------------------------------


async def test_get_unknown_resident_is_not_found(registrar: RegistryServiceAsyncStub) -> None:
    citizen_id = new_citizen_id()

    error = await expect_error(
        registrar.GetResident(pb.GetResidentRequest(citizen_id=citizen_id)),
        grpc.StatusCode.NOT_FOUND,
    )

    assert error.reason == "RESIDENT_NOT_FOUND"
    assert citizen_id not in error.text


async def test_get_resident_with_malformed_id_is_invalid(
    registrar: RegistryServiceAsyncStub,
) -> None:
    for malformed in ("", "12345", "000085000001", "0010850000011", "００１０８５０００００１"):
        error = await expect_error(
            registrar.GetResident(pb.GetResidentRequest(citizen_id=malformed)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error.violations == (("citizen_id", "CITIZEN_ID_MALFORMED"),), malformed


# --- BatchGetResidents ---------------------------------------------------------------------


async def test_batch_get_returns_found_residents_in_request_order(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    first = await register(registrar)
    second = await register(registrar, ward=BA_DINH)
    unknown = new_citizen_id()

    response = await registrar.BatchGetResidents(
        pb.BatchGetResidentsRequest(
            citizen_ids=[second.citizen_id, unknown, first.citizen_id, second.citizen_id]
        )
    )

    assert [r.citizen_id for r in response.residents] == [second.citizen_id, first.citizen_id]
    assert list(response.residents) == [second, first]
    assert list(response.not_found_citizen_ids) == [unknown]
    audit = await registry_db.audit("BatchGetResidents", first.citizen_id)
    assert len(audit) == 1
    assert sorted(audit[0]["resource_ids"]) == sorted([first.citizen_id, second.citizen_id])


async def test_batch_get_refuses_more_than_1000_ids(registrar: RegistryServiceAsyncStub) -> None:
    ids = [new_citizen_id() for _ in range(1001)]

    error = await expect_error(
        registrar.BatchGetResidents(pb.BatchGetResidentsRequest(citizen_ids=ids)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    assert error.violations == (("citizen_ids", "BATCH_SIZE"),)


async def test_batch_get_of_exactly_1000_ids_works(registrar: RegistryServiceAsyncStub) -> None:
    known = await register(registrar)
    ids = [known.citizen_id, *(new_citizen_id() for _ in range(999))]

    response = await registrar.BatchGetResidents(pb.BatchGetResidentsRequest(citizen_ids=ids))

    assert [r.citizen_id for r in response.residents] == [known.citizen_id]
    assert list(response.not_found_citizen_ids) == ids[1:]


async def test_batch_get_needs_ids_and_names_each_malformed_one(
    registrar: RegistryServiceAsyncStub,
) -> None:
    empty = await expect_error(
        registrar.BatchGetResidents(pb.BatchGetResidentsRequest()),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert empty.violations == (("citizen_ids", "BATCH_SIZE"),)

    malformed = await expect_error(
        registrar.BatchGetResidents(
            pb.BatchGetResidentsRequest(citizen_ids=[new_citizen_id(), "abc", "1"])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert malformed.violations == (
        ("citizen_ids[1]", "CITIZEN_ID_MALFORMED"),
        ("citizen_ids[2]", "CITIZEN_ID_MALFORMED"),
    )


async def test_purged_responses_are_not_replayed_and_the_request_is_not_done_twice(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase, registry_database_url: str
) -> None:
    request = registration()
    await registrar.RegisterResident(request)

    # A month's retention keeps today's response: the retry is still answered.
    await asyncio.to_thread(purge_responses, registry_database_url, "30")
    await registrar.RegisterResident(request)
    await asyncio.to_thread(purge_responses, registry_database_url, "0")
    error = await expect_error(
        registrar.RegisterResident(request), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert error.reason == "REQUEST_RESPONSE_EXPIRED"
    assert request.citizen_id not in error.text
    assert await registry_db.count("residents", request.citizen_id) == 1
    stored = await registry_db.rows(
        "SELECT response FROM request_log WHERE request_id = %s", request.request_id
    )
    assert stored == [{"response": None}]


def purge_responses(database_url: str, older_than_days: str) -> None:
    assert (
        dancu(
            [
                "purge-responses",
                "--database-url",
                database_url,
                "--older-than-days",
                older_than_days,
            ]
        )
        == 0
    )
