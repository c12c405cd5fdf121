"""The alerts service's reading queries over many rows: summaries and tracing from scans."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from services.alerts.adapters.rows import ALERTS_JOINED
from services.alerts.adapters.tables import alert_verifications, alerts, checkpoints, scans
from services.alerts.domain.model import (
    AlertState,
    CareSetting,
    CoPresence,
    Period,
    Scan,
    Verdict,
    VerificationOutcome,
)
from services.alerts.ports import SummaryQuery, SummaryRow


async def summarize(conn: AsyncConnection, query: SummaryQuery) -> list[SummaryRow]:
    outcome = alert_verifications.c.outcome
    care = alert_verifications.c.care_setting
    confirmed = int(VerificationOutcome.CONFIRMED_ACTIVE)

    def count_where(condition: Any) -> Any:
        return func.count().filter(condition)

    keys: list[Any] = []
    if query.group_by_ward:
        keys.append(alerts.c.ward_code.label("ward_code"))
    if query.period is not None:
        unit = {Period.DAY: "day", Period.WEEK: "week", Period.MONTH: "month"}[query.period]
        local = func.timezone("Asia/Ho_Chi_Minh", alerts.c.occurred_at)
        keys.append(func.date_trunc(unit, local).label("period_start"))
    statement = select(
        *keys,
        func.count().label("alerts"),
        count_where(alerts.c.state == int(AlertState.OPEN)).label("open"),
        count_where(alerts.c.state == int(AlertState.ACKNOWLEDGED)).label("acknowledged"),
        count_where(alerts.c.state == int(AlertState.VERIFIED)).label("verified"),
        count_where(outcome == confirmed).label("confirmed_active"),
        count_where(outcome == int(VerificationOutcome.ALREADY_RECOVERED)).label(
            "already_recovered"
        ),
        count_where(outcome == int(VerificationOutcome.MISIDENTIFIED)).label("misidentified"),
        count_where(outcome == int(VerificationOutcome.OTHER)).label("other"),
        count_where(and_(outcome == confirmed, care == int(CareSetting.HOSPITAL))).label(
            "hospital"
        ),
        count_where(
            and_(outcome == confirmed, care == int(CareSetting.CENTRALISED_QUARANTINE))
        ).label("centralised_quarantine"),
        count_where(and_(outcome == confirmed, care == int(CareSetting.HOME_ISOLATION))).label(
            "home_isolation"
        ),
    ).select_from(ALERTS_JOINED)
    if query.wards is not None:
        statement = statement.where(alerts.c.ward_code.in_(sorted(query.wards)))
    if query.kind is not None:
        statement = statement.where(alerts.c.kind == int(query.kind))
    if query.ward_role is not None:
        statement = statement.where(alerts.c.ward_role == int(query.ward_role))
    if query.start is not None:
        statement = statement.where(alerts.c.occurred_at >= query.start)
    if query.end is not None:
        statement = statement.where(alerts.c.occurred_at < query.end)
    # Ungrouped, an aggregate answers one row even over no alert at all: zeros.
    if keys:
        statement = statement.group_by(*keys).order_by(*keys)
    rows = await conn.execute(statement)
    result = []
    for row in rows:
        mapping = row._mapping
        start = mapping.get("period_start")
        result.append(
            SummaryRow(
                ward_code=mapping.get("ward_code"),
                period_start=start.date() if start is not None else None,
                alerts=row.alerts,
                open=row.open,
                acknowledged=row.acknowledged,
                verified=row.verified,
                confirmed_active=row.confirmed_active,
                already_recovered=row.already_recovered,
                misidentified=row.misidentified,
                other=row.other,
                hospital=row.hospital,
                centralised_quarantine=row.centralised_quarantine,
                home_isolation=row.home_isolation,
            )
        )
    return result


async def scans_of(
    conn: AsyncConnection,
    citizen_id: str,
    start: dt.datetime,
    end: dt.datetime,
    wards: frozenset[str] | None,
    after: tuple[str, str] | None,
    size: int,
) -> list[Scan]:
    statement = select(scans).where(
        scans.c.citizen_id == citizen_id,
        scans.c.scanned_at >= start,
        scans.c.scanned_at < end,
    )
    if wards is not None:
        statement = statement.where(_at_checkpoint_in(scans.c.checkpoint_code, wards))
    if after is not None:
        statement = statement.where(
            tuple_(scans.c.scanned_at, scans.c.scan_id)
            > tuple_(literal(dt.datetime.fromisoformat(after[0])), literal(after[1]))
        )
    rows = await conn.execute(statement.order_by(scans.c.scanned_at, scans.c.scan_id).limit(size))
    return [
        Scan(
            scan_id=row.scan_id,
            checkpoint_code=row.checkpoint_code,
            citizen_id=row.citizen_id,
            scanned_at=row.scanned_at,
            recorded_at=row.recorded_at,
            verdict=Verdict(row.verdict),
        )
        for row in rows
    ]


async def co_presence(
    conn: AsyncConnection,
    citizen_id: str,
    start: dt.datetime,
    end: dt.datetime,
    window: dt.timedelta,
    wards: frozenset[str] | None,
    limit: int,
) -> list[CoPresence]:
    case_scans = scans.alias("case_scans")
    others = scans.alias("others")
    statement = (
        select(
            others.c.citizen_id,
            others.c.checkpoint_code,
            others.c.scanned_at,
            case_scans.c.scanned_at.label("case_scanned_at"),
        )
        .select_from(
            case_scans.join(
                others,
                and_(
                    others.c.checkpoint_code == case_scans.c.checkpoint_code,
                    others.c.scanned_at >= case_scans.c.scanned_at - window,
                    others.c.scanned_at <= case_scans.c.scanned_at + window,
                    others.c.citizen_id != citizen_id,
                ),
            )
        )
        .where(
            case_scans.c.citizen_id == citizen_id,
            case_scans.c.scanned_at >= start,
            case_scans.c.scanned_at < end,
        )
    )
    if wards is not None:
        statement = statement.where(_at_checkpoint_in(case_scans.c.checkpoint_code, wards))
    gap = func.abs(
        func.extract("epoch", others.c.scanned_at) - func.extract("epoch", case_scans.c.scanned_at)
    )
    rows = await conn.execute(
        statement.order_by(case_scans.c.scanned_at, gap, others.c.citizen_id).limit(limit)
    )
    return [
        CoPresence(row.citizen_id, row.checkpoint_code, row.scanned_at, row.case_scanned_at)
        for row in rows
    ]


def _at_checkpoint_in(code: Any, wards: frozenset[str]) -> Any:
    """The scan was made at a checkpoint standing in one of ``wards``."""
    return code.in_(select(checkpoints.c.code).where(checkpoints.c.ward_code.in_(sorted(wards))))
