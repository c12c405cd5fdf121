"""Households over real gRPC and PostgreSQL: founding, joining, GetHousehold and
BatchGetHouseholds."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from services.registry.domain.model import Sex
from tests.integration.registry_client import (
    BA_DINH,
    HOAN_KIEM_POLICE,
    REGISTRAR,
    RegistryDatabase,
    date,
    expect_error,
    new_citizen_id,
    register,
    registration,
)

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub


async def test_a_family_joins_the_household_of_its_head(
    registrar: RegistryServiceAsyncStub,
    ward_police: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    head = await register(registrar, full_name="Trần Văn Hùng", birth_date=dt.date(1970, 2, 3))
    household_id = head.household_id
    spouse = await register(
        registrar,
        full_name="Đỗ Thị Mai",
        sex=Sex.FEMALE,
        birth_date=dt.date(1972, 5, 6),
        household_id=household_id,
        relationship=rpb.RELATIONSHIP_SPOUSE,
    )
    child = await register(
        registrar,
        full_name="Trần Minh Khoa",
        birth_date=dt.date(2005, 9, 1),
        household_id=household_id,
        relationship=rpb.RELATIONSHIP_CHILD,
    )
    assert spouse.household_id == child.household_id == household_id
    assert spouse.relationship_to_head == rpb.RELATIONSHIP_SPOUSE

    by_id = await ward_police.GetHousehold(pb.GetHouseholdRequest(household_id=household_id))
    by_member = await ward_police.GetHousehold(pb.GetHouseholdRequest(citizen_id=child.citizen_id))

    assert by_member == by_id
    household = by_id.household
    assert household.household_id == household_id
    assert household.head_citizen_id == head.citizen_id
    assert list(household.members) == [
        rpb.HouseholdMember(
            citizen_id=head.citizen_id,
            full_name="Trần Văn Hùng",
            birth_date=date(dt.date(1970, 2, 3)),
            sex=rpb.SEX_MALE,
            relationship_to_head=rpb.RELATIONSHIP_HEAD,
            civil_status=rpb.CIVIL_STATUS_ALIVE,
        ),
        rpb.HouseholdMember(
            citizen_id=spouse.citizen_id,
            full_name="Đỗ Thị Mai",
            birth_date=date(dt.date(1972, 5, 6)),
            sex=rpb.SEX_FEMALE,
            relationship_to_head=rpb.RELATIONSHIP_SPOUSE,
            civil_status=rpb.CIVIL_STATUS_ALIVE,
        ),
        rpb.HouseholdMember(
            citizen_id=child.citizen_id,
            full_name="Trần Minh Khoa",
            birth_date=date(dt.date(2005, 9, 1)),
            sex=rpb.SEX_MALE,
            relationship_to_head=rpb.RELATIONSHIP_CHILD,
            civil_status=rpb.CIVIL_STATUS_ALIVE,
        ),
    ]
    audit = await registry_db.audit("GetHousehold", spouse.citizen_id)
    assert len(audit) == 2
    for row in audit:
        assert row["subject"] == HOAN_KIEM_POLICE.subject
        assert row["agency"] == HOAN_KIEM_POLICE.agency
        assert row["resource_type"] == "household"
        assert row["outcome"] == "ok"
        assert sorted(row["resource_ids"]) == sorted(
            [head.citizen_id, spouse.citizen_id, child.citizen_id]
        )


async def test_a_household_has_one_head(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    head = await register(registrar)
    usurper = registration(household_id=head.household_id, relationship=rpb.RELATIONSHIP_HEAD)

    error = await expect_error(
        registrar.RegisterResident(usurper), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert error.reason == "HOUSEHOLD_HAS_HEAD"
    assert await registry_db.count("residents", usurper.citizen_id) == 0
    assert await registry_db.request_logged(usurper.request_id) == 0
    household = await registrar.GetHousehold(pb.GetHouseholdRequest(household_id=head.household_id))
    assert [m.citizen_id for m in household.household.members] == [head.citizen_id]


async def test_joining_needs_an_existing_household(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    no_household = registration(relationship=rpb.RELATIONSHIP_CHILD)
    error = await expect_error(
        registrar.RegisterResident(no_household), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert error.violations == (("household_id", "HOUSEHOLD_REQUIRED"),)

    malformed = registration(household_id="hộ-0070-1", relationship=rpb.RELATIONSHIP_CHILD)
    error = await expect_error(
        registrar.RegisterResident(malformed), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert error.violations == (("household_id", "HOUSEHOLD_ID_MALFORMED"),)

    unknown = registration(household_id=str(uuid.uuid4()), relationship=rpb.RELATIONSHIP_CHILD)
    error = await expect_error(registrar.RegisterResident(unknown), grpc.StatusCode.NOT_FOUND)
    assert error.reason == "HOUSEHOLD_NOT_FOUND"
    assert await registry_db.count("residents", unknown.citizen_id) == 0


async def test_get_household_errors(registrar: RegistryServiceAsyncStub) -> None:
    for request in (pb.GetHouseholdRequest(), pb.GetHouseholdRequest(household_id="hộ-1")):
        error = await expect_error(
            registrar.GetHousehold(request), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert error.violations == (("household_id", "HOUSEHOLD_ID_MALFORMED"),)

    unknown = await expect_error(
        registrar.GetHousehold(pb.GetHouseholdRequest(household_id=str(uuid.uuid4()))),
        grpc.StatusCode.NOT_FOUND,
    )
    assert unknown.reason == "HOUSEHOLD_NOT_FOUND"

    malformed = await expect_error(
        registrar.GetHousehold(pb.GetHouseholdRequest(citizen_id="0010")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert malformed.violations == (("citizen_id", "CITIZEN_ID_MALFORMED"),)


async def test_household_of_another_ward_is_not_found_for_a_ward_scoped_caller(
    registrar: RegistryServiceAsyncStub, ward_police: RegistryServiceAsyncStub
) -> None:
    head = await register(registrar, ward=BA_DINH)

    for request in (
        pb.GetHouseholdRequest(household_id=head.household_id),
        pb.GetHouseholdRequest(citizen_id=head.citizen_id),
    ):
        error = await expect_error(ward_police.GetHousehold(request), grpc.StatusCode.NOT_FOUND)
        assert head.citizen_id not in error.text
        assert head.full_name not in error.text


async def test_a_ward_scoped_caller_sees_only_the_members_living_in_its_wards(
    registrar: RegistryServiceAsyncStub, ward_police: RegistryServiceAsyncStub
) -> None:
    head = await register(registrar)
    # A relative registered in the household but living permanently in another ward.
    elsewhere = await register(
        registrar,
        ward=BA_DINH,
        household_id=head.household_id,
        relationship=rpb.RELATIONSHIP_CHILD,
        birth_date=dt.date(2010, 6, 1),
    )

    full = await registrar.GetHousehold(pb.GetHouseholdRequest(household_id=head.household_id))
    scoped = await ward_police.GetHousehold(pb.GetHouseholdRequest(citizen_id=head.citizen_id))

    assert {m.citizen_id for m in full.household.members} == {
        head.citizen_id,
        elsewhere.citizen_id,
    }
    assert [m.citizen_id for m in scoped.household.members] == [head.citizen_id]
    assert scoped.household.head_citizen_id == head.citizen_id


# --- BatchGetHouseholds --------------------------------------------------------------------


async def test_batch_get_households_returns_each_household_once_in_request_order(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    head = await register(registrar, full_name="Phan Văn Toàn", birth_date=dt.date(1968, 1, 9))
    child = await register(
        registrar,
        birth_date=dt.date(2001, 3, 4),
        household_id=head.household_id,
        relationship=rpb.RELATIONSHIP_CHILD,
    )
    spouse = await register(
        registrar,
        sex=Sex.FEMALE,
        birth_date=dt.date(1970, 8, 15),
        household_id=head.household_id,
        relationship=rpb.RELATIONSHIP_SPOUSE,
    )
    neighbour = await register(registrar, ward=BA_DINH)
    unknown = new_citizen_id()

    response = await registrar.BatchGetHouseholds(
        pb.BatchGetHouseholdsRequest(
            citizen_ids=[
                child.citizen_id,
                unknown,
                neighbour.citizen_id,
                spouse.citizen_id,
                child.citizen_id,
            ]
        )
    )

    # Two residents of one household give that household once, where the first one asks.
    assert [h.household_id for h in response.households] == [
        head.household_id,
        neighbour.household_id,
    ]
    family, alone = response.households
    single = await registrar.GetHousehold(pb.GetHouseholdRequest(citizen_id=child.citizen_id))
    assert family == single.household
    assert [m.citizen_id for m in family.members] == [
        head.citizen_id,
        spouse.citizen_id,
        child.citizen_id,
    ]
    assert family.head_citizen_id == head.citizen_id
    assert [(m.citizen_id, m.relationship_to_head) for m in alone.members] == [
        (neighbour.citizen_id, rpb.RELATIONSHIP_HEAD)
    ]
    assert list(response.not_found_citizen_ids) == [unknown]

    audit = await registry_db.audit("BatchGetHouseholds", spouse.citizen_id)
    assert len(audit) == 1
    assert audit[0]["subject"] == REGISTRAR.subject
    assert audit[0]["resource_type"] == "household"
    assert audit[0]["outcome"] == "ok"
    assert audit[0]["resource_ids"] == [
        head.citizen_id,
        spouse.citizen_id,
        child.citizen_id,
        neighbour.citizen_id,
    ]


async def test_batch_get_households_shows_a_ward_scoped_caller_only_its_wards_members(
    registrar: RegistryServiceAsyncStub,
    ward_police: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    head = await register(registrar)
    # Registered in the head's household but living permanently in another ward.
    elsewhere = await register(
        registrar,
        ward=BA_DINH,
        household_id=head.household_id,
        relationship=rpb.RELATIONSHIP_CHILD,
        birth_date=dt.date(2012, 2, 2),
    )
    # A household with no member in the caller's ward.
    outside = await register(registrar, ward=BA_DINH)
    requested = [elsewhere.citizen_id, outside.citizen_id, head.citizen_id]

    full = await registrar.BatchGetHouseholds(pb.BatchGetHouseholdsRequest(citizen_ids=requested))
    scoped = await ward_police.BatchGetHouseholds(
        pb.BatchGetHouseholdsRequest(citizen_ids=requested)
    )

    assert [[m.citizen_id for m in h.members] for h in full.households] == [
        [head.citizen_id, elsewhere.citizen_id],
        [outside.citizen_id],
    ]
    assert list(full.not_found_citizen_ids) == []
    assert [h.household_id for h in scoped.households] == [head.household_id]
    assert [m.citizen_id for m in scoped.households[0].members] == [head.citizen_id]
    assert scoped.households[0].head_citizen_id == head.citizen_id
    assert list(scoped.not_found_citizen_ids) == [elsewhere.citizen_id, outside.citizen_id]
    audit = await registry_db.audit("BatchGetHouseholds", head.citizen_id)
    assert [(a["subject"], a["resource_ids"]) for a in audit] == [
        (REGISTRAR.subject, [head.citizen_id, elsewhere.citizen_id, outside.citizen_id]),
        (HOAN_KIEM_POLICE.subject, [head.citizen_id]),
    ]


async def test_batch_get_households_of_exactly_1000_ids_works(
    registrar: RegistryServiceAsyncStub,
) -> None:
    known = await register(registrar)
    ids = [*(new_citizen_id() for _ in range(999)), known.citizen_id]

    response = await registrar.BatchGetHouseholds(pb.BatchGetHouseholdsRequest(citizen_ids=ids))

    assert [h.household_id for h in response.households] == [known.household_id]
    assert list(response.not_found_citizen_ids) == ids[:999]


async def test_batch_get_households_needs_1_to_1000_well_formed_ids(
    registrar: RegistryServiceAsyncStub,
) -> None:
    empty = await expect_error(
        registrar.BatchGetHouseholds(pb.BatchGetHouseholdsRequest()),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert empty.violations == (("citizen_ids", "BATCH_SIZE"),)

    too_many = await expect_error(
        registrar.BatchGetHouseholds(
            pb.BatchGetHouseholdsRequest(citizen_ids=[new_citizen_id() for _ in range(1001)])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert too_many.violations == (("citizen_ids", "BATCH_SIZE"),)

    malformed = await expect_error(
        registrar.BatchGetHouseholds(
            pb.BatchGetHouseholdsRequest(citizen_ids=[new_citizen_id(), "abc", "0010"])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert malformed.violations == (
        ("citizen_ids[1]", "CITIZEN_ID_MALFORMED"),
        ("citizen_ids[2]", "CITIZEN_ID_MALFORMED"),
    )


async def test_batch_get_households_is_refused_to_roles_without_lookups(
    registrar: RegistryServiceAsyncStub,
    health_agency: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    head = await register(registrar)
    request = pb.BatchGetHouseholdsRequest(citizen_ids=[head.citizen_id])

    error = await expect_error(
        health_agency.BatchGetHouseholds(request), grpc.StatusCode.PERMISSION_DENIED
    )

    assert (error.reason, error.domain) == ("ROLE_NOT_ALLOWED", "auth.dancu")
    assert head.citizen_id not in error.text
    assert await registry_db.audit("BatchGetHouseholds", head.citizen_id) == []
