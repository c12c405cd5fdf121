"""ListCases and CountCases: cases by where residents live or are cared for, now or as of a
past time.

Now: the ``current_status`` rows (written with every event) filtered in SQL, then the page's
residents folded from their events in one query, so a listed status is exactly what
GetCaseStatus says. A past time: the residents with an event effective by then who may match
(by residence snapshot or a care event in the ward) are read in id order, batch by batch, and
folded with ``timeline.fold`` as of that time; only those whose status then matches are listed
or counted.

Where residents live comes from the residence snapshot taken from the registry when a
resident gets an event (``resident_wards``); a past listing uses today's snapshot (the
registry's residence history is not consulted). Residents whose level was derived through
contacts of contacts without their registry record being read have no snapshot yet and are
found by care place only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.case_status.domain import timeline
from services.case_status.domain.model import CaseStatus, Classification
from services.case_status.ports import CaseQuery, UnitOfWork, WardRole
from services.case_status.use_cases import CASE, CaseStatusService, CaseView, _transaction, views
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import FieldViolation, Forbidden, InvalidInput, Validator
from services.kit.pagination import PageRequest

# Residents read per round when folding for a past time.
PAST_BATCH = 500


@dataclass(frozen=True)
class CasePage:
    cases: tuple[CaseView, ...]
    # The last citizen id of this page when more follow.
    after: str | None


@dataclass(frozen=True)
class Count:
    province_code: str
    ward_code: str
    classification: Classification
    count: int


def _check_query(svc: CaseStatusService, query: CaseQuery, as_of: dt.datetime | None) -> None:
    v = Validator()
    if query.ward_code is not None:
        v.check(svc.ward_exists(query.ward_code), "ward_code", "WARD_UNKNOWN", "is not a ward")
    if as_of is not None:
        v.check(as_of <= svc.clock.now(), "as_of_time", "IN_FUTURE", "must not be in the future")
    v.raise_if_any()


def _after(page: PageRequest) -> str | None:
    if page.after is None:
        return None
    match page.after:
        case (str() as citizen_id,):
            return citizen_id
    raise InvalidInput(
        [FieldViolation("page_token", "PAGE_TOKEN_INVALID", "is not a token this API issued")]
    )


def _matches(query: CaseQuery, status: CaseStatus, by_residence: bool) -> bool:
    levels = query.classifications or frozenset(Classification) - {Classification.CLEARED}
    if status.classification not in levels:
        return False
    if query.care_setting is not None and (
        status.care is None or status.care.setting is not query.care_setting
    ):
        return False
    if query.ward_code is None:
        return True
    cared = status.care is not None and status.care.ward_code == query.ward_code
    if query.role is WardRole.CARE_PLACE:
        return cared
    if query.role is WardRole.ANY:
        return by_residence or cared
    return by_residence


async def _fold(
    svc: CaseStatusService, uow: UnitOfWork, ids: Sequence[str], as_of: dt.datetime | None
) -> list[CaseStatus]:
    events = await uow.cases.events_of(ids)
    return [timeline.fold(cid, events.get(cid, ()), as_of, policy=svc.isolation) for cid in ids]


async def list_cases(
    svc: CaseStatusService,
    identity: Identity,
    query: CaseQuery,
    as_of: dt.datetime | None,
    page: PageRequest,
) -> CasePage:
    after = _after(page)
    _check_query(svc, query, as_of)
    async with _transaction(svc, identity, "ListCases", [query.ward_code or "*"]) as uow:
        if not identity.sees_ward(query.ward_code):
            raise Forbidden("OUT_OF_JURISDICTION", "list the cases of one of your wards")
        if as_of is None:
            ids = await uow.cases.current_page(query, svc.today(), after, page.size + 1)
            statuses = await _fold(svc, uow, ids[: page.size], None)
            more = len(ids) > page.size
        else:
            statuses, more = await _past_page(svc, uow, query, as_of, after, page.size)
        cases = tuple(await views(uow, statuses))
        # Citizen ids with their levels are health data: the read is audited.
        listed = tuple(c.status.citizen_id for c in cases)
        await uow.audit(AuditEvent("ListCases", CASE, listed, "ok"))
        await uow.commit()
    return CasePage(cases, cases[-1].status.citizen_id if more and cases else None)


async def _past_page(
    svc: CaseStatusService,
    uow: UnitOfWork,
    query: CaseQuery,
    as_of: dt.datetime,
    after: str | None,
    size: int,
) -> tuple[list[CaseStatus], bool]:
    found: list[CaseStatus] = []
    cursor = after
    while True:
        batch = await uow.cases.candidates(query, as_of, cursor, PAST_BATCH)
        if not batch:
            return found, False
        statuses = await _fold(svc, uow, [c.citizen_id for c in batch], as_of)
        for candidate, status in zip(batch, statuses, strict=True):
            if _matches(query, status, candidate.by_residence):
                if len(found) == size:
                    return found, True
                found.append(status)
        if len(batch) < PAST_BATCH:
            return found, False
        cursor = batch[-1].citizen_id


async def count_cases(
    svc: CaseStatusService,
    identity: Identity,
    by_ward: bool,
    province_code: str | None,
    as_of: dt.datetime | None,
) -> list[Count]:
    """Counts per classification by permanent residence; a ward-scoped caller counts its own
    wards only."""
    v = Validator()
    if province_code is not None:
        v.check(
            len(province_code) == 2 and province_code.isdigit(),
            "province_code",
            "PROVINCE_INVALID",
            "must be two digits",
        )
    if as_of is not None:
        v.check(as_of <= svc.clock.now(), "as_of_time", "IN_FUTURE", "must not be in the future")
    v.raise_if_any()
    wards = None if identity.nationwide else identity.wards
    async with _transaction(svc, identity, "CountCases", [province_code or "*"]) as uow:
        if as_of is None:
            rows = await uow.cases.count_current(province_code, wards, by_ward)
            counts = [Count(p, w, Classification(c), n) for p, w, c, n in rows]
        else:
            counts = await _past_counts(svc, uow, province_code, wards, by_ward, as_of)
        await uow.audit(AuditEvent("CountCases", CASE, (), "ok"))
        await uow.commit()
    return counts


async def _past_counts(
    svc: CaseStatusService,
    uow: UnitOfWork,
    province_code: str | None,
    wards: frozenset[str] | None,
    by_ward: bool,
    as_of: dt.datetime,
) -> list[Count]:
    everyone = CaseQuery(None, WardRole.ANY, frozenset(), None)
    tally: Counter[tuple[str, str, Classification]] = Counter()
    cursor: str | None = None
    while True:
        batch = await uow.cases.candidates(
            everyone,
            as_of,
            cursor,
            PAST_BATCH,
            province_code=province_code,
            permanent_wards=wards,
        )
        statuses = await _fold(svc, uow, [c.citizen_id for c in batch], as_of)
        for candidate, status in zip(batch, statuses, strict=True):
            if status.classification is not None and candidate.province_code:
                ward = candidate.permanent_ward if by_ward else ""
                tally[(candidate.province_code, ward, status.classification)] += 1
        if len(batch) < PAST_BATCH:
            break
        cursor = batch[-1].citizen_id
    return [Count(p, w, c, n) for (p, w, c), n in sorted(tally.items())]


def page_query(query: CaseQuery, as_of: dt.datetime | None) -> tuple[Any, ...]:
    """What a ListCases page token is bound to."""
    return (
        "ListCases",
        query.ward_code,
        int(query.role),
        sorted(int(c) for c in query.classifications),
        query.care_setting,
        as_of.isoformat() if as_of else None,
    )
