"""Deaths and civil-status corrections over real gRPC and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from tests.integration.registry_client import (
    CIVIL_OFFICER,
    SECOND_CIVIL_OFFICER,
    VIETNAM,
    RegistryDatabase,
    death_record,
    death_request,
    expect_error,
    new_citizen_id,
    new_request_id,
    register,
    today,
)

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

DEATH_REGISTERED = "registry.death_registered.v1"
DEATH_REVOKED = "registry.death_revoked.v1"


def proposal(
    resident: rpb.Resident,
    *,
    etag: str | None = None,
    status: rpb.CivilStatus.ValueType = rpb.CIVIL_STATUS_ALIVE,
    reason: str = "nhầm người: giấy báo tử ghi sai số định danh",
    request_id: str | None = None,
) -> pb.ProposeCivilStatusCorrectionRequest:
    return pb.ProposeCivilStatusCorrectionRequest(
        request_id=request_id or new_request_id(),
        citizen_id=resident.citizen_id,
        etag=resident.etag if etag is None else etag,
        corrected_status=status,
        reason=reason,
    )


def approval(correction_id: str, request_id: str | None = None) -> pb.CorrectCivilStatusRequest:
    return pb.CorrectCivilStatusRequest(
        request_id=request_id or new_request_id(), correction_id=correction_id
    )


async def deceased_resident(
    registrar: RegistryServiceAsyncStub, civil_officer: RegistryServiceAsyncStub
) -> rpb.Resident:
    resident = await register(registrar)
    response = await civil_officer.RegisterDeath(death_request(resident.citizen_id))
    return response.resident


async def status_history(
    stub: RegistryServiceAsyncStub, citizen_id: str
) -> list[pb.CivilStatusRecord]:
    response = await stub.ListCivilStatusHistory(
        pb.ListCivilStatusHistoryRequest(citizen_id=citizen_id)
    )
    return list(response.records)


# --- RegisterDeath -------------------------------------------------------------------------


async def test_register_death(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    death = death_record(death_date=dt.date(2021, 8, 14), registration_ref="KT-2021-000777")

    deceased = (
        await civil_officer.RegisterDeath(death_request(resident.citizen_id, death))
    ).resident

    assert deceased.civil_status == rpb.CIVIL_STATUS_DECEASED
    assert deceased.death == death
    assert deceased.etag != resident.etag
    records = await status_history(registrar, resident.citizen_id)
    assert [r.civil_status for r in records] == [
        rpb.CIVIL_STATUS_DECEASED,
        rpb.CIVIL_STATUS_ALIVE,
    ]
    assert records[0].death == death
    assert records[0].recorded_by == rpb.Actor(
        subject=CIVIL_OFFICER.subject, agency=CIVIL_OFFICER.agency
    )
    assert records[0].correction_id == ""
    assert not records[1].HasField("death")
    events = await registry_db.outbox(resident.citizen_id)
    assert [(e["event_type"], e["payload"]) for e in events] == [
        (
            DEATH_REGISTERED,
            {
                "citizen_id": resident.citizen_id,
                "death_date": "2021-08-14",
                "cause": "COVID19",
                "registration_ref": "KT-2021-000777",
            },
        )
    ]
    audit = await registry_db.audit("RegisterDeath", resident.citizen_id)
    assert [(a["subject"], a["agency"], a["outcome"]) for a in audit] == [
        (CIVIL_OFFICER.subject, CIVIL_OFFICER.agency, "ok")
    ]


async def test_register_death_replay_returns_the_first_response_and_writes_once(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    request = death_request(resident.citizen_id)

    first = await civil_officer.RegisterDeath(request)
    replay = await civil_officer.RegisterDeath(request)

    assert replay.SerializeToString() == first.SerializeToString()
    assert await registry_db.count("civil_status_history", resident.citizen_id) == 2
    assert len(await registry_db.outbox(resident.citizen_id, DEATH_REGISTERED)) == 1


async def test_the_same_death_reported_again_is_harmless(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    service_caller: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    first = await civil_officer.RegisterDeath(death_request(resident.citizen_id))

    # A second report of the same death (another agency, its own request id).
    again = await service_caller.RegisterDeath(death_request(resident.citizen_id))

    assert again.resident == first.resident
    assert await registry_db.count("civil_status_history", resident.citizen_id) == 2
    assert len(await registry_db.outbox(resident.citizen_id, DEATH_REGISTERED)) == 1


async def test_a_different_death_for_a_deceased_resident_is_refused(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)
    other = death_request(
        deceased.citizen_id, death_record(death_date=dt.date(2021, 9, 1), registration_ref="KT-9")
    )

    error = await expect_error(
        civil_officer.RegisterDeath(other), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert error.reason == "DEATH_ALREADY_REGISTERED"
    assert deceased.citizen_id not in error.text
    assert deceased.full_name not in error.text
    assert await registry_db.count("civil_status_history", deceased.citizen_id) == 2
    current = await civil_officer.GetResident(pb.GetResidentRequest(citizen_id=deceased.citizen_id))
    assert current.resident.death == deceased.death


async def test_register_death_request_id_reused_for_another_request_is_refused(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    first = await register(registrar)
    second = await register(registrar)
    request = death_request(first.citizen_id)
    await civil_officer.RegisterDeath(request)

    error = await expect_error(
        civil_officer.RegisterDeath(
            death_request(second.citizen_id, request_id=request.request_id)
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )

    assert error.reason == "REQUEST_ID_REUSED"
    assert await registry_db.count("civil_status_history", second.citizen_id) == 1
    still_alive = await civil_officer.GetResident(
        pb.GetResidentRequest(citizen_id=second.citizen_id)
    )
    assert still_alive.resident.civil_status == rpb.CIVIL_STATUS_ALIVE


async def test_register_death_bad_input(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    cid = resident.citizen_id
    future = death_record(death_date=today() + dt.timedelta(days=1))
    blank = rpb.DeathRecord(place="nhà riêng")
    too_long = death_record()
    too_long.place = "x" * 301
    off_day = death_record(death_date=dt.date(2021, 8, 14))
    off_day.death_time.FromDatetime(dt.datetime(2021, 8, 15, 9, 0, tzinfo=VIETNAM))
    no_death = pb.RegisterDeathRequest(request_id=new_request_id(), citizen_id=cid)
    cases: list[tuple[pb.RegisterDeathRequest, tuple[tuple[str, str], ...]]] = [
        (no_death, (("death", "DEATH_REQUIRED"),)),
        (
            death_request(cid, blank),
            (("death.death_date", "DATE_REQUIRED"), ("death.cause", "CAUSE_REQUIRED")),
        ),
        (death_request(cid, future), (("death.death_date", "DATE_IN_FUTURE"),)),
        (death_request(cid, too_long), (("death.place", "TOO_LONG"),)),
        (death_request(cid, off_day), (("death.death_time", "TIME_DATE_MISMATCH"),)),
        (death_request("0010"), (("citizen_id", "CITIZEN_ID_MALFORMED"),)),
    ]

    for request, violations in cases:
        error = await expect_error(
            civil_officer.RegisterDeath(request), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert error.violations == violations, request
        assert await registry_db.request_logged(request.request_id) == 0

    assert await registry_db.count("civil_status_history", cid) == 1
    assert await registry_db.outbox(cid) == []


async def test_death_time_is_read_in_vietnam_time(
    registrar: RegistryServiceAsyncStub, civil_officer: RegistryServiceAsyncStub
) -> None:
    # 05:30 on 14 August in Hà Nội is still 13 August in UTC.
    resident = await register(registrar)
    death = death_record(death_date=dt.date(2021, 8, 14))
    moment = dt.datetime(2021, 8, 14, 5, 30, tzinfo=VIETNAM)
    death.death_time.FromDatetime(moment)

    deceased = (
        await civil_officer.RegisterDeath(death_request(resident.citizen_id, death))
    ).resident

    assert deceased.death.death_time == death.death_time
    assert deceased.death.death_time.ToDatetime(dt.UTC) == moment


async def test_death_before_birth_and_unknown_resident(
    registrar: RegistryServiceAsyncStub, civil_officer: RegistryServiceAsyncStub
) -> None:
    resident = await register(registrar, birth_date=dt.date(1985, 4, 2))
    early = death_request(resident.citizen_id, death_record(death_date=dt.date(1985, 4, 1)))
    error = await expect_error(
        civil_officer.RegisterDeath(early), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert error.reason == "DEATH_BEFORE_BIRTH"

    unknown = await expect_error(
        civil_officer.RegisterDeath(death_request(new_citizen_id())), grpc.StatusCode.NOT_FOUND
    )
    assert unknown.reason == "RESIDENT_NOT_FOUND"


# --- corrections ---------------------------------------------------------------------------


async def test_an_erroneous_death_is_revoked_by_a_second_officer(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)

    proposed = (await civil_officer.ProposeCivilStatusCorrection(proposal(deceased))).correction

    assert proposed.state == pb.CORRECTION_STATE_PROPOSED
    assert proposed.citizen_id == deceased.citizen_id
    assert proposed.corrected_status == rpb.CIVIL_STATUS_ALIVE
    assert proposed.proposed_by == rpb.Actor(
        subject=CIVIL_OFFICER.subject, agency=CIVIL_OFFICER.agency
    )
    assert not proposed.HasField("approved_by")
    uuid.UUID(proposed.correction_id)
    # A proposal alone changes nothing.
    unchanged = await civil_officer.GetResident(
        pb.GetResidentRequest(citizen_id=deceased.citizen_id)
    )
    assert unchanged.resident == deceased

    applied = await second_civil_officer.CorrectCivilStatus(approval(proposed.correction_id))

    resident = applied.resident
    assert resident.civil_status == rpb.CIVIL_STATUS_ALIVE
    assert not resident.HasField("death")
    assert resident.etag != deceased.etag
    assert applied.correction.state == pb.CORRECTION_STATE_APPLIED
    assert applied.correction.approved_by == rpb.Actor(
        subject=SECOND_CIVIL_OFFICER.subject, agency=SECOND_CIVIL_OFFICER.agency
    )
    assert applied.correction.apply_time.seconds > 0
    records = await status_history(civil_officer, deceased.citizen_id)
    assert [r.civil_status for r in records] == [
        rpb.CIVIL_STATUS_ALIVE,
        rpb.CIVIL_STATUS_DECEASED,
        rpb.CIVIL_STATUS_ALIVE,
    ]
    revoked, death, registered = records
    assert revoked.correction_id == proposed.correction_id
    assert revoked.recorded_by == proposed.proposed_by
    assert revoked.approved_by == applied.correction.approved_by
    assert revoked.reason == "nhầm người: giấy báo tử ghi sai số định danh"
    assert death.death == deceased.death
    assert death.correction_id == ""
    assert not death.HasField("approved_by")
    assert registered.correction_id == ""
    events = await registry_db.outbox(deceased.citizen_id)
    assert [e["event_type"] for e in events] == [DEATH_REGISTERED, DEATH_REVOKED]
    assert events[1]["payload"] == {
        "citizen_id": deceased.citizen_id,
        "correction_id": proposed.correction_id,
    }
    stored = await registry_db.rows(
        "SELECT civil_status, death_date FROM residents WHERE citizen_id = %s",
        deceased.citizen_id,
    )
    assert stored == [{"civil_status": 1, "death_date": None}]
    assert len(await registry_db.audit("ProposeCivilStatusCorrection", deceased.citizen_id)) == 1
    approvals = await registry_db.audit("CorrectCivilStatus", deceased.citizen_id)
    assert [(a["subject"], a["outcome"]) for a in approvals] == [
        (SECOND_CIVIL_OFFICER.subject, "ok")
    ]


async def test_approving_your_own_proposal_is_refused(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)
    proposed = (await civil_officer.ProposeCivilStatusCorrection(proposal(deceased))).correction

    error = await expect_error(
        civil_officer.CorrectCivilStatus(approval(proposed.correction_id)),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    assert error.reason == "APPROVER_IS_PROPOSER"
    current = await civil_officer.GetResident(pb.GetResidentRequest(citizen_id=deceased.citizen_id))
    assert current.resident.civil_status == rpb.CIVIL_STATUS_DECEASED
    assert await registry_db.outbox(deceased.citizen_id, DEATH_REVOKED) == []
    # The refused attempt is evidence too, and names whose record it was.
    attempts = await registry_db.audit("CorrectCivilStatus", deceased.citizen_id)
    assert [(a["subject"], a["outcome"]) for a in attempts] == [
        (CIVIL_OFFICER.subject, "refused:APPROVER_IS_PROPOSER")
    ]


async def test_a_correction_is_applied_once(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)
    proposed = (await civil_officer.ProposeCivilStatusCorrection(proposal(deceased))).correction
    request = approval(proposed.correction_id)
    first = await second_civil_officer.CorrectCivilStatus(request)

    replay = await second_civil_officer.CorrectCivilStatus(request)
    assert replay.SerializeToString() == first.SerializeToString()

    twice = await expect_error(
        second_civil_officer.CorrectCivilStatus(approval(proposed.correction_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert twice.reason == "CORRECTION_NOT_PROPOSED"
    assert await registry_db.count("civil_status_history", deceased.citizen_id) == 3
    assert len(await registry_db.outbox(deceased.citizen_id, DEATH_REVOKED)) == 1


async def test_a_proposal_is_void_once_the_resident_changed(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)
    one = (await civil_officer.ProposeCivilStatusCorrection(proposal(deceased))).correction
    other = (await civil_officer.ProposeCivilStatusCorrection(proposal(deceased))).correction
    await second_civil_officer.CorrectCivilStatus(approval(one.correction_id))

    error = await expect_error(
        second_civil_officer.CorrectCivilStatus(approval(other.correction_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )

    assert error.reason == "RESIDENT_CHANGED"


async def test_proposal_needs_the_current_etag(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    deceased = (await civil_officer.RegisterDeath(death_request(resident.citizen_id))).resident

    missing = await expect_error(
        civil_officer.ProposeCivilStatusCorrection(proposal(deceased, etag="")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert missing.violations == (("etag", "ETAG_REQUIRED"),)

    stale = await expect_error(
        civil_officer.ProposeCivilStatusCorrection(proposal(deceased, etag=resident.etag)),
        grpc.StatusCode.ABORTED,
    )
    assert stale.reason == "ETAG_MISMATCH"
    assert await registry_db.count("civil_status_corrections", deceased.citizen_id) == 0


async def test_proposal_replay_and_request_id_reuse(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)
    request = proposal(deceased)

    first = await civil_officer.ProposeCivilStatusCorrection(request)
    replay = await civil_officer.ProposeCivilStatusCorrection(request)
    assert replay.SerializeToString() == first.SerializeToString()
    assert await registry_db.count("civil_status_corrections", deceased.citizen_id) == 1

    reused = await expect_error(
        civil_officer.ProposeCivilStatusCorrection(
            proposal(deceased, reason="lý do khác", request_id=request.request_id)
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert reused.reason == "REQUEST_ID_REUSED"
    assert await registry_db.count("civil_status_corrections", deceased.citizen_id) == 1


async def test_proposal_bad_input_and_state(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    alive = await register(registrar)
    deceased = await deceased_resident(registrar, civil_officer)

    unsupported = await expect_error(
        civil_officer.ProposeCivilStatusCorrection(
            proposal(deceased, status=rpb.CIVIL_STATUS_DECEASED, reason=" ")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert unsupported.violations == (
        ("reason", "REASON_REQUIRED"),
        ("corrected_status", "CORRECTION_UNSUPPORTED"),
    )

    not_deceased = await expect_error(
        civil_officer.ProposeCivilStatusCorrection(proposal(alive)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert not_deceased.reason == "NOT_DECEASED"
    assert await registry_db.count("civil_status_corrections", alive.citizen_id) == 0
    assert await registry_db.count("civil_status_corrections", deceased.citizen_id) == 0


async def test_correct_civil_status_errors(
    second_civil_officer: RegistryServiceAsyncStub,
) -> None:
    malformed = await expect_error(
        second_civil_officer.CorrectCivilStatus(approval("42")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert malformed.violations == (("correction_id", "CORRECTION_ID_MALFORMED"),)

    unknown = await expect_error(
        second_civil_officer.CorrectCivilStatus(approval(str(uuid.uuid4()))),
        grpc.StatusCode.NOT_FOUND,
    )
    assert unknown.reason == "CORRECTION_NOT_FOUND"


async def test_civil_status_history_of_unknown_or_malformed_id(
    civil_officer: RegistryServiceAsyncStub,
) -> None:
    unknown = await expect_error(
        civil_officer.ListCivilStatusHistory(
            pb.ListCivilStatusHistoryRequest(citizen_id=new_citizen_id())
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert unknown.reason == "RESIDENT_NOT_FOUND"
    malformed = await expect_error(
        civil_officer.ListCivilStatusHistory(pb.ListCivilStatusHistoryRequest(citizen_id="x")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert malformed.violations == (("citizen_id", "CITIZEN_ID_MALFORMED"),)


async def test_a_revoked_death_can_be_registered_again(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)
    proposed = (await civil_officer.ProposeCivilStatusCorrection(proposal(deceased))).correction
    await second_civil_officer.CorrectCivilStatus(approval(proposed.correction_id))
    real = death_record(death_date=dt.date(2022, 1, 5), registration_ref="KT-2022-000001")

    again = await civil_officer.RegisterDeath(death_request(deceased.citizen_id, real))

    assert again.resident.civil_status == rpb.CIVIL_STATUS_DECEASED
    assert again.resident.death == real
    events = await registry_db.outbox(deceased.citizen_id)
    assert [e["event_type"] for e in events] == [DEATH_REGISTERED, DEATH_REVOKED, DEATH_REGISTERED]


async def test_a_request_id_cannot_be_reused_for_another_method(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)
    death = death_request(resident.citizen_id)
    deceased = (await civil_officer.RegisterDeath(death)).resident

    error = await expect_error(
        civil_officer.ProposeCivilStatusCorrection(proposal(deceased, request_id=death.request_id)),
        grpc.StatusCode.ALREADY_EXISTS,
    )

    assert error.reason == "REQUEST_ID_REUSED"
    assert await registry_db.count("civil_status_corrections", deceased.citizen_id) == 0


async def test_a_replayed_approval_is_audited_against_the_resident(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    deceased = await deceased_resident(registrar, civil_officer)
    proposed = (await civil_officer.ProposeCivilStatusCorrection(proposal(deceased))).correction
    request = approval(proposed.correction_id)
    await second_civil_officer.CorrectCivilStatus(request)

    await second_civil_officer.CorrectCivilStatus(request)

    audit = await registry_db.audit("CorrectCivilStatus", deceased.citizen_id)
    assert [(a["outcome"], a["request_id"]) for a in audit] == [
        ("ok", request.request_id),
        ("replayed", request.request_id),
    ]
