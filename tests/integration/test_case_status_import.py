"""ImportCaseList, ListImportResults and ResolveImportRow over real gRPC, a real database and
the real registry (its VerifyIdentities decides each row's identity)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from services.kit.auth import Identity
from services.registry.domain.model import Sex
from tests.integration.case_status_client import (
    CDC,
    HOAN_KIEM_POLICE,
    TAY_HO_POLICE,
    CaseStatusClients,
    status_request,
)
from tests.integration.registry_client import (
    BA_DINH,
    CUA_NAM,
    HOAN_KIEM,
    RegistryDatabase,
    date,
    death_request,
    expect_error,
    name_tag,
    new_request_id,
    register,
    today,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

F0, F1 = cpb.CLASSIFICATION_F0, cpb.CLASSIFICATION_F1
OUTCOME = pb.RowOutcome
BORN = dt.date(1979, 3, 14)


def row(
    number: int,
    resident: rpb.Resident | None = None,
    *,
    citizen_id: str | None = None,
    full_name: str | None = None,
    birth_date: dt.date | None = BORN,
    ward: str = HOAN_KIEM,
    classification: int = F1,
    effective: dt.date | None = None,
) -> pb.ImportRow:
    message = pb.ImportRow(
        row_number=number,
        citizen_id=citizen_id
        if citizen_id is not None
        else (resident.citizen_id if resident else ""),
        full_name=full_name if full_name is not None else (resident.full_name if resident else ""),
        ward_code=ward,
        classification=classification,  # type: ignore[arg-type]
    )
    if birth_date is not None:
        message.birth_date.CopyFrom(date(birth_date))
    message.effective_date.CopyFrom(date(effective or today()))
    return message


def header(
    ward: str = HOAN_KIEM, *, list_date: dt.date | None = None, request_id: str | None = None
) -> pb.ImportHeader:
    return pb.ImportHeader(
        request_id=request_id or new_request_id(),
        list_id=f"cdc-{ward}-{name_tag()}",
        list_date=date(list_date or today()),
        ward_code=ward,
    )


async def send(
    clients: CaseStatusClients,
    identity: Identity,
    head: pb.ImportHeader,
    rows: list[pb.ImportRow],
    per_message: int = 2,
) -> pb.ImportSummary:
    """Streams the header, then the rows a few per message (the token travels as metadata:
    the test channels add it to unary calls only)."""
    messages = [pb.ImportCaseListRequest(header=head)] + [
        pb.ImportCaseListRequest(rows=pb.ImportRows(rows=rows[i : i + per_message]))
        for i in range(0, len(rows), per_message)
    ]
    token = clients.issuer.issue(identity)
    response = await clients.case_stub(identity).ImportCaseList(
        iter(messages), metadata=[("authorization", f"Bearer {token}")]
    )
    return response.summary


async def results(
    stub: CaseStatusServiceAsyncStub, import_id: str, outcome: int = 0, page_size: int = 0
) -> list[pb.RowResult]:
    found: list[pb.RowResult] = []
    token = ""
    while True:
        page = await stub.ListImportResults(
            pb.ListImportResultsRequest(
                import_id=import_id,
                outcome=outcome,  # type: ignore[arg-type]
                page_size=page_size,
                page_token=token,
            )
        )
        found.extend(page.results)
        token = page.next_page_token
        if not token:
            return found


async def _hoan_kiem_people(registrar: RegistryServiceAsyncStub) -> dict[str, rpb.Resident]:
    tag = name_tag()
    people = {
        name: await register(registrar, full_name=f"{tag} Văn {name}", birth_date=BORN)
        for name in ("Apply", "Same", "Differs")
    }
    # Two people of one name and birth date, in different wards: a row naming neither id.
    for ward in (HOAN_KIEM, BA_DINH):
        people[f"twin-{ward}"] = await register(
            registrar, full_name=f"{tag} Thị Trùng", birth_date=BORN, sex=Sex.FEMALE, ward=ward
        )
    people["tag"] = people["Apply"]
    return people


async def test_one_list_with_every_row_outcome_then_review_and_reimport(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    people = await _hoan_kiem_people(registrar)
    dead = await register(registrar, full_name=f"{name_tag()} Văn Mất", birth_date=BORN)
    await civil_officer.RegisterDeath(death_request(dead.citizen_id))
    apply, same, differs = people["Apply"], people["Same"], people["Differs"]
    twin_name = people[f"twin-{HOAN_KIEM}"].full_name
    await cdc.RecordStatus(status_request(same.citizen_id, classification=F1))
    rows = [
        row(1, apply),
        row(2, same),
        row(3, differs, birth_date=dt.date(1979, 3, 15)),
        row(4, full_name=twin_name, citizen_id="", ward=""),
        row(5, full_name=f"{name_tag()} Không Có", citizen_id=""),
        row(6, citizen_id="12AB", full_name="Ai Đó"),
        row(7, apply, classification=0),
        row(8, dead),
    ]

    summary = await send(case_status_clients, CDC, header(), rows)

    assert (summary.rows, summary.applied, summary.unchanged) == (8, 1, 1)
    assert (summary.needs_review, summary.rejected) == (2, 4)
    got = {r.row_number: r for r in await results(cdc, summary.import_id)}
    assert [got[n].outcome for n in range(1, 9)] == [
        OUTCOME.ROW_OUTCOME_APPLIED,
        OUTCOME.ROW_OUTCOME_UNCHANGED,
        OUTCOME.ROW_OUTCOME_NEEDS_REVIEW,
        OUTCOME.ROW_OUTCOME_NEEDS_REVIEW,
        OUTCOME.ROW_OUTCOME_REJECTED,
        OUTCOME.ROW_OUTCOME_REJECTED,
        OUTCOME.ROW_OUTCOME_REJECTED,
        OUTCOME.ROW_OUTCOME_REJECTED,
    ]
    assert got[1].citizen_id == apply.citizen_id
    assert got[1].event_id
    assert got[2].citizen_id == same.citizen_id
    assert not got[2].event_id
    assert got[3].reason == "MATCH_WITH_DIFFERENCES"
    assert list(got[3].differing_fields) == ["birth_date"]
    assert [c.citizen_id for c in got[3].candidates] == [differs.citizen_id]
    assert got[4].reason == "AMBIGUOUS"
    assert {c.citizen_id for c in got[4].candidates} == {
        people[f"twin-{HOAN_KIEM}"].citizen_id,
        people[f"twin-{BA_DINH}"].citizen_id,
    }
    assert [got[n].reason for n in (5, 6, 7, 8)] == [
        "NO_MATCH",
        "CITIZEN_ID_MALFORMED",
        "CLASSIFICATION_REQUIRED",
        "RESIDENT_DECEASED",
    ]
    assert await case_db.outbox(dead.citizen_id) == []
    status = await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=apply.citizen_id))
    assert status.status.classification == F1
    assert len(await case_db.outbox(apply.citizen_id, "case_status.status_changed.v1")) == 1
    assert len(await case_db.outbox(same.citizen_id, "case_status.status_changed.v1")) == 1

    # Paging by row number, and the filter by outcome.
    paged = await results(cdc, summary.import_id, page_size=2)
    assert [r.row_number for r in paged] == list(range(1, 9))
    rejected = await results(cdc, summary.import_id, OUTCOME.ROW_OUTCOME_REJECTED, page_size=1)
    assert [r.row_number for r in rejected] == [5, 6, 7, 8]

    # A person resolves the differing row: it is applied to the chosen resident.
    resolved = await cdc.ResolveImportRow(
        pb.ResolveImportRowRequest(
            request_id=new_request_id(),
            import_id=summary.import_id,
            row_number=3,
            citizen_id=differs.citizen_id,
        )
    )
    assert resolved.result.outcome == OUTCOME.ROW_OUTCOME_APPLIED
    assert resolved.result.event_id
    status = await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=differs.citizen_id))
    assert status.status.classification == F1
    again = await expect_error(
        cdc.ResolveImportRow(
            pb.ResolveImportRowRequest(
                request_id=new_request_id(),
                import_id=summary.import_id,
                row_number=3,
                citizen_id=differs.citizen_id,
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert again.reason == "ROW_NOT_NEEDING_REVIEW"
    outsider = await expect_error(
        cdc.ResolveImportRow(
            pb.ResolveImportRowRequest(
                request_id=new_request_id(),
                import_id=summary.import_id,
                row_number=4,
                citizen_id=apply.citizen_id,
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert outsider.violations[0][1] == "NOT_A_CANDIDATE"
    assert [
        r.outcome for r in await results(cdc, summary.import_id, OUTCOME.ROW_OUTCOME_APPLIED)
    ] == [
        OUTCOME.ROW_OUTCOME_APPLIED,
        OUTCOME.ROW_OUTCOME_APPLIED,
    ]

    # The same list under a new request id: every applicable row says what is already held.
    events_before = await _events(case_db, apply, same, differs)
    clean = [row(1, apply), row(2, same), row(3, differs)]
    reimported = await send(case_status_clients, CDC, header(), clean)
    assert (reimported.applied, reimported.unchanged, reimported.rows) == (0, 3, 3)
    assert await _events(case_db, apply, same, differs) == events_before


async def _events(case_db: RegistryDatabase, *people: rpb.Resident) -> int:
    value: int = await case_db.scalar(
        "SELECT count(*) FROM status_events WHERE citizen_id = ANY(%s)",
        [p.citizen_id for p in people],
    )
    return value


async def test_day_over_day_new_changed_and_dropped_residents(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
) -> None:
    tag = name_tag()
    p, q, r, s = [
        await register(registrar, full_name=f"{tag} Văn {n}", birth_date=BORN, ward=CUA_NAM)
        for n in ("Pa", "Qa", "Ra", "Sa")
    ]
    spouse = await register(
        registrar,
        household_id=q.household_id,
        relationship=rpb.RELATIONSHIP_SPOUSE,
        ward=CUA_NAM,
        sex=Sex.FEMALE,
    )
    day1, day2 = dt.date(2021, 9, 18), dt.date(2021, 9, 19)

    first = await send(
        case_status_clients,
        CDC,
        header(CUA_NAM, list_date=day1),
        [row(1, p, ward=CUA_NAM), row(2, q, ward=CUA_NAM), row(3, r, ward=CUA_NAM)],
    )
    second = await send(
        case_status_clients,
        CDC,
        header(CUA_NAM, list_date=day2),
        [
            row(1, p, ward=CUA_NAM),
            row(2, q, ward=CUA_NAM, classification=F0),
            row(3, s, ward=CUA_NAM),
        ],
    )

    assert (first.new_residents, first.changed_residents, first.dropped_residents) == (3, 0, 0)
    assert (second.new_residents, second.changed_residents, second.dropped_residents) == (
        1,
        1,
        1,
    )
    assert (second.applied, second.unchanged) == (2, 1)
    # A list that makes a resident F0 makes their household F1, as RecordStatus does.
    got = await cdc.GetCaseStatus(pb.GetCaseStatusRequest(citizen_id=spouse.citizen_id))
    assert got.status.classification == F1
    assert got.status.level_origin == cpb.LEVEL_ORIGIN_DERIVED
    # Imported residents are listed by where they live (the residence snapshot is kept).
    listed = await cdc.ListCases(
        pb.ListCasesRequest(
            ward_code=CUA_NAM, ward_role=pb.WARD_ROLE_PERMANENT_RESIDENCE, page_size=500
        )
    )
    assert {p.citizen_id, q.citizen_id, s.citizen_id} <= {c.citizen_id for c in listed.cases}


async def test_replay_wards_and_malformed_streams(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    resident = await register(registrar, full_name=f"{name_tag()} Văn Lặp", birth_date=BORN)
    head = header()
    rows = [row(1, resident)]

    first = await send(case_status_clients, HOAN_KIEM_POLICE, head, rows)
    replayed = await send(case_status_clients, HOAN_KIEM_POLICE, head, rows, per_message=1)

    assert replayed == first
    assert first.applied == 1
    audited = await case_db.rows(
        "SELECT outcome FROM audit_log WHERE action = 'ImportCaseList' AND request_id = %s"
        " ORDER BY id",
        head.request_id,
    )
    assert [a["outcome"] for a in audited] == ["ok", "replayed"]
    # The same request id with another list is a different request.
    await expect_error(
        send(case_status_clients, HOAN_KIEM_POLICE, head, [row(1, resident, classification=F0)]),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    # Ward police import, read and resolve the lists of their own ward only.
    denied = await expect_error(
        send(case_status_clients, TAY_HO_POLICE, header(), rows),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert denied.reason == "OUT_OF_JURISDICTION"
    elsewhere = case_status_clients.case_stub(TAY_HO_POLICE)
    await expect_error(
        elsewhere.ListImportResults(pb.ListImportResultsRequest(import_id=first.import_id)),
        grpc.StatusCode.NOT_FOUND,
    )
    police = case_status_clients.case_stub(HOAN_KIEM_POLICE)
    assert len(await results(police, first.import_id)) == 1
    # Residents of other wards stay unknown to ward police, though case status asks the
    # registry with its own nationwide token.
    people = await _hoan_kiem_people(registrar)
    twin_name = people[f"twin-{HOAN_KIEM}"].full_name
    scoped = await send(
        case_status_clients,
        HOAN_KIEM_POLICE,
        header(),
        [
            row(1, full_name=twin_name, citizen_id="", ward=""),
            row(2, people[f"twin-{BA_DINH}"], ward=BA_DINH),
        ],
    )
    ambiguous, elsewhere_row = await results(police, scoped.import_id)
    assert [c.citizen_id for c in ambiguous.candidates] == [people[f"twin-{HOAN_KIEM}"].citizen_id]
    assert (elsewhere_row.outcome, elsewhere_row.reason) == (
        OUTCOME.ROW_OUTCOME_REJECTED,
        "NO_MATCH",
    )
    # A stream must start with its header.
    token = case_status_clients.issuer.issue(CDC)
    await expect_error(
        cdc.ImportCaseList(
            iter([pb.ImportCaseListRequest(rows=pb.ImportRows(rows=rows))]),
            metadata=[("authorization", f"Bearer {token}")],
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_a_list_larger_than_one_registry_batch(
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
) -> None:
    resident = await register(registrar, full_name=f"{name_tag()} Văn Cuối", birth_date=BORN)
    tag = name_tag()
    rows = [
        row(n, full_name=f"{tag} Không Có", citizen_id="", birth_date=dt.date(1950, 1, 1))
        for n in range(1, 6001)
    ]
    rows.append(row(6001, resident))

    summary = await send(case_status_clients, CDC, header(), rows, per_message=5000)

    assert (summary.rows, summary.rejected, summary.applied) == (6001, 6000, 1)
    last = await results(cdc, summary.import_id, OUTCOME.ROW_OUTCOME_APPLIED)
    assert [(r.row_number, r.citizen_id) for r in last] == [(6001, resident.citizen_id)]
    assert len(await results(cdc, summary.import_id, page_size=5000)) == 6001
