"""SearchResidents and VerifyIdentities over real gRPC and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb
from google.type.date_pb2 import Date

from services.registry.domain.model import Sex
from tests.integration.registry_client import (
    BA_DINH,
    CUA_NAM,
    HEALTH_AGENCY,
    HOAN_KIEM,
    TAY_HO,
    RegistryDatabase,
    date,
    expect_error,
    name_tag,
    new_citizen_id,
    register,
    today,
)

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

V = pb.VerificationOutcome


# --- SearchResidents -----------------------------------------------------------------------


async def test_name_search_ignores_diacritics_case_and_spacing(
    registrar: RegistryServiceAsyncStub, registry_db: RegistryDatabase
) -> None:
    # A birth date no other test uses keeps the result set to this test's residents.
    born = dt.date(1931, 3, 17)
    an = await register(registrar, full_name="Nguyễn Văn An", birth_date=born)
    anh = await register(registrar, full_name="Nguyễn Văn Anh", birth_date=born)
    await register(registrar, full_name="Nguyễn Thị An", birth_date=born, sex=Sex.FEMALE)

    async def search(name: str) -> list[str]:
        response = await registrar.SearchResidents(
            pb.SearchResidentsRequest(name=name, birth_date=date(born))
        )
        return [r.citizen_id for r in response.residents]

    # "nguyen van an" is a prefix of "nguyen van anh": both are found, in name order.
    expected = [an.citizen_id, anh.citizen_id]
    assert await search("NGUYEN  VAN an") == expected
    assert await search("nguyễn văn an") == expected
    assert await search("  Nguyen\tVan   An ") == expected
    assert await search("NGUYỄN VĂN ANH") == [anh.citizen_id]
    assert await search("Nguyen Van") == expected
    found = await registrar.SearchResidents(
        pb.SearchResidentsRequest(name="NGUYEN  VAN an", birth_date=date(born))
    )
    assert found.residents[0] == an
    assert found.next_page_token == ""
    audit = await registry_db.audit("SearchResidents", an.citizen_id)
    assert audit
    assert audit[-1]["outcome"] == "ok"
    assert audit[-1]["subject"] == "registrar-hn-01"


async def test_search_by_birth_year_and_by_ward(registrar: RegistryServiceAsyncStub) -> None:
    tag = name_tag()
    born_1980 = await register(
        registrar, full_name=f"{tag} Văn Một", birth_date=dt.date(1980, 1, 1)
    )
    born_1980_late = await register(
        registrar, full_name=f"{tag} Văn Hai", birth_date=dt.date(1980, 12, 31), ward=BA_DINH
    )
    await register(registrar, full_name=f"{tag} Văn Ba", birth_date=dt.date(1981, 1, 1))
    await register(registrar, full_name=f"{tag} Văn Bốn", birth_date=dt.date(1979, 12, 31))

    by_year = await registrar.SearchResidents(pb.SearchResidentsRequest(name=tag, birth_year=1980))
    assert {r.citizen_id for r in by_year.residents} == {
        born_1980.citizen_id,
        born_1980_late.citizen_id,
    }

    by_ward = await registrar.SearchResidents(
        pb.SearchResidentsRequest(name=tag, ward_code=BA_DINH)
    )
    assert [r.citizen_id for r in by_ward.residents] == [born_1980_late.citizen_id]


async def test_search_by_ward_includes_active_temporary_residents(
    registrar: RegistryServiceAsyncStub,
) -> None:
    tag = name_tag()
    staying = await register(
        registrar,
        full_name=f"{tag} Thị Lan",
        sex=Sex.FEMALE,
        temporary=rpb.TemporaryResidence(
            address=rpb.Address(ward_code=TAY_HO, street="3 Quảng An"),
            valid_from=date(today() - dt.timedelta(days=3)),
        ),
    )
    await register(
        registrar,
        full_name=f"{tag} Thị Mai",
        sex=Sex.FEMALE,
        temporary=rpb.TemporaryResidence(  # not yet begun
            address=rpb.Address(ward_code=TAY_HO, street="4 Quảng An"),
            valid_from=date(today() + dt.timedelta(days=30)),
        ),
    )

    response = await registrar.SearchResidents(
        pb.SearchResidentsRequest(name=tag, ward_code=TAY_HO)
    )

    assert [r.citizen_id for r in response.residents] == [staying.citizen_id]


async def test_search_pages_through_every_match_once(registrar: RegistryServiceAsyncStub) -> None:
    tag = name_tag()
    given = ["An", "Bình", "Chi", "Dũng", "Đức", "Giang", "Hà"]
    registered = {
        (await register(registrar, full_name=f"{tag} Văn {name}")).citizen_id for name in given
    }

    seen: list[str] = []
    page_sizes = []
    token = ""
    while True:
        page = await registrar.SearchResidents(
            pb.SearchResidentsRequest(name=tag, page_size=3, page_token=token)
        )
        seen.extend(r.citizen_id for r in page.residents)
        page_sizes.append(len(page.residents))
        token = page.next_page_token
        if not token:
            break

    assert page_sizes == [3, 3, 1]
    assert len(seen) == len(set(seen))
    assert set(seen) == registered


async def test_search_pages_through_namesakes(registrar: RegistryServiceAsyncStub) -> None:
    # Five people of one name: pages continue after the last citizen id, not the last name.
    name = f"{name_tag()} Văn Trùng"
    registered = {(await register(registrar, full_name=name)).citizen_id for _ in range(5)}

    seen: list[str] = []
    token = ""
    while True:
        page = await registrar.SearchResidents(
            pb.SearchResidentsRequest(name=name, page_size=2, page_token=token)
        )
        seen.extend(r.citizen_id for r in page.residents)
        token = page.next_page_token
        if not token:
            break

    assert seen == sorted(registered)


async def test_search_page_token_is_bound_to_its_filters(
    registrar: RegistryServiceAsyncStub,
) -> None:
    tag = name_tag()
    for given in ("An", "Bình", "Chi"):
        await register(registrar, full_name=f"{tag} Văn {given}")
    first = await registrar.SearchResidents(pb.SearchResidentsRequest(name=tag, page_size=2))
    assert first.next_page_token

    changed = await expect_error(
        registrar.SearchResidents(
            pb.SearchResidentsRequest(
                name=tag, birth_year=1985, page_size=2, page_token=first.next_page_token
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert changed.violations == (("page_token", "PAGE_TOKEN_MISMATCH"),)

    forged = await expect_error(
        registrar.SearchResidents(
            pb.SearchResidentsRequest(name=tag, page_size=2, page_token="not-a-token")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert forged.violations == (("page_token", "PAGE_TOKEN_INVALID"),)

    # The page size may change between pages; the filters may not.
    rest = await registrar.SearchResidents(
        pb.SearchResidentsRequest(name=tag, page_size=10, page_token=first.next_page_token)
    )
    assert len(rest.residents) == 1
    assert rest.next_page_token == ""


async def test_search_refuses_bad_filters(registrar: RegistryServiceAsyncStub) -> None:
    cases: list[tuple[pb.SearchResidentsRequest, tuple[tuple[str, str], ...]]] = [
        (pb.SearchResidentsRequest(), (("name", "FILTER_REQUIRED"),)),
        (pb.SearchResidentsRequest(name="Á"), (("name", "NAME_TOO_SHORT"),)),
        (pb.SearchResidentsRequest(birth_year=1850), (("birth_year", "YEAR_OUT_OF_RANGE"),)),
        (
            pb.SearchResidentsRequest(name="Nguyen", page_size=-1),
            (("page_size", "PAGE_SIZE_NEGATIVE"),),
        ),
        (
            pb.SearchResidentsRequest(birth_date=Date(year=2001, month=2, day=30)),
            (("birth_date", "DATE_INVALID"),),
        ),
    ]
    for request, violations in cases:
        error = await expect_error(
            registrar.SearchResidents(request), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert error.violations == violations, request


async def test_a_blank_name_is_no_name_filter(registrar: RegistryServiceAsyncStub) -> None:
    tag = name_tag()
    resident = await register(
        registrar, full_name=f"{tag} Văn Trống", birth_date=dt.date(1932, 5, 6)
    )

    with_year = await registrar.SearchResidents(
        pb.SearchResidentsRequest(name="   ", birth_date=date(dt.date(1932, 5, 6)))
    )
    assert resident.citizen_id in [r.citizen_id for r in with_year.residents]
    alone = await expect_error(
        registrar.SearchResidents(pb.SearchResidentsRequest(name="   ")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert alone.violations == (("name", "FILTER_REQUIRED"),)


# --- VerifyIdentities ----------------------------------------------------------------------


def claim(
    client_ref: str,
    *,
    citizen_id: str = "",
    full_name: str = "",
    birth_date: dt.date | None = None,
    ward_code: str = "",
) -> pb.IdentityClaim:
    message = pb.IdentityClaim(
        client_ref=client_ref, citizen_id=citizen_id, full_name=full_name, ward_code=ward_code
    )
    if birth_date is not None:
        message.birth_date.CopyFrom(date(birth_date))
    return message


async def test_verify_identities_mixed_batch(
    registrar: RegistryServiceAsyncStub,
    health_agency: RegistryServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    tag = name_tag()
    born = dt.date(1972, 9, 2)
    exact = await register(registrar, full_name=f"{tag} Văn Chính", birth_date=born)
    differing = await register(registrar, full_name=f"{tag} Văn Khác", birth_date=born)
    # Two people of the same name and birth date, in different wards.
    twin_hk = await register(
        registrar, full_name=f"{tag} Thị Trùng", birth_date=born, sex=Sex.FEMALE
    )
    twin_bd = await register(
        registrar, full_name=f"{tag} Thị Trùng", birth_date=born, sex=Sex.FEMALE, ward=BA_DINH
    )
    by_name = await register(registrar, full_name=f"{tag} Đức Tên", birth_date=born)
    plain = tag.upper()  # the claim spells names without diacritics, in capitals

    claims = [
        claim(
            "row-1",
            citizen_id=exact.citizen_id,
            full_name=exact.full_name,
            birth_date=born,
            ward_code=HOAN_KIEM,
        ),
        claim(
            "row-2",
            citizen_id=differing.citizen_id,
            full_name=f"{plain} VAN KHAC",
            birth_date=dt.date(1972, 9, 3),
            ward_code=CUA_NAM,
        ),
        claim("row-3", full_name=f"{plain} VAN KHONG CO", birth_date=born),
        claim("row-4", full_name=f"{plain} THI TRUNG", birth_date=born),
        claim("row-5", citizen_id="12AB", full_name="Ai Đó", birth_date=born),
        claim("row-6", citizen_id=exact.citizen_id, full_name="   "),
        claim("row-7", full_name=f"{plain} DUC TEN", birth_date=born),
        claim("row-8", full_name=f"{plain} THI TRUNG", birth_date=born, ward_code=BA_DINH),
        claim("row-9", full_name=f"{plain} VAN CHINH"),
        claim(
            "row-10",
            citizen_id=new_citizen_id(birth_year=1972),
            full_name=f"{plain} DUC TEN",
            birth_date=born,
        ),
    ]

    response = await health_agency.VerifyIdentities(pb.VerifyIdentitiesRequest(claims=claims))
    results = list(response.results)

    assert [(r.index, r.client_ref) for r in results] == [
        (i, f"row-{i + 1}") for i in range(len(claims))
    ]
    assert [r.outcome for r in results] == [
        V.VERIFICATION_OUTCOME_MATCH,
        V.VERIFICATION_OUTCOME_MATCH_WITH_DIFFERENCES,
        V.VERIFICATION_OUTCOME_NO_MATCH,
        V.VERIFICATION_OUTCOME_AMBIGUOUS,
        V.VERIFICATION_OUTCOME_INVALID,
        V.VERIFICATION_OUTCOME_INVALID,
        V.VERIFICATION_OUTCOME_MATCH,
        V.VERIFICATION_OUTCOME_MATCH,
        V.VERIFICATION_OUTCOME_INVALID,
        # An unknown id, but name and birth date fit one resident: that one, the id differs.
        V.VERIFICATION_OUTCOME_MATCH_WITH_DIFFERENCES,
    ]
    ok, diff, none, ambiguous, malformed, nameless, named, narrowed, undated, wrong_id = results
    assert ok.match == pb.IdentityCandidate(
        citizen_id=exact.citizen_id,
        full_name=exact.full_name,
        birth_date=date(born),
        permanent_ward_code=HOAN_KIEM,
        civil_status=rpb.CIVIL_STATUS_ALIVE,
    )
    assert list(ok.differing_fields) == []
    assert diff.match.citizen_id == differing.citizen_id
    assert list(diff.differing_fields) == ["birth_date", "ward_code"]
    assert not none.HasField("match")
    assert not none.candidates
    assert {c.citizen_id for c in ambiguous.candidates} == {twin_hk.citizen_id, twin_bd.citizen_id}
    assert not ambiguous.HasField("match")
    assert malformed.problem == "CITIZEN_ID_MALFORMED"
    assert nameless.problem == "FULL_NAME_EMPTY"
    assert named.match.citizen_id == by_name.citizen_id
    assert narrowed.match.citizen_id == twin_bd.citizen_id
    assert undated.problem == "BIRTH_DATE_REQUIRED"
    assert wrong_id.match.citizen_id == by_name.citizen_id
    assert list(wrong_id.differing_fields) == ["citizen_id"]

    audit = await registry_db.audit("VerifyIdentities", exact.citizen_id)
    assert len(audit) == 1
    assert audit[0]["subject"] == HEALTH_AGENCY.subject
    assert audit[0]["agency"] == HEALTH_AGENCY.agency
    assert audit[0]["outcome"] == "ok"
    assert set(audit[0]["resource_ids"]) == {
        exact.citizen_id,
        differing.citizen_id,
        twin_hk.citizen_id,
        twin_bd.citizen_id,
        by_name.citizen_id,
    }


async def test_verify_a_batch_of_5000(
    registrar: RegistryServiceAsyncStub, health_agency: RegistryServiceAsyncStub
) -> None:
    known = [await register(registrar) for _ in range(5)]
    claims = []
    for i in range(5000):
        if i % 2 == 0:
            resident = known[i % 5]
            claims.append(
                claim(
                    f"{i}",
                    citizen_id=resident.citizen_id,
                    full_name=resident.full_name,
                    birth_date=dt.date(1985, 4, 2),
                )
            )
        else:
            claims.append(
                claim(
                    f"{i}",
                    citizen_id=new_citizen_id(),
                    full_name="Không Có Ai",
                    birth_date=dt.date(1985, 4, 2),
                )
            )

    started = time.perf_counter()
    response = await health_agency.VerifyIdentities(pb.VerifyIdentitiesRequest(claims=claims))
    elapsed = time.perf_counter() - started

    assert [r.index for r in response.results] == list(range(5000))
    assert [r.client_ref for r in response.results] == [str(i) for i in range(5000)]
    assert [r.outcome for r in response.results] == [
        V.VERIFICATION_OUTCOME_MATCH if i % 2 == 0 else V.VERIFICATION_OUTCOME_NO_MATCH
        for i in range(5000)
    ]
    assert response.results[4].match.citizen_id == known[4].citizen_id
    assert elapsed < 10, f"5,000 claims took {elapsed:.1f}s"


async def test_verify_refuses_an_empty_or_oversize_batch(
    health_agency: RegistryServiceAsyncStub,
) -> None:
    one = claim("x", full_name="Không Có Ai", birth_date=dt.date(1985, 4, 2))
    for claims in ([], [one] * 5001):
        error = await expect_error(
            health_agency.VerifyIdentities(pb.VerifyIdentitiesRequest(claims=claims)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error.violations == (("claims", "BATCH_SIZE"),)


async def test_a_claim_with_an_impossible_birth_date_is_not_a_match(
    registrar: RegistryServiceAsyncStub, health_agency: RegistryServiceAsyncStub
) -> None:
    resident = await register(registrar, birth_date=dt.date(1972, 2, 28))
    impossible = pb.IdentityClaim(
        client_ref="feb-30",
        citizen_id=resident.citizen_id,
        full_name=resident.full_name,
        birth_date=Date(year=1972, month=2, day=30),
    )

    response = await health_agency.VerifyIdentities(pb.VerifyIdentitiesRequest(claims=[impossible]))

    assert response.results[0].outcome == V.VERIFICATION_OUTCOME_INVALID
    assert response.results[0].problem == "BIRTH_DATE_INVALID"
    assert not response.results[0].HasField("match")
