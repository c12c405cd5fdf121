"""Who may call what, what ward-scoped callers see, the audit log, health and reflection."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.kit.auth import EVERY_WARD, Identity, TokenIssuer, generate_private_key_pem
from services.registry.domain.model import Sex
from tests.integration.registry_client import (
    BA_DINH,
    CIVIL_OFFICER,
    HEALTH_AGENCY,
    HOAN_KIEM,
    HOAN_KIEM_POLICE,
    NO_ROLE,
    REGISTRAR,
    SECOND_CIVIL_OFFICER,
    SERVICE,
    TAY_HO,
    RegistryClients,
    RegistryDatabase,
    date,
    death_request,
    expect_error,
    new_citizen_id,
    new_request_id,
    register,
    registration,
    today,
)

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

# Every RPC with a request that is harmless whoever sends it (each is invalid input).
METHODS: dict[str, Message] = {
    "RegisterResident": pb.RegisterResidentRequest(),
    "GetResident": pb.GetResidentRequest(),
    "BatchGetResidents": pb.BatchGetResidentsRequest(),
    "SearchResidents": pb.SearchResidentsRequest(),
    "VerifyIdentities": pb.VerifyIdentitiesRequest(),
    "UpdateResidence": pb.UpdateResidenceRequest(),
    "ListResidenceHistory": pb.ListResidenceHistoryRequest(),
    "GetHousehold": pb.GetHouseholdRequest(),
    "BatchGetHouseholds": pb.BatchGetHouseholdsRequest(),
    "RegisterDeath": pb.RegisterDeathRequest(),
    "ProposeCivilStatusCorrection": pb.ProposeCivilStatusCorrectionRequest(),
    "CorrectCivilStatus": pb.CorrectCivilStatusRequest(),
    "ListCivilStatusHistory": pb.ListCivilStatusHistoryRequest(),
}

LOOKUPS = {
    "GetResident",
    "BatchGetResidents",
    "SearchResidents",
    "ListResidenceHistory",
    "GetHousehold",
    "BatchGetHouseholds",
    "ListCivilStatusHistory",
}
# Which RPCs each role may call (the policy documented in services/registry/api/policy.py).
ALLOWED: dict[str, set[str]] = {
    "registrar": LOOKUPS | {"RegisterResident", "UpdateResidence"},
    "ward_police": LOOKUPS | {"VerifyIdentities"},
    "civil_status_officer": LOOKUPS
    | {"RegisterDeath", "ProposeCivilStatusCorrection", "CorrectCivilStatus"},
    "health_agency": {"VerifyIdentities"},
    "service": LOOKUPS | {"VerifyIdentities", "RegisterDeath"},
}


def call(stub: RegistryServiceAsyncStub, method: str, request: Message) -> Awaitable[Any]:
    rpc: Callable[[Message], Awaitable[Any]] = getattr(stub, method)
    return rpc(request)


# --- health and reflection -----------------------------------------------------------------


async def test_health_reports_serving_without_a_token(registry_clients: RegistryClients) -> None:
    health = health_pb2_grpc.HealthStub(registry_clients.channel)
    for service in ("", SERVICE):
        response = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service

    unknown = await expect_error(
        health.Check(health_pb2.HealthCheckRequest(service="dancu.nothing.v1.NoService")),
        grpc.StatusCode.NOT_FOUND,
    )
    assert unknown.code == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_the_registry(registry_clients: RegistryClients) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(registry_clients.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
    ]

    responses = [response async for response in reflection.ServerReflectionInfo(iter(requests))]

    listed = {s.name for s in responses[0].list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= listed
    files = responses[1].file_descriptor_response.file_descriptor_proto
    assert files, responses[1]


# --- authentication and the role policy ----------------------------------------------------


@pytest.mark.parametrize("method", sorted(METHODS))
async def test_a_call_without_a_token_is_unauthenticated(
    registry_clients: RegistryClients, method: str
) -> None:
    error = await expect_error(
        call(registry_clients.anonymous(), method, METHODS[method]),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    assert (error.reason, error.domain) == ("TOKEN_MISSING", "auth.dancu")


async def test_bad_tokens_are_unauthenticated(registry_clients: RegistryClients) -> None:
    foreign = TokenIssuer(generate_private_key_pem()).issue(REGISTRAR)
    expired = registry_clients.issuer.issue(REGISTRAR, ttl_seconds=-120)
    for token in ("not-a-jwt", foreign, expired):
        stub = registry_clients.with_token(token)
        error = await expect_error(
            stub.GetResident(pb.GetResidentRequest(citizen_id=new_citizen_id())),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error.reason == "TOKEN_INVALID"


@pytest.mark.parametrize("method", sorted(METHODS))
async def test_a_caller_without_a_registry_role_is_denied(
    registry_clients: RegistryClients, method: str
) -> None:
    error = await expect_error(
        call(registry_clients.stub(NO_ROLE), method, METHODS[method]),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert error.reason == "ROLE_NOT_ALLOWED"


@pytest.mark.parametrize("role", sorted(ALLOWED))
async def test_each_role_reaches_exactly_its_rpcs(
    registry_clients: RegistryClients, role: str
) -> None:
    stub = registry_clients.stub(
        Identity(f"{role}-matrix", "matrix", frozenset({role}), EVERY_WARD)
    )
    reached = set()
    for method, request in METHODS.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(stub, method, request)
        code = info.value.code()
        assert code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT)
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            reached.add(method)
    assert reached == ALLOWED[role]


# --- ward jurisdiction ---------------------------------------------------------------------


async def test_a_ward_scoped_caller_sees_only_residents_of_its_wards(
    registrar: RegistryServiceAsyncStub,
    ward_police: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    born = dt.date(1933, 7, 8)
    inside = await register(registrar, full_name="Vũ Văn Trong", birth_date=born)
    outside = await register(registrar, full_name="Vũ Văn Ngoài", birth_date=born, ward=BA_DINH)
    never_registered = new_citizen_id()

    seen = await ward_police.GetResident(pb.GetResidentRequest(citizen_id=inside.citizen_id))
    assert seen.resident == inside

    hidden = await expect_error(
        ward_police.GetResident(pb.GetResidentRequest(citizen_id=outside.citizen_id)),
        grpc.StatusCode.NOT_FOUND,
    )
    absent = await expect_error(
        ward_police.GetResident(pb.GetResidentRequest(citizen_id=never_registered)),
        grpc.StatusCode.NOT_FOUND,
    )
    # Indistinguishable from a citizen id nobody holds: nothing to probe.
    assert (hidden.reason, hidden.message) == (absent.reason, absent.message)
    assert outside.citizen_id not in hidden.text
    assert outside.full_name not in hidden.text

    batch = await ward_police.BatchGetResidents(
        pb.BatchGetResidentsRequest(citizen_ids=[outside.citizen_id, inside.citizen_id])
    )
    assert [r.citizen_id for r in batch.residents] == [inside.citizen_id]
    assert list(batch.not_found_citizen_ids) == [outside.citizen_id]

    found = await ward_police.SearchResidents(
        pb.SearchResidentsRequest(name="vu van", birth_date=date(born))
    )
    assert [r.citizen_id for r in found.residents] == [inside.citizen_id]

    for lookup in (
        ward_police.ListResidenceHistory(
            pb.ListResidenceHistoryRequest(citizen_id=outside.citizen_id)
        ),
        ward_police.ListCivilStatusHistory(
            pb.ListCivilStatusHistoryRequest(citizen_id=outside.citizen_id)
        ),
        ward_police.GetHousehold(pb.GetHouseholdRequest(citizen_id=outside.citizen_id)),
    ):
        error = await expect_error(lookup, grpc.StatusCode.NOT_FOUND)
        assert error.reason == "RESIDENT_NOT_FOUND"

    other_ward = await expect_error(
        ward_police.SearchResidents(pb.SearchResidentsRequest(ward_code=BA_DINH)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert other_ward.reason == "OUT_OF_JURISDICTION"

    # The refused look-up is audited too, as not found.
    audit = await registry_db.audit("GetResident", outside.citizen_id)
    assert [(a["subject"], a["outcome"]) for a in audit] == [
        (HOAN_KIEM_POLICE.subject, "not_found")
    ]
    batch_audit = await registry_db.audit("BatchGetResidents", inside.citizen_id)
    assert [a["resource_ids"] for a in batch_audit] == [[inside.citizen_id]]


async def test_a_temporary_residence_brings_a_resident_into_the_ward(
    registrar: RegistryServiceAsyncStub, ward_police: RegistryServiceAsyncStub
) -> None:
    visitor = await register(
        registrar,
        ward=BA_DINH,
        temporary=rpb.TemporaryResidence(
            address=rpb.Address(ward_code=HOAN_KIEM, street="20 Hàng Bạc"),
            valid_from=date(today() - dt.timedelta(days=7)),
            valid_to=date(today() + dt.timedelta(days=7)),
        ),
    )
    left = await register(
        registrar,
        ward=BA_DINH,
        temporary=rpb.TemporaryResidence(
            address=rpb.Address(ward_code=HOAN_KIEM, street="21 Hàng Bạc"),
            valid_from=date(dt.date(2020, 1, 1)),
            valid_to=date(dt.date(2020, 12, 31)),
        ),
    )

    seen = await ward_police.GetResident(pb.GetResidentRequest(citizen_id=visitor.citizen_id))
    assert seen.resident.citizen_id == visitor.citizen_id
    await expect_error(
        ward_police.GetResident(pb.GetResidentRequest(citizen_id=left.citizen_id)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_a_ward_scoped_registrar_changes_residences_only_into_or_within_its_wards(
    registrar: RegistryServiceAsyncStub,
    ward_registrar: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    elsewhere = await register(registrar, ward=BA_DINH)
    stay_in_tay_ho = pb.UpdateResidenceRequest(
        request_id=new_request_id(),
        citizen_id=elsewhere.citizen_id,
        etag=elsewhere.etag,
        temporary_registration=rpb.TemporaryResidence(
            address=rpb.Address(ward_code=TAY_HO, street="1 Xuân Diệu"), valid_from=date(today())
        ),
        reason="đăng ký tạm trú",
    )

    error = await expect_error(
        ward_registrar.UpdateResidence(stay_in_tay_ho), grpc.StatusCode.NOT_FOUND
    )
    assert error.reason == "RESIDENT_NOT_FOUND"
    assert await registry_db.count("residence_history", elsewhere.citizen_id) == 1

    # Moving into its own ward is the receiving ward's registration to make.
    move_in = pb.UpdateResidenceRequest(
        request_id=new_request_id(),
        citizen_id=elsewhere.citizen_id,
        etag=elsewhere.etag,
        permanent_move=pb.PermanentMove(
            address=rpb.Address(ward_code=HOAN_KIEM, street="3 Hàng Khay"),
            effective_date=date(today()),
        ),
        reason="chuyển đến",
    )
    moved = await ward_registrar.UpdateResidence(move_in)
    assert moved.resident.permanent_residence.ward_code == HOAN_KIEM


async def test_verify_identities_does_not_reveal_residents_outside_the_callers_wards(
    registrar: RegistryServiceAsyncStub, ward_police: RegistryServiceAsyncStub
) -> None:
    born = dt.date(1934, 1, 9)
    outside = await register(
        registrar, full_name="Hồ Thị Xa", birth_date=born, sex=Sex.FEMALE, ward=BA_DINH
    )
    claims = [
        pb.IdentityClaim(client_ref="by-name", full_name="HO THI XA", birth_date=date(born)),
        pb.IdentityClaim(client_ref="by-id", citizen_id=outside.citizen_id, full_name="Hồ Thị Xa"),
    ]

    response = await ward_police.VerifyIdentities(pb.VerifyIdentitiesRequest(claims=claims))

    for result in response.results:
        assert result.outcome == pb.VERIFICATION_OUTCOME_NO_MATCH, result
        assert outside.citizen_id not in str(result)


# --- idempotency is per agency -------------------------------------------------------------


async def test_request_ids_belong_to_the_agency_that_sent_them(
    registrar: RegistryServiceAsyncStub,
    ward_registrar: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    shared = new_request_id()
    first = registration(request_id=shared)
    second = registration(request_id=shared)

    one = await registrar.RegisterResident(first)
    two = await ward_registrar.RegisterResident(second)

    assert one.resident.citizen_id == first.citizen_id
    assert two.resident.citizen_id == second.citizen_id
    assert await registry_db.request_logged(shared) == 2


# --- the audit log -------------------------------------------------------------------------


async def test_every_rpc_on_personal_data_is_audited(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
    health_agency: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    born = dt.date(1935, 11, 12)
    request = registration(full_name="Đinh Công Kiểm", birth_date=born)
    resident = (await registrar.RegisterResident(request)).resident
    cid = resident.citizen_id
    purpose = (("x-dancu-purpose", "contact-tracing-F0"),)
    await registrar.GetResident(pb.GetResidentRequest(citizen_id=cid), metadata=purpose)
    await registrar.BatchGetResidents(pb.BatchGetResidentsRequest(citizen_ids=[cid]))
    await registrar.SearchResidents(pb.SearchResidentsRequest(name="dinh cong kiem"))
    await health_agency.VerifyIdentities(
        pb.VerifyIdentitiesRequest(claims=[pb.IdentityClaim(citizen_id=cid, full_name="x y")])
    )
    move = pb.UpdateResidenceRequest(
        request_id=new_request_id(),
        citizen_id=cid,
        etag=resident.etag,
        temporary_registration=rpb.TemporaryResidence(
            address=rpb.Address(ward_code=TAY_HO, street="8 Tô Ngọc Vân"), valid_from=date(today())
        ),
        reason="đăng ký tạm trú",
    )
    await registrar.UpdateResidence(move)
    await registrar.ListResidenceHistory(pb.ListResidenceHistoryRequest(citizen_id=cid))
    await registrar.GetHousehold(pb.GetHouseholdRequest(citizen_id=cid))
    death = death_request(cid)
    deceased = (await civil_officer.RegisterDeath(death)).resident
    proposal = pb.ProposeCivilStatusCorrectionRequest(
        request_id=new_request_id(),
        citizen_id=cid,
        etag=deceased.etag,
        corrected_status=rpb.CIVIL_STATUS_ALIVE,
        reason="báo tử nhầm",
    )
    proposed = await civil_officer.ProposeCivilStatusCorrection(proposal)
    approval = pb.CorrectCivilStatusRequest(
        request_id=new_request_id(), correction_id=proposed.correction.correction_id
    )
    await second_civil_officer.CorrectCivilStatus(approval)
    await civil_officer.ListCivilStatusHistory(pb.ListCivilStatusHistoryRequest(citizen_id=cid))

    rows = await registry_db.rows(
        "SELECT subject, agency, roles, purpose, action, resource_type, outcome, request_id"
        " FROM audit_log WHERE %s = ANY(resource_ids) ORDER BY id",
        cid,
    )

    def row(
        who: Identity, action: str, request_id: str | None = None, kind: str = "resident"
    ) -> dict[str, Any]:
        return {
            "subject": who.subject,
            "agency": who.agency,
            "roles": sorted(who.roles),
            "purpose": "contact-tracing-F0" if action == "GetResident" else "unspecified",
            "action": action,
            "resource_type": kind,
            "outcome": "ok",
            "request_id": request_id,
        }

    assert rows == [
        row(REGISTRAR, "RegisterResident", request.request_id),
        row(REGISTRAR, "GetResident"),
        row(REGISTRAR, "BatchGetResidents"),
        row(REGISTRAR, "SearchResidents"),
        row(HEALTH_AGENCY, "VerifyIdentities"),
        row(REGISTRAR, "UpdateResidence", move.request_id),
        row(REGISTRAR, "ListResidenceHistory"),
        row(REGISTRAR, "GetHousehold", kind="household"),
        row(CIVIL_OFFICER, "RegisterDeath", death.request_id),
        row(CIVIL_OFFICER, "ProposeCivilStatusCorrection", proposal.request_id),
        row(SECOND_CIVIL_OFFICER, "CorrectCivilStatus", approval.request_id),
        row(CIVIL_OFFICER, "ListCivilStatusHistory"),
    ]


async def test_the_audit_log_refuses_updates_and_deletes(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    resident = await register(registrar)
    before = await registry_db.audit("RegisterResident", resident.citizen_id)
    assert len(before) == 1
    row_id = before[0]["id"]

    for statement in (
        "UPDATE audit_log SET outcome = 'forged' WHERE id = %s",
        "DELETE FROM audit_log WHERE id = %s",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            await registry_db.rows(statement + " RETURNING id", row_id)
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        await registry_db.conn.execute(b"TRUNCATE audit_log")

    assert await registry_db.audit("RegisterResident", resident.citizen_id) == before


async def test_error_details_carry_no_personal_data(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    ward_police: RegistryServiceAsyncStub,
) -> None:
    name = "Nguyễn Thị Bảo Mật"
    resident = await register(registrar, full_name=name, sex=Sex.FEMALE, ward=BA_DINH)
    cid = resident.citizen_id
    deceased = (await civil_officer.RegisterDeath(death_request(cid))).resident

    errors = [
        await expect_error(
            registrar.RegisterResident(
                registration(citizen_id=cid, full_name=name, sex=Sex.FEMALE)
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        await expect_error(
            registrar.RegisterResident(registration(citizen_id=cid, full_name=name, sex=Sex.MALE)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        await expect_error(
            ward_police.GetResident(pb.GetResidentRequest(citizen_id=cid)),
            grpc.StatusCode.NOT_FOUND,
        ),
        await expect_error(
            civil_officer.RegisterDeath(
                death_request(
                    cid,
                    rpb.DeathRecord(
                        death_date=date(dt.date(2021, 9, 9)), cause=rpb.DEATH_CAUSE_OTHER
                    ),
                )
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        await expect_error(
            registrar.UpdateResidence(
                pb.UpdateResidenceRequest(
                    request_id=new_request_id(),
                    citizen_id=cid,
                    etag=resident.etag,
                    end_temporary_residence=pb.EndTemporaryResidence(end_date=date(today())),
                    reason="x",
                )
            ),
            grpc.StatusCode.ABORTED,
        ),
        await expect_error(
            civil_officer.ProposeCivilStatusCorrection(
                pb.ProposeCivilStatusCorrectionRequest(
                    request_id=new_request_id(),
                    citizen_id=cid,
                    etag=deceased.etag,
                    corrected_status=rpb.CIVIL_STATUS_ALIVE,
                    reason=name * 100,
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]

    for error in errors:
        assert error.reason, error
        for secret in (name, cid, "Bảo Mật", "bao mat"):
            assert secret not in error.text, error


async def test_a_refused_change_is_audited_though_the_change_rolled_back(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    first = await register(registrar)
    again = registration(citizen_id=first.citizen_id)

    await expect_error(registrar.RegisterResident(again), grpc.StatusCode.FAILED_PRECONDITION)

    rows = await registry_db.audit("RegisterResident", first.citizen_id)
    assert [row["outcome"] for row in rows] == ["ok", "refused:CITIZEN_ID_TAKEN"]
    assert rows[1]["request_id"] == again.request_id
    assert rows[1]["subject"] == "registrar-hn-01"
