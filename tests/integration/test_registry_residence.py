"""UpdateResidence and ListResidenceHistory over real gRPC and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
import pytest
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from tests.integration.registry_client import (
    BA_DINH,
    CUA_NAM,
    HOAN_KIEM,
    REGISTRAR,
    TAY_HO,
    UNKNOWN_WARD,
    RegistryDatabase,
    date,
    death_request,
    expect_error,
    new_citizen_id,
    new_request_id,
    py_date,
    register,
    today,
)

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

PERMANENT = pb.RESIDENCE_KIND_PERMANENT
TEMPORARY = pb.RESIDENCE_KIND_TEMPORARY


def move(
    resident: rpb.Resident,
    ward: str,
    effective: dt.date,
    *,
    street: str = "7 Phan Đình Phùng",
    etag: str | None = None,
    request_id: str | None = None,
) -> pb.UpdateResidenceRequest:
    return pb.UpdateResidenceRequest(
        request_id=request_id or new_request_id(),
        citizen_id=resident.citizen_id,
        etag=resident.etag if etag is None else etag,
        permanent_move=pb.PermanentMove(
            address=rpb.Address(ward_code=ward, street=street), effective_date=date(effective)
        ),
        reason="chuyển hộ khẩu",
    )


def stay(
    resident: rpb.Resident, ward: str, start: dt.date, end: dt.date | None = None
) -> pb.UpdateResidenceRequest:
    residence = rpb.TemporaryResidence(
        address=rpb.Address(ward_code=ward, street="9 Quảng An"), valid_from=date(start)
    )
    if end is not None:
        residence.valid_to.CopyFrom(date(end))
    return pb.UpdateResidenceRequest(
        request_id=new_request_id(),
        citizen_id=resident.citizen_id,
        etag=resident.etag,
        temporary_registration=residence,
        reason="đăng ký tạm trú",
    )


def end_stay(resident: rpb.Resident, end: dt.date) -> pb.UpdateResidenceRequest:
    return pb.UpdateResidenceRequest(
        request_id=new_request_id(),
        citizen_id=resident.citizen_id,
        etag=resident.etag,
        end_temporary_residence=pb.EndTemporaryResidence(end_date=date(end)),
        reason="kết thúc tạm trú",
    )


async def registered_long_ago(
    stub: RegistryServiceAsyncStub, db: RegistryDatabase, since: dt.date = dt.date(2010, 1, 1)
) -> rpb.Resident:
    """A resident whose permanent residence began ``since`` (as if registered back then).

    Registration over the API starts the permanent residence today, and moves cannot take
    effect in the future; backdating the first record lets a test move a resident on a date
    of its choosing, as with residents loaded from the old registry.
    """
    resident = await register(stub)
    await db.rows(
        "UPDATE residence_history SET valid_from = %s WHERE citizen_id = %s RETURNING id",
        since,
        resident.citizen_id,
    )
    return resident


async def history(stub: RegistryServiceAsyncStub, citizen_id: str) -> list[pb.ResidenceRecord]:
    response = await stub.ListResidenceHistory(
        pb.ListResidenceHistoryRequest(citizen_id=citizen_id)
    )
    assert response.next_page_token == ""
    return list(response.records)


def summary(record: pb.ResidenceRecord) -> tuple[int, str, dt.date, dt.date | None]:
    valid_to = py_date(record.valid_to) if record.HasField("valid_to") else None
    return (record.kind, record.address.ward_code, py_date(record.valid_from), valid_to)


async def test_permanent_move_closes_the_old_record_and_opens_a_new_one(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await registered_long_ago(registrar, registry_db, dt.date(2010, 1, 1))
    effective = dt.date(2024, 3, 1)

    moved = (await registrar.UpdateResidence(move(resident, BA_DINH, effective))).resident

    assert moved.permanent_residence.ward_code == BA_DINH
    assert moved.permanent_residence.ward_name == "Phường Ba Đình"
    assert moved.permanent_residence.street == "7 Phan Đình Phùng"
    assert moved.etag != resident.etag
    records = await history(registrar, resident.citizen_id)
    # Newest first: the new residence from the effective date, the old one until the day before.
    assert [summary(r) for r in records] == [
        (PERMANENT, BA_DINH, effective, None),
        (PERMANENT, HOAN_KIEM, dt.date(2010, 1, 1), dt.date(2024, 2, 29)),
    ]
    assert records[0].reason == "chuyển hộ khẩu"
    assert records[0].recorded_by == rpb.Actor(subject=REGISTRAR.subject, agency=REGISTRAR.agency)
    assert records[0].record_time.seconds > 0
    events = await registry_db.outbox(resident.citizen_id, "registry.residence_changed.v1")
    assert len(events) == 1
    assert events[0]["payload"] == {"citizen_id": resident.citizen_id, "wards": [BA_DINH]}
    audit = await registry_db.audit("UpdateResidence", resident.citizen_id)
    assert [(row["subject"], row["outcome"]) for row in audit] == [(REGISTRAR.subject, "ok")]


async def test_a_move_cannot_take_effect_in_the_future(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await registered_long_ago(registrar, registry_db)
    request = move(resident, BA_DINH, today() + dt.timedelta(days=1))

    error = await expect_error(
        registrar.UpdateResidence(request), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert error.reason == "MOVE_IN_FUTURE"
    assert await registry_db.count("residence_history", resident.citizen_id) == 1


@pytest.mark.parametrize("days_before_today", [0, 30])
async def test_a_move_effective_no_later_than_registration_leaves_one_current_residence(
    registrar: RegistryServiceAsyncStub, days_before_today: int
) -> None:
    # Registered today (the permanent record begins today), moving with an effective date of
    # today or earlier. Whether the registry refuses the move or accepts it, the history must
    # not show two current permanent residences.
    resident = await register(registrar)
    effective = today() - dt.timedelta(days=days_before_today)

    try:
        await registrar.UpdateResidence(move(resident, BA_DINH, effective))
    except grpc.aio.AioRpcError as error:
        code = error.code()
    else:
        code = grpc.StatusCode.OK
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION)
    records = await history(registrar, resident.citizen_id)
    current = [r for r in records if r.kind == PERMANENT and not r.HasField("valid_to")]
    assert len(current) == 1, [summary(r) for r in records]


async def test_move_replay_returns_the_first_response_and_writes_once(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)
    request = move(resident, TAY_HO, today())

    first = await registrar.UpdateResidence(request)
    replay = await registrar.UpdateResidence(request)

    assert replay.SerializeToString() == first.SerializeToString()
    assert await registry_db.count("residence_history", resident.citizen_id) == 2
    assert len(await registry_db.outbox(resident.citizen_id)) == 1
    version = await registry_db.scalar(
        "SELECT version FROM residents WHERE citizen_id = %s", resident.citizen_id
    )
    assert version == 2


async def test_move_request_id_reused_for_another_change_is_refused(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)
    first = move(resident, TAY_HO, today())
    await registrar.UpdateResidence(first)
    other = move(resident, CUA_NAM, today(), request_id=first.request_id)

    error = await expect_error(registrar.UpdateResidence(other), grpc.StatusCode.ALREADY_EXISTS)

    assert error.reason == "REQUEST_ID_REUSED"
    current = await registrar.GetResident(pb.GetResidentRequest(citizen_id=resident.citizen_id))
    assert current.resident.permanent_residence.ward_code == TAY_HO
    assert await registry_db.count("residence_history", resident.citizen_id) == 2


async def test_stale_etag_is_aborted_and_changes_nothing(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)
    await registrar.UpdateResidence(move(resident, TAY_HO, today()))
    stale = move(resident, CUA_NAM, today())  # etag read before the move

    error = await expect_error(registrar.UpdateResidence(stale), grpc.StatusCode.ABORTED)

    assert error.reason == "ETAG_MISMATCH"
    assert resident.citizen_id not in error.text
    current = await registrar.GetResident(pb.GetResidentRequest(citizen_id=resident.citizen_id))
    assert current.resident.permanent_residence.ward_code == TAY_HO
    assert await registry_db.count("residence_history", resident.citizen_id) == 2
    assert await registry_db.request_logged(stale.request_id) == 0
    # With the current etag, the same change goes through.
    fresh = move(current.resident, CUA_NAM, today())
    moved = await registrar.UpdateResidence(fresh)
    assert moved.resident.permanent_residence.ward_code == CUA_NAM


async def test_temporary_registration_then_its_end(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)
    start = today() - dt.timedelta(days=20)
    yesterday = today() - dt.timedelta(days=1)

    staying = (await registrar.UpdateResidence(stay(resident, TAY_HO, start))).resident

    assert staying.temporary_residence.address.ward_code == TAY_HO
    assert staying.temporary_residence.valid_from == date(start)
    assert staying.permanent_residence.ward_code == HOAN_KIEM

    ended = (await registrar.UpdateResidence(end_stay(staying, yesterday))).resident

    assert not ended.HasField("temporary_residence")
    assert ended.permanent_residence.ward_code == HOAN_KIEM
    records = await history(registrar, resident.citizen_id)
    assert [summary(r) for r in records] == [
        (TEMPORARY, TAY_HO, start, yesterday),
        (PERMANENT, HOAN_KIEM, today(), None),
    ]
    assert len(await registry_db.outbox(resident.citizen_id, "registry.residence_changed.v1")) == 2

    no_stay = await expect_error(
        registrar.UpdateResidence(end_stay(ended, today())), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert no_stay.reason == "NO_TEMPORARY_RESIDENCE"


async def test_a_temporary_residence_ending_later_stays_active_until_then(
    registrar: RegistryServiceAsyncStub, ward_police: RegistryServiceAsyncStub
) -> None:
    resident = await register(registrar, ward=BA_DINH)
    start = today() - dt.timedelta(days=5)
    last_day = today() + dt.timedelta(days=10)
    staying = (await registrar.UpdateResidence(stay(resident, HOAN_KIEM, start))).resident

    ending = (await registrar.UpdateResidence(end_stay(staying, last_day))).resident

    assert ending.temporary_residence.address.ward_code == HOAN_KIEM
    assert ending.temporary_residence.valid_to == date(last_day)
    records = await history(registrar, resident.citizen_id)
    assert summary(records[0]) == (TEMPORARY, HOAN_KIEM, start, last_day)
    # Until then, the ward of the temporary residence still sees the resident.
    seen = await ward_police.GetResident(pb.GetResidentRequest(citizen_id=resident.citizen_id))
    assert seen.resident.citizen_id == resident.citizen_id


async def test_a_new_temporary_registration_replaces_the_active_one(
    registrar: RegistryServiceAsyncStub,
) -> None:
    resident = await register(registrar)
    first_start = today() - dt.timedelta(days=30)
    second_start = today() - dt.timedelta(days=2)
    staying = (await registrar.UpdateResidence(stay(resident, TAY_HO, first_start))).resident

    moved_on = (await registrar.UpdateResidence(stay(staying, CUA_NAM, second_start))).resident

    assert moved_on.temporary_residence.address.ward_code == CUA_NAM
    records = await history(registrar, resident.citizen_id)
    assert [summary(r) for r in records] == [
        (TEMPORARY, CUA_NAM, second_start, None),
        (TEMPORARY, TAY_HO, first_start, second_start - dt.timedelta(days=1)),
        (PERMANENT, HOAN_KIEM, today(), None),
    ]


async def test_a_deceased_resident_cannot_move(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    deceased = (await civil_officer.RegisterDeath(death_request(resident.citizen_id))).resident
    request = move(deceased, BA_DINH, today())

    error = await expect_error(
        registrar.UpdateResidence(request), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert error.reason == "RESIDENT_DECEASED"
    assert await registry_db.count("residence_history", resident.citizen_id) == 1
    assert await registry_db.request_logged(request.request_id) == 0
    assert await registry_db.outbox(resident.citizen_id, "registry.residence_changed.v1") == []


async def test_update_residence_bad_input(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)
    nothing = pb.UpdateResidenceRequest(request_id=new_request_id(), citizen_id=resident.citizen_id)
    unknown_ward = move(resident, UNKNOWN_WARD, today())
    undated = move(resident, BA_DINH, today())
    undated.permanent_move.ClearField("effective_date")
    reversed_stay = stay(resident, TAY_HO, today(), today() - dt.timedelta(days=1))
    cases: list[tuple[pb.UpdateResidenceRequest, tuple[tuple[str, str], ...]]] = [
        (
            nothing,
            (
                ("etag", "ETAG_REQUIRED"),
                ("reason", "REASON_REQUIRED"),
                ("change", "CHANGE_REQUIRED"),
            ),
        ),
        (unknown_ward, (("permanent_move.address.ward_code", "WARD_UNKNOWN"),)),
        (undated, (("permanent_move.effective_date", "DATE_REQUIRED"),)),
        (reversed_stay, (("temporary_registration.valid_to", "PERIOD_REVERSED"),)),
    ]

    for request, violations in cases:
        error = await expect_error(
            registrar.UpdateResidence(request), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert error.violations == violations, request
        assert await registry_db.request_logged(request.request_id) == 0

    assert await registry_db.count("residence_history", resident.citizen_id) == 1


async def test_moving_to_the_same_address_is_refused(registrar: RegistryServiceAsyncStub) -> None:
    resident = await register(registrar)
    same = move(resident, HOAN_KIEM, today(), street="12 Hàng Bài")

    error = await expect_error(registrar.UpdateResidence(same), grpc.StatusCode.FAILED_PRECONDITION)

    assert error.reason == "SAME_ADDRESS"


async def test_update_residence_of_unknown_resident_is_not_found(
    registrar: RegistryServiceAsyncStub,
) -> None:
    request = pb.UpdateResidenceRequest(
        request_id=new_request_id(),
        citizen_id=new_citizen_id(),
        etag='W/"1"',
        end_temporary_residence=pb.EndTemporaryResidence(end_date=date(today())),
        reason="kết thúc tạm trú",
    )

    error = await expect_error(registrar.UpdateResidence(request), grpc.StatusCode.NOT_FOUND)

    assert error.reason == "RESIDENT_NOT_FOUND"


async def test_residence_history_pages(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await registered_long_ago(registrar, registry_db)
    current = resident
    for year, ward in ((2020, BA_DINH), (2021, TAY_HO), (2022, CUA_NAM)):
        current = (
            await registrar.UpdateResidence(move(current, ward, dt.date(year, 6, 1)))
        ).resident

    wards: list[str] = []
    sizes = []
    token = ""
    while True:
        page = await registrar.ListResidenceHistory(
            pb.ListResidenceHistoryRequest(
                citizen_id=resident.citizen_id, page_size=3, page_token=token
            )
        )
        wards.extend(r.address.ward_code for r in page.records)
        sizes.append(len(page.records))
        token = page.next_page_token
        if not token:
            break

    assert sizes == [3, 1]
    assert wards == [CUA_NAM, TAY_HO, BA_DINH, HOAN_KIEM]

    first = await registrar.ListResidenceHistory(
        pb.ListResidenceHistoryRequest(citizen_id=resident.citizen_id, page_size=1)
    )
    other = await register(registrar)
    error = await expect_error(
        registrar.ListResidenceHistory(
            pb.ListResidenceHistoryRequest(
                citizen_id=other.citizen_id, page_size=1, page_token=first.next_page_token
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error.violations == (("page_token", "PAGE_TOKEN_MISMATCH"),)


async def test_residence_history_of_unknown_or_malformed_id(
    registrar: RegistryServiceAsyncStub,
) -> None:
    missing = await expect_error(
        registrar.ListResidenceHistory(pb.ListResidenceHistoryRequest(citizen_id=new_citizen_id())),
        grpc.StatusCode.NOT_FOUND,
    )
    assert missing.reason == "RESIDENT_NOT_FOUND"
    malformed = await expect_error(
        registrar.ListResidenceHistory(pb.ListResidenceHistoryRequest(citizen_id="12")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert malformed.violations == (("citizen_id", "CITIZEN_ID_MALFORMED"),)
