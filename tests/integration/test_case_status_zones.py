"""DeclareZone, EndZone and ListResidentsInZone over real gRPC, a real database and the real
registry (who lives in a zone ward is the registry's answer)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb

from services.kit.auth import Identity
from tests.integration.case_status_client import (
    REGISTRAR,
    TAY_HO_POLICE,
    CaseStatusClients,
    hours_ago,
    status_request,
    timestamp,
)
from tests.integration.registry_client import (
    HOAN_KIEM,
    RegistryDatabase,
    expect_error,
    new_request_id,
    register,
    staying_in,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

# Wards no other test registers residents in, so a zone's listing is this file's own.
NGOC_HA = "00008"
GIANG_VO = "00025"
NGOC_HA_POLICE = Identity(
    "police-nh-03", "cong-an-ngoc-ha", frozenset({"ward_police"}), frozenset({NGOC_HA})
)
F0 = cpb.CLASSIFICATION_F0
PERMANENT, TEMPORARY = pb.RESIDENCE_KIND_PERMANENT, pb.RESIDENCE_KIND_TEMPORARY


def declaration(
    *wards: str,
    name: str = "Khu phong tỏa Ngọc Hà",
    reason: str = "chùm ca bệnh",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    request_id: str | None = None,
) -> pb.DeclareZoneRequest:
    zone = cpb.Zone(
        name=name,
        ward_codes=list(wards),
        start_time=timestamp(start or hours_ago(2)),
        reason=reason,
    )
    if end is not None:
        zone.end_time.CopyFrom(timestamp(end))
    return pb.DeclareZoneRequest(request_id=request_id or new_request_id(), zone=zone)


def ending(
    zone_id: str, reason: str = "hết ca mới", end: dt.datetime | None = None
) -> pb.EndZoneRequest:
    request = pb.EndZoneRequest(request_id=new_request_id(), zone_id=zone_id, reason=reason)
    if end is not None:
        request.end_time.CopyFrom(timestamp(end))
    return request


async def everyone_in(
    stub: CaseStatusServiceAsyncStub, zone_id: str, page_size: int = 2
) -> dict[str, tuple[str, int, int]]:
    """citizen id -> (ward, residence kind, level), every page followed."""
    found: dict[str, tuple[str, int, int]] = {}
    token = ""
    for _ in range(1000):
        page = await stub.ListResidentsInZone(
            pb.ListResidentsInZoneRequest(zone_id=zone_id, page_size=page_size, page_token=token)
        )
        assert len(page.residents) <= page_size
        for r in page.residents:
            found[r.citizen_id] = (r.ward_code, r.residence_kind, r.classification)
        token = page.next_page_token
        if not token:
            return found
    raise AssertionError("the pages never ended")


async def test_zone_lists_permanent_and_active_temporary_residents_with_their_levels(
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    case = await register(registrar, ward=NGOC_HA)
    healthy = await register(registrar, ward=NGOC_HA)
    lodger = await staying_in(registrar, GIANG_VO)
    gone = await staying_in(registrar, GIANG_VO, ended=True)
    outside = await register(registrar, ward=HOAN_KIEM)
    await cdc.RecordStatus(status_request(case.citizen_id, classification=F0))
    await cdc.RecordStatus(status_request(lodger.citizen_id, classification=F0))

    zone = (await cdc.DeclareZone(declaration(NGOC_HA, GIANG_VO))).zone

    assert zone.zone_id
    assert list(zone.ward_codes) == [NGOC_HA, GIANG_VO]
    assert not zone.HasField("end_time")
    # Small pages: the token carries the position across both wards and the registry's pages.
    found = await everyone_in(cdc, zone.zone_id, page_size=2)
    assert found[case.citizen_id] == (NGOC_HA, PERMANENT, F0)
    assert found[healthy.citizen_id] == (NGOC_HA, PERMANENT, cpb.CLASSIFICATION_UNSPECIFIED)
    assert found[lodger.citizen_id] == (GIANG_VO, TEMPORARY, F0)
    assert gone.citizen_id not in found
    assert outside.citizen_id not in found
    assert await everyone_in(cdc, zone.zone_id, page_size=500) == found
    # Listing who lives in a zone, with their levels, reads health data: audited.
    assert await case_db.audit("ListResidentsInZone", case.citizen_id)
    assert len(await case_db.audit("DeclareZone", zone.zone_id)) == 1


async def test_declare_zone_is_idempotent_by_request_id(
    cdc: CaseStatusServiceAsyncStub, case_db: RegistryDatabase
) -> None:
    request = declaration(NGOC_HA)

    first = await cdc.DeclareZone(request)
    zones_before = await case_db.scalar("SELECT count(*) FROM zones")
    again = await cdc.DeclareZone(request)

    assert again.zone == first.zone
    assert await case_db.scalar("SELECT count(*) FROM zones") == zones_before
    assert (
        await case_db.scalar("SELECT count(*) FROM zones WHERE zone_id = %s", first.zone.zone_id)
        == 1
    )
    different = declaration(GIANG_VO, request_id=request.request_id)
    error = await expect_error(cdc.DeclareZone(different), grpc.StatusCode.ALREADY_EXISTS)
    assert error.reason == "REQUEST_ID_REUSED"


async def test_bad_zones_are_refused_with_every_problem_named(
    cdc: CaseStatusServiceAsyncStub,
) -> None:
    bad = declaration(
        "99999", NGOC_HA, NGOC_HA, name=" ", reason="", start=hours_ago(1), end=hours_ago(3)
    )
    error = await expect_error(cdc.DeclareZone(bad), grpc.StatusCode.INVALID_ARGUMENT)
    assert set(error.violations) == {
        ("zone.name", "NAME_REQUIRED"),
        ("zone.ward_codes[0]", "WARD_UNKNOWN"),
        ("zone.ward_codes[2]", "WARD_REPEATED"),
        ("zone.reason", "REASON_REQUIRED"),
        ("zone.end_time", "PERIOD_REVERSED"),
    }
    for wards in ((), (NGOC_HA,) * 201):
        error = await expect_error(
            cdc.DeclareZone(declaration(*wards)), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert ("zone.ward_codes", "WARD_COUNT") in error.violations


async def test_ending_a_zone(cdc: CaseStatusServiceAsyncStub, case_db: RegistryDatabase) -> None:
    zone = (await cdc.DeclareZone(declaration(NGOC_HA, start=hours_ago(5)))).zone

    error = await expect_error(
        cdc.EndZone(ending(zone.zone_id, reason=" ")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert error.violations == (("reason", "REASON_REQUIRED"),)
    error = await expect_error(
        cdc.EndZone(ending(zone.zone_id, end=hours_ago(6))), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert error.violations == (("end_time", "PERIOD_REVERSED"),)

    request = ending(zone.zone_id, end=hours_ago(1))
    ended = (await cdc.EndZone(request)).zone
    assert ended.end_time == request.end_time
    assert ended.zone_id == zone.zone_id
    assert (await cdc.EndZone(request)).zone == ended  # a retry replays

    again = await expect_error(
        cdc.EndZone(ending(zone.zone_id)), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert again.reason == "ZONE_ENDED"
    unknown = await expect_error(
        cdc.EndZone(ending("6f1c1a9e-0000-4000-8000-000000000000")), grpc.StatusCode.NOT_FOUND
    )
    assert unknown.reason == "ZONE_NOT_FOUND"
    assert len(await case_db.audit("EndZone", zone.zone_id)) >= 4


async def test_ward_police_list_their_wards_of_a_zone_only(
    cdc: CaseStatusServiceAsyncStub,
    case_status_clients: CaseStatusClients,
    registrar: RegistryServiceAsyncStub,
) -> None:
    mine = await register(registrar, ward=NGOC_HA)
    theirs = await register(registrar, ward=GIANG_VO)
    zone = (await cdc.DeclareZone(declaration(NGOC_HA, GIANG_VO))).zone
    police = case_status_clients.case_stub(NGOC_HA_POLICE)

    found = await everyone_in(police, zone.zone_id, page_size=50)

    assert mine.citizen_id in found
    assert theirs.citizen_id not in found
    assert {ward for ward, _, _ in found.values()} == {NGOC_HA}
    elsewhere = case_status_clients.case_stub(TAY_HO_POLICE)
    error = await expect_error(
        elsewhere.ListResidentsInZone(pb.ListResidentsInZoneRequest(zone_id=zone.zone_id)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert error.reason == "OUT_OF_JURISDICTION"
    # Declaring and ending zones is the health agency's (and services'), not the police's.
    await expect_error(police.DeclareZone(declaration(NGOC_HA)), grpc.StatusCode.PERMISSION_DENIED)
    await expect_error(police.EndZone(ending(zone.zone_id)), grpc.StatusCode.PERMISSION_DENIED)
    registrar_caller = case_status_clients.case_stub(REGISTRAR)
    await expect_error(
        registrar_caller.ListResidentsInZone(pb.ListResidentsInZoneRequest(zone_id=zone.zone_id)),
        grpc.StatusCode.PERMISSION_DENIED,
    )


async def test_a_page_token_of_another_zone_is_refused(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    await register(registrar, ward=NGOC_HA)
    await register(registrar, ward=NGOC_HA)
    one = (await cdc.DeclareZone(declaration(NGOC_HA))).zone
    other = (await cdc.DeclareZone(declaration(NGOC_HA))).zone
    page = await cdc.ListResidentsInZone(
        pb.ListResidentsInZoneRequest(zone_id=one.zone_id, page_size=1)
    )
    assert page.next_page_token

    error = await expect_error(
        cdc.ListResidentsInZone(
            pb.ListResidentsInZoneRequest(zone_id=other.zone_id, page_token=page.next_page_token)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error.violations == (("page_token", "PAGE_TOKEN_MISMATCH"),)
