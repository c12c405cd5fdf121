"""The queries behind ListCases and CountCases, and the two tables they read
(``current_status``, ``resident_wards``), written with every event.

Every path is an index lookup: current statuses by classification or care ward, snapshots by
permanent / temporary ward or province, past events by resident (``status_events_citizen``)
or care ward (``status_events_care_ward``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, literal, or_, select, true, union
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.case_status.adapters.tables import current_status, resident_wards, status_events
from services.case_status.domain.model import CaseStatus, Classification, vietnam_date
from services.case_status.ports import Candidate, CaseQuery, ResidentFacts, WardRole
from services.kit.db import array_parameter, unnested

e = status_events.c
cs = current_status.c
rw = resident_wards.c

# ListCases without a classification: every level but CLEARED.
OPEN_LEVELS = tuple(int(c) for c in Classification if c is not Classification.CLEARED)


def _levels(query: CaseQuery) -> tuple[int, ...]:
    return tuple(int(c) for c in query.classifications) or OPEN_LEVELS


def _temporary_in(ward: str, on_day: dt.date) -> ColumnElement[bool]:
    """An active temporary residence in ``ward`` on ``on_day`` (per the snapshot)."""
    return and_(
        rw.temporary_ward_code == ward,
        or_(rw.temporary_valid_from.is_(None), rw.temporary_valid_from <= on_day),
        or_(rw.temporary_valid_to.is_(None), rw.temporary_valid_to >= on_day),
    )


def _lives_in(query: CaseQuery, on_day: dt.date) -> ColumnElement[bool] | None:
    """The residence part of the ward filter, on resident_wards (None: no residence part)."""
    ward = query.ward_code
    if ward is None or query.role is WardRole.CARE_PLACE:
        return None
    if query.role is WardRole.PERMANENT:
        return rw.permanent_ward_code == ward
    if query.role is WardRole.TEMPORARY:
        return _temporary_in(ward, on_day)
    return or_(rw.permanent_ward_code == ward, _temporary_in(ward, on_day))


class CaseListingQueries:
    """Part of the case repository (its connection, its transaction)."""

    _conn: AsyncConnection

    async def _upsert(self, table: Table, rows: Sequence[dict[str, Any]], stamp: str) -> None:
        """Inserts or overwrites rows by citizen id, in one statement however many (one array
        parameter per column), in id order so that concurrent upserts cannot deadlock."""
        names = list(rows[0])
        stmt = insert(table).from_select(names, unnested(table, rows))
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.citizen_id],
                set_={
                    **{n: stmt.excluded[n] for n in names if n != "citizen_id"},
                    stamp: func.now(),
                },
            )
        )

    async def living_in(
        self, citizen_ids: Sequence[str], wards: Iterable[str], on_day: dt.date
    ) -> set[str]:
        """Those of ``citizen_ids`` whose residence snapshot puts them in one of ``wards`` on
        ``on_day`` (permanent, or active temporary residence)."""
        ids, ward_codes = sorted(set(citizen_ids)), sorted(set(wards))
        if not ids or not ward_codes:
            return set()
        within = array_parameter(ward_codes)
        active_temporary = and_(
            rw.temporary_ward_code == func.any(within),
            or_(rw.temporary_valid_from.is_(None), rw.temporary_valid_from <= on_day),
            or_(rw.temporary_valid_to.is_(None), rw.temporary_valid_to >= on_day),
        )
        rows = await self._conn.execute(
            select(rw.citizen_id).where(
                rw.citizen_id == func.any(array_parameter(ids)),
                or_(rw.permanent_ward_code == func.any(within), active_temporary),
            )
        )
        return {row.citizen_id for row in rows}

    async def holds(self, citizen_id: str) -> bool:
        held = union(
            select(cs.citizen_id).where(cs.citizen_id == citizen_id),
            select(rw.citizen_id).where(rw.citizen_id == citizen_id),
        )
        return (await self._conn.execute(select(held.exists()))).scalar_one()

    async def save_residences(self, residents: Sequence[ResidentFacts]) -> None:
        rows = {
            r.citizen_id: {
                "citizen_id": r.citizen_id,
                "permanent_ward_code": r.permanent_ward,
                "province_code": r.province_code,
                "temporary_ward_code": r.temporary_ward,
                "temporary_valid_from": r.temporary_from,
                "temporary_valid_to": r.temporary_to,
            }
            for r in residents
            if r.permanent_ward and r.province_code
        }
        if not rows:
            return
        await self._upsert(resident_wards, [rows[cid] for cid in sorted(rows)], "refreshed_at")

    async def save_current(self, statuses: Sequence[CaseStatus]) -> None:
        rows = {
            s.citizen_id: {
                "citizen_id": s.citizen_id,
                "classification": s.classification,
                "origin": s.origin,
                "outcome": s.outcome,
                "care_setting": s.care.setting if s.care else None,
                "care_ward_code": (s.care.ward_code or None) if s.care else None,
                "isolation_end": s.isolation_end,
                "classified_at": s.classified_at,
            }
            for s in statuses
        }
        if not rows:
            return
        await self._upsert(current_status, [rows[cid] for cid in sorted(rows)], "updated_at")

    async def current_levels(self, citizen_ids: Sequence[str]) -> Mapping[str, Classification]:
        ids = sorted(set(citizen_ids))
        if not ids:
            return {}
        rows = await self._conn.execute(
            select(cs.citizen_id, cs.classification).where(
                cs.citizen_id == func.any(array_parameter(ids)), cs.classification.is_not(None)
            )
        )
        return {row.citizen_id: Classification(row.classification) for row in rows}

    async def current_page(
        self, query: CaseQuery, on_day: dt.date, after: str | None, limit: int
    ) -> Sequence[str]:
        lives_in = _lives_in(query, on_day)
        scope = []
        if lives_in is not None:
            scope.append(select(rw.citizen_id).where(lives_in))
        if query.ward_code is not None and query.role in (WardRole.ANY, WardRole.CARE_PLACE):
            scope.append(select(cs.citizen_id).where(cs.care_ward_code == query.ward_code))
        if not scope:
            # Every ward: the statuses in id order.
            stmt = select(cs.citizen_id).where(cs.classification.in_(_levels(query)))
            if query.care_setting is not None:
                stmt = stmt.where(cs.care_setting == int(query.care_setting))
            if after is not None:
                stmt = stmt.where(cs.citizen_id > after)
            rows = await self._conn.execute(stmt.order_by(cs.citizen_id).limit(limit))
            return [row.citizen_id for row in rows]
        # The ward's residents (index lookups, a ward's worth at most), each joined to its
        # status by primary key. OFFSET 0 keeps the planner from walking every status in id
        # order instead (it underestimates how far it would have to go).
        ward_ids = (union(*scope) if len(scope) > 1 else scope[0]).subquery("ward_ids")
        status = (
            select(cs.classification, cs.care_setting)
            .where(cs.citizen_id == ward_ids.c.citizen_id)
            .offset(0)
            .lateral("status")
        )
        stmt = (
            select(ward_ids.c.citizen_id)
            .select_from(ward_ids.join(status, true()))
            .where(status.c.classification.in_(_levels(query)))
        )
        if query.care_setting is not None:
            stmt = stmt.where(status.c.care_setting == int(query.care_setting))
        if after is not None:
            stmt = stmt.where(ward_ids.c.citizen_id > after)
        rows = await self._conn.execute(stmt.order_by(ward_ids.c.citizen_id).limit(limit))
        return [row.citizen_id for row in rows]

    async def candidates(
        self,
        query: CaseQuery,
        as_of: dt.datetime,
        after: str | None,
        limit: int,
        *,
        province_code: str | None = None,
        permanent_wards: frozenset[str] | None = None,
    ) -> Sequence[Candidate]:
        on_day = vietnam_date(as_of)
        lives_in = _lives_in(query, on_day)
        residence = []
        if lives_in is not None:
            residence.append(lives_in)
        if province_code is not None:
            residence.append(rw.province_code == province_code)
        if permanent_wards is not None:
            residence.append(rw.permanent_ward_code.in_(sorted(permanent_wards)))
        scope = []
        if residence:
            scope.append(select(rw.citizen_id).where(*residence))
        if query.ward_code is not None and query.role in (WardRole.ANY, WardRole.CARE_PLACE):
            scope.append(select(e.citizen_id).where(e.care_ward_code == query.ward_code))
        ids = select(e.citizen_id).where(e.effective_at <= as_of)
        if scope:
            ward_ids = (union(*scope) if len(scope) > 1 else scope[0]).subquery()
            ids = ids.select_from(
                ward_ids.join(status_events, e.citizen_id == ward_ids.c.citizen_id)
            )
        if after is not None:
            ids = ids.where(e.citizen_id > after)
        page = ids.group_by(e.citizen_id).order_by(e.citizen_id).limit(limit).subquery()
        flag = lives_in if lives_in is not None else literal(False)
        rows = await self._conn.execute(
            select(
                page.c.citizen_id,
                func.coalesce(flag, False).label("by_residence"),
                rw.province_code,
                rw.permanent_ward_code,
            )
            .select_from(page.outerjoin(resident_wards, rw.citizen_id == page.c.citizen_id))
            .order_by(page.c.citizen_id)
        )
        return [
            Candidate(
                row.citizen_id,
                bool(row.by_residence),
                row.province_code or "",
                row.permanent_ward_code or "",
            )
            for row in rows
        ]

    async def count_current(
        self, province_code: str | None, wards: frozenset[str] | None, by_ward: bool
    ) -> Sequence[tuple[str, str, int, int]]:
        ward = rw.permanent_ward_code if by_ward else literal("")
        stmt = (
            select(rw.province_code, ward.label("ward"), cs.classification, func.count())
            .select_from(current_status.join(resident_wards, rw.citizen_id == cs.citizen_id))
            .where(cs.classification.is_not(None))
        )
        if province_code is not None:
            stmt = stmt.where(rw.province_code == province_code)
        if wards is not None:
            stmt = stmt.where(rw.permanent_ward_code.in_(sorted(wards)))
        stmt = stmt.group_by(rw.province_code, ward, cs.classification).order_by(
            rw.province_code, ward, cs.classification
        )
        rows = await self._conn.execute(stmt)
        return [(r[0], r[1], r[2], r[3]) for r in rows]
