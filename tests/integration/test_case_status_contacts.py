"""RecordContacts and TraceContacts: derived levels along exposure links, and their
recomputation when a source changes, over real gRPC, a real database and a real registry."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb

from tests.integration.case_status_client import (
    HOAN_KIEM_POLICE,
    TAY_HO_POLICE,
    CaseStatusClients,
    contacts_request,
    link,
    status_request,
)
from tests.integration.registry_client import (
    BA_DINH,
    SERVICE_CALLER,
    RegistryDatabase,
    expect_error,
    new_citizen_id,
    register,
    today,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

F0, F1, F2, F3 = (
    cpb.CLASSIFICATION_F0,
    cpb.CLASSIFICATION_F1,
    cpb.CLASSIFICATION_F2,
    cpb.CLASSIFICATION_F3,
)
CLEARED = cpb.CLASSIFICATION_CLEARED


async def _residents(registrar: RegistryServiceAsyncStub, n: int) -> list[str]:
    return [(await register(registrar)).citizen_id for _ in range(n)]


async def _level(stub: CaseStatusServiceAsyncStub, cid: str) -> tuple[int, int]:
    status = (await stub.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=cid))).status
    return status.classification, status.level_origin


async def test_chain_f0_to_f3_and_back_when_the_f0_is_cleared(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub, case_db: RegistryDatabase
) -> None:
    a, b, c, d = await _residents(registrar, 4)
    await cdc.RecordStatus(status_request(a, classification=F0))
    yesterday = today() - dt.timedelta(days=1)

    response = await cdc.RecordContacts(
        contacts_request(link(b, a, yesterday), link(c, b, yesterday), link(d, c, yesterday))
    )

    assert response.recorded == 3
    assert {(ch.citizen_id, ch.before, ch.after) for ch in response.changes} == {
        (b, 0, F1),
        (c, 0, F2),
        (d, 0, F3),
    }
    assert await _level(cdc, d) == (F3, cpb.LEVEL_ORIGIN_DERIVED)
    deep = (await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=d))).status
    assert (deep.derived_from_citizen_id, deep.derived_distance) == (a, 3)

    # The F0's test was a false positive: every level that came only from it goes.
    await cdc.RecordStatus(
        status_request(a, classification=CLEARED, reason="false positive, PCR negative")
    )
    for cid in (b, c, d):
        assert await _level(cdc, cid) == (CLEARED, cpb.LEVEL_ORIGIN_DERIVED)
        payloads = [row["payload"]["classification"] for row in await case_db.outbox(cid)]
        assert payloads[-1] == "CLEARED"
        assert len(payloads) == 2  # set, then cleared: one row per change, none otherwise


async def test_recording_the_same_contacts_again_changes_nothing(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub, case_db: RegistryDatabase
) -> None:
    a, b = await _residents(registrar, 2)
    await cdc.RecordStatus(status_request(a, classification=F0))
    await cdc.RecordContacts(contacts_request(link(b, a, today())))

    # The same contact entered the other way round, under a new request id.
    again = await cdc.RecordContacts(contacts_request(link(a, b, today())))

    assert (again.recorded, list(again.changes)) == (0, [])
    assert len(await case_db.outbox(b)) == 1
    outcomes = [row["outcome"] for row in await case_db.audit("RecordContacts", b)]
    assert outcomes == ["ok", "ok"]


async def test_bad_contacts_are_invalid_argument(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    [a] = await _residents(registrar, 1)
    bad = contacts_request(
        link(a, a, today()),
        link("123", a, today() + dt.timedelta(days=3)),
        link(new_citizen_id(), a, today()),
    )
    bad.links[0].setting = cpb.CONTACT_SETTING_UNSPECIFIED
    error = await expect_error(cdc.RecordContacts(bad), grpc.StatusCode.INVALID_ARGUMENT)
    assert set(error.violations) == {
        ("links[0].setting", "SETTING_REQUIRED"),
        ("links[0].contact_citizen_id", "SELF_CONTACT"),
        ("links[1].contact_citizen_id", "CITIZEN_ID_MALFORMED"),
        ("links[1].contact_date", "DATE_IN_FUTURE"),
    }
    unknown = contacts_request(link(new_citizen_id(), a, today()))
    error = await expect_error(cdc.RecordContacts(unknown), grpc.StatusCode.INVALID_ARGUMENT)
    assert error.violations == (("links[0].contact_citizen_id", "RESIDENT_UNKNOWN"),)


async def test_ward_police_trace_their_residents_only(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    a, b, c = await _residents(registrar, 3)  # all in Hoàn Kiếm
    police = case_status_clients.case_stub(HOAN_KIEM_POLICE)
    await cdc.RecordStatus(status_request(a, classification=F0))
    await police.RecordContacts(contacts_request(link(b, a, today()), link(c, b, today())))

    trace = await police.TraceContacts(pb.TraceContactsRequest(citizen_id=b, depth=1))

    assert [(n.citizen_id, n.distance, n.classification) for n in trace.nodes] == [
        (b, 0, F1),
        *sorted([(a, 1, F0), (c, 1, F2)]),
    ]
    assert len(trace.edges) == 2
    [audit] = await case_db.audit("TraceContacts", c)
    assert set(audit["resource_ids"]) == {a, b, c}

    elsewhere = case_status_clients.case_stub(TAY_HO_POLICE)
    await expect_error(
        elsewhere.TraceContacts(pb.TraceContactsRequest(citizen_id=b)), grpc.StatusCode.NOT_FOUND
    )
    await expect_error(
        elsewhere.RecordContacts(contacts_request(link(c, a, today()))),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await expect_error(
        cdc.TraceContacts(pb.TraceContactsRequest(citizen_id=b)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    error = await expect_error(
        police.TraceContacts(pb.TraceContactsRequest(citizen_id=b, depth=9)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error.violations == (("depth", "DEPTH_OUT_OF_RANGE"),)


async def test_ward_police_see_that_a_contact_elsewhere_exists_not_who_it_is(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    a, b = await _residents(registrar, 2)  # Hoàn Kiếm
    elsewhere = (await register(registrar, ward=BA_DINH)).citizen_id
    police = case_status_clients.case_stub(HOAN_KIEM_POLICE)
    await cdc.RecordStatus(status_request(a, classification=F0))
    await police.RecordContacts(contacts_request(link(b, a, today()), link(elsewhere, a, today())))

    trace = await police.TraceContacts(pb.TraceContactsRequest(citizen_id=a, depth=1))

    nodes = {
        (n.citizen_id, n.distance, n.classification, n.outside_caller_wards) for n in trace.nodes
    }
    assert nodes == {(a, 0, F0, False), (b, 1, F1, False), ("outside-1", 1, 0, True)}
    assert {(e.contact_citizen_id, e.source_citizen_id) for e in trace.edges} == {
        (b, a),
        ("outside-1", a),
    }
    assert all(e.note == "" for e in trace.edges if e.contact_citizen_id == "outside-1")
    assert elsewhere not in str(trace)
    [audit] = await case_db.audit("TraceContacts", a)
    assert set(audit["resource_ids"]) == {a, b}
    # A caller of every ward sees everyone.
    everyone = await case_status_clients.case_stub(SERVICE_CALLER).TraceContacts(
        pb.TraceContactsRequest(citizen_id=a, depth=1)
    )
    assert {n.citizen_id for n in everyone.nodes} == {a, b, elsewhere}
    assert not any(n.outside_caller_wards for n in everyone.nodes)
