"""ListCases and CountCases over real gRPC, a real database and the real registry: cases by
permanent ward, active temporary ward and care place, now and as of a past time; and the
residence snapshot refreshed when the registry's change is delivered."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb

from services.kit.auth import Identity
from tests.integration.case_status_client import (
    REGISTRAR,
    CaseStatusClients,
    hours_ago,
    status_request,
    timestamp,
)
from tests.integration.registry_client import (
    HOAN_KIEM,
    SERVICE_CALLER,
    RegistryDatabase,
    expect_error,
    register,
    register_stay,
    staying_in,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

# Wards no other test uses, one or a few per test, so a listing is the test's own.
HOME, STAY, HOSPITAL_WARD = "00256", "00283", "00277"
MOVER_HOME, MOVER_STAY = "00304", "00313"
PAST_WARD, PAGED_WARD, POLICED_WARD = "00235", "00226", "00196"
# Hồ Chí Minh City: a province no other test puts residents in.
HCM, HCM_A, HCM_B = "79", "26506", "26526"

F0, F1, CLEARED = cpb.CLASSIFICATION_F0, cpb.CLASSIFICATION_F1, cpb.CLASSIFICATION_CLEARED
ANY = pb.WARD_ROLE_ANY
PERMANENT, TEMPORARY = pb.WARD_ROLE_PERMANENT_RESIDENCE, pb.WARD_ROLE_TEMPORARY_RESIDENCE
CARE_PLACE = pb.WARD_ROLE_CARE_PLACE


def police_of(*wards: str) -> Identity:
    return Identity("police-x-01", "cong-an-phuong", frozenset({"ward_police"}), frozenset(wards))


def in_hospital(ward: str) -> cpb.Care:
    return cpb.Care(
        setting=cpb.CARE_SETTING_HOSPITAL, ward_code=ward, facility="Bệnh viện Thanh Nhàn"
    )


async def listed(
    stub: CaseStatusServiceAsyncStub,
    ward: str,
    role: int = ANY,
    *,
    classification: int = 0,
    care_setting: int = 0,
    as_of: dt.datetime | None = None,
) -> dict[str, int]:
    """citizen id -> classification of every case listed, following every page."""
    found: dict[str, int] = {}
    token = ""
    while True:
        request = pb.ListCasesRequest(
            ward_code=ward,
            ward_role=role,  # type: ignore[arg-type]
            classification=classification,  # type: ignore[arg-type]
            care_setting=care_setting,  # type: ignore[arg-type]
            page_size=50,
            page_token=token,
        )
        if as_of is not None:
            request.as_of_time.CopyFrom(timestamp(as_of))
        page = await stub.ListCases(request)
        found.update({c.citizen_id: c.classification for c in page.cases})
        token = page.next_page_token
        if not token:
            return found


async def test_cases_by_permanent_ward_temporary_ward_and_care_place(
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    patient = (await register(registrar, ward=HOME)).citizen_id
    recovered = (await register(registrar, ward=HOME)).citizen_id
    lodger = (await staying_in(registrar, STAY)).citizen_id
    left = (await staying_in(registrar, STAY, ended=True)).citizen_id
    await cdc.RecordStatus(
        status_request(patient, classification=F0, care=in_hospital(HOSPITAL_WARD))
    )
    await cdc.RecordStatus(status_request(recovered, classification=F1, at=hours_ago(3)))
    await cdc.RecordStatus(status_request(recovered, classification=CLEARED, at=hours_ago(2)))
    await cdc.RecordStatus(status_request(lodger, classification=F1))
    await cdc.RecordStatus(status_request(left, classification=F1))

    # Unset classification: every level but CLEARED.
    assert await listed(cdc, HOME, PERMANENT) == {patient: F0}
    assert await listed(cdc, HOME, PERMANENT, classification=CLEARED) == {recovered: CLEARED}
    # An active temporary residence puts a resident in the ward; an ended one does not.
    assert await listed(cdc, STAY, TEMPORARY) == {lodger: F1}
    assert await listed(cdc, STAY, ANY) == {lodger: F1}
    assert await listed(cdc, STAY, PERMANENT) == {}
    assert (await listed(cdc, HOAN_KIEM, PERMANENT, classification=F1)).keys() >= {lodger, left}
    # The care place comes from the events.
    assert await listed(cdc, HOSPITAL_WARD, CARE_PLACE) == {patient: F0}
    assert await listed(cdc, HOSPITAL_WARD, ANY) == {patient: F0}
    assert await listed(cdc, HOSPITAL_WARD, PERMANENT) == {}
    assert await listed(cdc, HOME, ANY, care_setting=cpb.CARE_SETTING_HOSPITAL) == {patient: F0}
    assert await listed(cdc, HOME, ANY, care_setting=cpb.CARE_SETTING_HOME_ISOLATION) == {}
    # A listing is a read of health data: audited with the residents it named.
    assert await case_db.audit("ListCases", patient)

    full = (await cdc.ListCases(pb.ListCasesRequest(ward_code=HOME, ward_role=PERMANENT))).cases
    got = (await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=patient))).status
    assert list(full) == [got]


async def test_a_residence_change_delivered_moves_the_case_to_the_new_ward(
    cdc: CaseStatusServiceAsyncStub,
    case_status_clients: CaseStatusClients,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    delivery = case_status_clients.case_stub(SERVICE_CALLER)
    mover = await register(registrar, ward=MOVER_HOME)
    stranger = await register(registrar, ward=MOVER_HOME)
    await cdc.RecordStatus(status_request(mover.citizen_id, classification=F1))
    await register_stay(registrar, mover, MOVER_STAY)
    await register_stay(registrar, stranger, MOVER_STAY)
    # The snapshot is the registry's record when the case was written.
    assert await listed(cdc, MOVER_STAY, TEMPORARY) == {}

    refreshed = await delivery.RefreshResidence(
        pb.RefreshResidenceRequest(citizen_id=mover.citizen_id)
    )
    unheld = await delivery.RefreshResidence(
        pb.RefreshResidenceRequest(citizen_id=stranger.citizen_id)
    )

    assert refreshed.refreshed
    assert await listed(cdc, MOVER_STAY, TEMPORARY) == {mover.citizen_id: F1}
    assert await listed(cdc, MOVER_HOME, PERMANENT) == {mover.citizen_id: F1}
    # Case status keeps no residence of someone it holds nothing about.
    assert not unheld.refreshed
    assert not await case_db.rows(
        "SELECT 1 FROM resident_wards WHERE citizen_id = %s", stranger.citizen_id
    )
    # Only services deliver registry changes.
    await expect_error(
        cdc.RefreshResidence(pb.RefreshResidenceRequest(citizen_id=mover.citizen_id)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    malformed = await expect_error(
        delivery.RefreshResidence(pb.RefreshResidenceRequest(citizen_id="12")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert [field for field, _ in malformed.violations] == ["citizen_id"]


async def test_a_past_time_shows_the_status_then(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    worse = (await register(registrar, ward=PAST_WARD)).citizen_id
    later = (await register(registrar, ward=PAST_WARD)).citizen_id
    await cdc.RecordStatus(status_request(worse, classification=F1, at=hours_ago(10)))
    await cdc.RecordStatus(status_request(worse, classification=F0, at=hours_ago(2)))
    await cdc.RecordStatus(status_request(later, classification=F1, at=hours_ago(1)))

    assert await listed(cdc, PAST_WARD) == {worse: F0, later: F1}
    assert await listed(cdc, PAST_WARD, as_of=hours_ago(5)) == {worse: F1}
    assert await listed(cdc, PAST_WARD, classification=F0, as_of=hours_ago(5)) == {}
    assert await listed(cdc, PAST_WARD, as_of=hours_ago(11)) == {}
    # A backdated correction of the past changes what the past looks like.
    await cdc.RecordStatus(
        status_request(worse, classification=F0, at=hours_ago(8), reason="kết quả PCR muộn")
    )
    assert await listed(cdc, PAST_WARD, as_of=hours_ago(5)) == {worse: F0}


async def test_pages_of_cases(
    cdc: CaseStatusServiceAsyncStub, registrar: RegistryServiceAsyncStub
) -> None:
    ids = sorted([(await register(registrar, ward=PAGED_WARD)).citizen_id for _ in range(5)])
    for cid in ids:
        await cdc.RecordStatus(status_request(cid, classification=F1, at=hours_ago(4)))

    for as_of in (None, hours_ago(1)):
        seen: list[str] = []
        token = ""
        pages = 0
        while True:
            request = pb.ListCasesRequest(ward_code=PAGED_WARD, page_size=2, page_token=token)
            if as_of is not None:
                request.as_of_time.CopyFrom(timestamp(as_of))
            page = await cdc.ListCases(request)
            pages += 1
            seen.extend(c.citizen_id for c in page.cases)
            token = page.next_page_token
            if not token:
                break
        assert seen == ids
        assert pages == 3
    first = await cdc.ListCases(pb.ListCasesRequest(ward_code=PAGED_WARD, page_size=2))
    error = await expect_error(
        cdc.ListCases(
            pb.ListCasesRequest(ward_code=HOME, page_size=2, page_token=first.next_page_token)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error.violations == (("page_token", "PAGE_TOKEN_MISMATCH"),)


async def test_counts_by_ward_and_province(
    cdc: CaseStatusServiceAsyncStub,
    case_status_clients: CaseStatusClients,
    registrar: RegistryServiceAsyncStub,
) -> None:
    start = hours_ago(6)
    for ward, level in ((HCM_A, F0), (HCM_A, F0), (HCM_B, F1)):
        cid = (await register(registrar, ward=ward)).citizen_id
        await cdc.RecordStatus(status_request(cid, classification=level, at=hours_ago(3)))

    def counts(response: pb.CountCasesResponse) -> set[tuple[str, str, int, int]]:
        return {(c.province_code, c.ward_code, c.classification, c.count) for c in response.counts}

    by_ward = pb.CountCasesRequest(group_by=pb.COUNT_GROUPING_WARD, province_code=HCM)
    assert counts(await cdc.CountCases(by_ward)) == {(HCM, HCM_A, F0, 2), (HCM, HCM_B, F1, 1)}
    by_province = pb.CountCasesRequest(group_by=pb.COUNT_GROUPING_PROVINCE, province_code=HCM)
    assert counts(await cdc.CountCases(by_province)) == {(HCM, "", F0, 2), (HCM, "", F1, 1)}
    everywhere = counts(await cdc.CountCases(pb.CountCasesRequest()))
    assert {(HCM, "", F0, 2), (HCM, "", F1, 1)} <= everywhere
    # As of a past time: folded from the events then.
    past = pb.CountCasesRequest(group_by=pb.COUNT_GROUPING_WARD, province_code=HCM)
    past.as_of_time.CopyFrom(timestamp(hours_ago(2)))
    assert counts(await cdc.CountCases(past)) == {(HCM, HCM_A, F0, 2), (HCM, HCM_B, F1, 1)}
    past.as_of_time.CopyFrom(timestamp(start))
    assert counts(await cdc.CountCases(past)) == set()
    # Ward police count their own wards only.
    police = case_status_clients.case_stub(police_of(HCM_B))
    mine = pb.CountCasesRequest(group_by=pb.COUNT_GROUPING_WARD)
    assert counts(await police.CountCases(mine)) == {(HCM, HCM_B, F1, 1)}
    mine.as_of_time.CopyFrom(timestamp(hours_ago(1)))
    assert counts(await police.CountCases(mine)) == {(HCM, HCM_B, F1, 1)}


async def test_who_may_list_cases(
    cdc: CaseStatusServiceAsyncStub,
    case_status_clients: CaseStatusClients,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    cid = (await register(registrar, ward=POLICED_WARD)).citizen_id
    await cdc.RecordStatus(status_request(cid, classification=F1))
    police = case_status_clients.case_stub(police_of(POLICED_WARD))

    assert await listed(police, POLICED_WARD) == {cid: F1}
    for request in (pb.ListCasesRequest(ward_code=HOME), pb.ListCasesRequest()):
        error = await expect_error(police.ListCases(request), grpc.StatusCode.PERMISSION_DENIED)
        assert error.reason == "OUT_OF_JURISDICTION"
    assert [r["outcome"] for r in await case_db.audit("ListCases", HOME)][-1] == (
        "refused:OUT_OF_JURISDICTION"
    )
    registrar_caller = case_status_clients.case_stub(REGISTRAR)
    for call in (
        registrar_caller.ListCases(pb.ListCasesRequest(ward_code=POLICED_WARD)),
        registrar_caller.CountCases(pb.CountCasesRequest()),
    ):
        await expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
    bad = await expect_error(
        cdc.ListCases(pb.ListCasesRequest(ward_code="99999")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert bad.violations == (("ward_code", "WARD_UNKNOWN"),)
    no_ward = await expect_error(
        cdc.ListCases(pb.ListCasesRequest(ward_role=PERMANENT)), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert no_ward.violations == (("ward_code", "WARD_REQUIRED"),)
