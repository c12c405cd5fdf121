"""RecordStatus and GetCaseStatus over real gRPC, a real database and a real registry."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from tests.integration.case_status_client import (
    HOAN_KIEM_POLICE,
    REGISTRAR,
    TAY_HO_POLICE,
    CaseStatusClients,
    hours_ago,
    status_request,
    timestamp,
)
from tests.integration.registry_client import (
    RegistryDatabase,
    death_request,
    expect_error,
    new_citizen_id,
    py_date,
    register,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

F0, F1 = cpb.CLASSIFICATION_F0, cpb.CLASSIFICATION_F1


async def test_f0_makes_household_members_f1(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub, case_db: RegistryDatabase
) -> None:
    head = await register(registrar)
    spouse = await register(
        registrar, household_id=head.household_id, relationship=rpb.RELATIONSHIP_SPOUSE
    )
    child = await register(
        registrar,
        household_id=head.household_id,
        relationship=rpb.RELATIONSHIP_CHILD,
        birth_date=dt.date(2012, 5, 1),
    )

    response = await cdc.RecordStatus(status_request(head.citizen_id, classification=F0))

    assert response.status.classification == F0
    assert response.status.level_origin == cpb.LEVEL_ORIGIN_REPORTED
    for member in (spouse, child):
        got = await cdc.GetCaseStatus(_get(member.citizen_id))
        assert got.status.classification == F1
        assert got.status.level_origin == cpb.LEVEL_ORIGIN_DERIVED
        assert got.status.derived_from_citizen_id == head.citizen_id
        assert got.status.derived_distance == 1
        [row] = await case_db.outbox(member.citizen_id, "case_status.status_changed.v1")
        assert row["payload"]["classification"] == "F1"
        assert row["payload"]["level_origin"] == "DERIVED"
    [row] = await case_db.outbox(head.citizen_id)
    assert row["payload"]["event_id"] == response.event.event_id
    assert row["payload"]["classification"] == "F0"
    [audit] = await case_db.audit("RecordStatus", head.citizen_id)
    assert (audit["agency"], audit["outcome"]) == ("cdc-ha-noi", "ok")
    # The members' levels were written by the same call: the audit row names them too.
    assert set(audit["resource_ids"]) == {head.citizen_id, spouse.citizen_id, child.citizen_id}


async def test_backdated_event_moves_isolation_end_and_keeps_the_timeline(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    resident = await register(registrar)
    cid = resident.citizen_id
    first = await cdc.RecordStatus(status_request(cid, classification=F1, at=hours_ago(6 * 24)))
    home = cpb.Care(setting=cpb.CARE_SETTING_HOME_ISOLATION, ward_code="00070")
    await cdc.RecordStatus(status_request(cid, care=home, at=hours_ago(1)))
    before = py_date(first.status.isolation_end)

    # A re-exposure learned late, dated before the care event already recorded.
    backdated = status_request(
        cid, classification=F1, at=hours_ago(3 * 24), reason="re-exposure found by interview"
    )
    await cdc.RecordStatus(backdated)

    got = await cdc.GetCaseStatus(_get(cid))
    assert py_date(got.status.isolation_end) == before + dt.timedelta(days=3)
    assert len(got.timeline) == 3
    assert [e.classification for e in got.timeline] == [F1, F1, 0]
    past = await cdc.GetCaseStatus(_get(cid, as_of=hours_ago(5 * 24)))
    assert py_date(past.status.isolation_end) == before


async def test_backdated_event_without_reason_is_invalid(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    cid = (await register(registrar)).citizen_id
    await cdc.RecordStatus(status_request(cid, classification=F1, at=hours_ago(2)))
    error = await expect_error(
        cdc.RecordStatus(status_request(cid, classification=F1, at=hours_ago(30))),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error.violations == (("event.reason", "REASON_REQUIRED"),)


async def test_no_event_after_death_except_its_correction(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    cid = (await register(registrar)).citizen_id
    await cdc.RecordStatus(status_request(cid, classification=F0, at=hours_ago(5 * 24)))
    death = await cdc.RecordStatus(
        status_request(cid, outcome=cpb.OUTCOME_DECEASED, at=hours_ago(2 * 24))
    )

    error = await expect_error(
        cdc.RecordStatus(
            status_request(cid, condition=cpb.HEALTH_CONDITION_SEVERE, at=hours_ago(24))
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error.reason == "RESIDENT_DECEASED"

    await cdc.RecordStatus(
        status_request(
            cid,
            corrects_event_id=death.event.event_id,
            reason="death entered for the wrong person",
            at=hours_ago(2 * 24),
        )
    )
    after = await cdc.RecordStatus(
        status_request(cid, condition=cpb.HEALTH_CONDITION_SEVERE, at=hours_ago(24))
    )
    assert after.status.classification == F0
    assert after.status.outcome == cpb.OUTCOME_UNSPECIFIED
    timeline = (await cdc.GetCaseStatus(_get(cid))).timeline
    [superseded] = [e for e in timeline if e.event_id == death.event.event_id]
    assert superseded.superseded_by_event_id


async def test_a_death_in_the_registry_refuses_later_events(
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    cid = (await register(registrar)).citizen_id
    await civil_officer.RegisterDeath(death_request(cid))  # died 2021-08-14
    error = await expect_error(
        cdc.RecordStatus(status_request(cid, classification=F1)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error.reason == "RESIDENT_DECEASED"
    assert await case_db.outbox(cid) == []
    [audit] = await case_db.audit("RecordStatus", cid)
    assert audit["outcome"] == "refused:RESIDENT_DECEASED"


async def test_replayed_request_returns_the_first_result_once(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub, case_db: RegistryDatabase
) -> None:
    cid = (await register(registrar)).citizen_id
    request = status_request(cid, classification=F1)

    first = await cdc.RecordStatus(request)
    again = await cdc.RecordStatus(request)

    assert again == first
    assert len((await cdc.GetCaseStatus(_get(cid))).timeline) == 1
    assert len(await case_db.outbox(cid)) == 1
    outcomes = [row["outcome"] for row in await case_db.audit("RecordStatus", cid)]
    assert outcomes == ["ok", "replayed"]
    changed = status_request(cid, classification=F0, request_id=request.request_id)
    await expect_error(cdc.RecordStatus(changed), grpc.StatusCode.ALREADY_EXISTS)


async def test_bad_input_lists_every_field(cdc: CaseStatusServiceAsyncStub) -> None:
    request = status_request("12345", classification=F1)
    request.event.ClearField("effective_time")
    request.event.source.agency = ""
    error = await expect_error(cdc.RecordStatus(request), grpc.StatusCode.INVALID_ARGUMENT)
    assert ("event.effective_time", "TIME_REQUIRED") in error.violations

    request = status_request("12345", at=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    request.event.source.agency = ""
    error = await expect_error(cdc.RecordStatus(request), grpc.StatusCode.INVALID_ARGUMENT)
    assert set(error.violations) == {
        ("event.citizen_id", "CITIZEN_ID_MALFORMED"),
        ("event.effective_time", "EFFECTIVE_AT_IN_FUTURE"),
        ("event.classification", "NOTHING_TO_CHANGE"),
        ("event.source.agency", "AGENCY_REQUIRED"),
    }
    error = await expect_error(
        cdc.RecordStatus(status_request(new_citizen_id(), classification=F1)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert error.reason == "RESIDENT_NOT_FOUND"


async def test_roles_and_wards_decide_who_sees_what(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    cid = (await register(registrar)).citizen_id  # lives in Hoàn Kiếm
    await cdc.RecordStatus(status_request(cid, classification=F1))

    wrong_role = case_status_clients.case_stub(REGISTRAR)
    await expect_error(wrong_role.GetCaseStatus(_get(cid)), grpc.StatusCode.PERMISSION_DENIED)
    police = case_status_clients.case_stub(HOAN_KIEM_POLICE)
    await expect_error(
        police.RecordStatus(status_request(cid, classification=F0)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert (await police.GetCaseStatus(_get(cid))).status.classification == F1
    elsewhere = case_status_clients.case_stub(TAY_HO_POLICE)
    await expect_error(elsewhere.GetCaseStatus(_get(cid)), grpc.StatusCode.NOT_FOUND)
    outcomes = [row["outcome"] for row in await case_db.audit("GetCaseStatus", cid)]
    assert outcomes == ["ok", "refused:RESIDENT_NOT_FOUND"]
    # Roles outside an RPC's policy are refused before any rule runs.
    await expect_error(
        wrong_role.ListImportResults(pb.ListImportResultsRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
    )


def _get(citizen_id: str, as_of: dt.datetime | None = None) -> pb.GetCaseStatusRequest:
    request = pb.GetCaseStatusRequest(citizen_id=citizen_id)
    if as_of is not None:
        request.as_of_time.CopyFrom(timestamp(as_of))
    return request


async def test_concurrent_corrections_of_one_event_are_serialised(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    cid = (await register(registrar)).citizen_id
    first = await cdc.RecordStatus(status_request(cid, classification=F1, at=hours_ago(5)))
    corrections = [
        status_request(
            cid,
            classification=cpb.CLASSIFICATION_F2,
            corrects_event_id=first.event.event_id,
            reason=f"level misread on the list ({n})",
            at=hours_ago(5),
        )
        for n in range(4)
    ]

    results = await asyncio.gather(
        *(cdc.RecordStatus(c) for c in corrections), return_exceptions=True
    )

    # The per-resident lock makes each append see the ones before it: one correction wins,
    # the others are told why (not an internal error from the unique index).
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(results) - len(failures) == 1
    assert {f.code() for f in failures} == {grpc.StatusCode.FAILED_PRECONDITION}
