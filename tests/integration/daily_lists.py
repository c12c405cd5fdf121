"""Daily lists for the staged-import and ListImport tests: a cohort of registered residents and
a list of rows about them with every outcome, and staging a list through the case-status API."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from tests.integration.registry_client import date, name_tag, new_request_id, register, today

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

BORN = dt.date(1979, 3, 14)
F0, F1 = cpb.CLASSIFICATION_F0, cpb.CLASSIFICATION_F1


async def cohort(registrar: RegistryServiceAsyncStub, ward: str, size: int) -> list[rpb.Resident]:
    """``size`` residents of ``ward``, each with a name of their own."""
    tag = name_tag()
    return [
        await register(registrar, full_name=f"{tag} Văn {name_tag()}", birth_date=BORN, ward=ward)
        for _ in range(size)
    ]


def import_row(
    number: int,
    *,
    citizen_id: str,
    full_name: str,
    ward: str,
    classification: int,
    birth_date: dt.date = BORN,
) -> pb.ImportRow:
    row = pb.ImportRow(
        row_number=number,
        citizen_id=citizen_id,
        full_name=full_name,
        ward_code=ward,
        classification=classification,  # type: ignore[arg-type]
    )
    row.birth_date.CopyFrom(date(birth_date))
    row.effective_date.CopyFrom(date(today()))
    return row


def daily_list(people: list[rpb.Resident], rows: int, ward: str) -> list[pb.ImportRow]:
    """``rows`` rows about ``people`` (each named many times, so later rows about a resident
    apply on top of earlier ones, some in another chunk), with every outcome: applied and
    unchanged by citizen id, applied by name and birth date, needing review (another birth
    date), no match, a malformed id, and row numbers repeated (some from an earlier chunk) or
    invalid. The same list over two cohorts gives the same outcomes row for row."""
    unknown = name_tag()
    made: list[pb.ImportRow] = []
    for n in range(1, rows + 1):
        person = people[n % len(people)]
        rounds = n // len(people)
        # F1, then F1 again (unchanged), then F0 (applied), then F0 again...
        classification = F1 if rounds % 4 < 2 else F0
        kind = n % 10
        fields: dict[str, Any] = {
            "citizen_id": person.citizen_id,
            "full_name": person.full_name,
            "ward": ward,
            "classification": classification,
        }
        number = n
        if kind == 5:
            fields["citizen_id"] = ""
        elif kind == 6:
            made.append(import_row(n, **fields, birth_date=dt.date(1979, 3, 15)))
            continue
        elif kind == 7:
            fields.update(citizen_id="", full_name=f"{unknown} Không {name_tag()}")
        elif kind == 8:
            fields["citizen_id"] = "12AB"
        elif kind == 9:
            number = max(n - 55, 0)
        made.append(import_row(number, **fields))
    return made


def header(ward: str, list_id: str | None = None) -> pb.ImportHeader:
    return pb.ImportHeader(
        request_id=new_request_id(),
        list_id=list_id or f"cdc-{ward}-{name_tag()}",
        list_date=date(today()),
        ward_code=ward,
    )


async def stage(
    stub: CaseStatusServiceAsyncStub,
    head: pb.ImportHeader,
    rows: list[pb.ImportRow],
    chunk_size: int,
) -> pb.StageImportResponse:
    """Stages the list in chunks of ``chunk_size`` rows."""
    chunks = [rows[i : i + chunk_size] for i in range(0, len(rows), chunk_size)]
    staged = await stub.StageImport(
        pb.StageImportRequest(header=head, rows=len(rows), chunks=len(chunks))
    )
    for number, chunk in enumerate(chunks):
        await stub.StageImportRows(
            pb.StageImportRowsRequest(import_id=staged.import_id, chunk_number=number, rows=chunk)
        )
    return staged
