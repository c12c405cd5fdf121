"""An officer's queue: benefit cases by state, program, ward, assignee and due time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import FieldViolation, Forbidden, InvalidInput
from services.kit.pagination import PageRequest
from services.welfare.domain.model import BenefitCase, CaseState
from services.welfare.ports import CaseQuery
from services.welfare.use_cases import CASE, WelfareService, transaction
from services.welfare.use_cases.cases import resource_ids


@dataclass(frozen=True)
class CasePage:
    cases: Sequence[BenefitCase]
    # The (open time, id) of the last case when more may follow.
    after: tuple[str, str] | None


def queue_query(
    identity: Identity,
    state: CaseState | None,
    program_code: str,
    ward_code: str,
    assignee: str,
    overdue_at: dt.datetime | None,
) -> CaseQuery:
    if ward_code and not identity.sees_ward(ward_code):
        raise Forbidden("OUT_OF_JURISDICTION", "the ward is not one of the caller's wards")
    wards = frozenset({ward_code}) if ward_code else None
    if wards is None and not identity.nationwide:
        wards = identity.wards
    return CaseQuery(
        state=state,
        program_code=program_code or None,
        wards=wards,
        assignee=identity.subject if assignee == "me" else (assignee or None),
        overdue_at=overdue_at,
    )


async def list_cases(
    svc: WelfareService, identity: Identity, query: CaseQuery, page: PageRequest
) -> CasePage:
    after = None
    if page.after is not None:
        match page.after:
            case (str() as opened, str() as case_id):
                after = (dt.datetime.fromisoformat(opened), case_id)
            case _:
                raise InvalidInput(
                    [
                        FieldViolation(
                            "page_token", "PAGE_TOKEN_INVALID", "is not a token this API issued"
                        )
                    ]
                )
    async with transaction(svc, identity, "ListBenefitCases", CASE, []) as uow:
        found = list(await uow.welfare.cases_page(query, after, page.size + 1))
        shown = found[: page.size]
        ids = tuple(i for c in shown for i in resource_ids(c))
        await uow.audit(AuditEvent("ListBenefitCases", CASE, ids, "ok"))
        await uow.commit()
    last = shown[-1] if len(found) > page.size else None
    return CasePage(shown, (last.opened_at.isoformat(), last.case_id) if last else None)
