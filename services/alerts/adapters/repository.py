"""Every query of the alerts use cases (SQLAlchemy Core on the unit of work's connection).

The feeds' lock: the watchlist's change sequence and the alerts' cursors are taken only by
transactions holding one transaction-scoped advisory lock, so numbers are committed in the
order they were taken, and a reader that saw number n will never later find a smaller one
appear. Scans that PASS take no lock: only a WARN's alerts need it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, and_, func, literal, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.alerts.adapters.tables import (
    alert_verifications,
    alerts,
    alerts_cursor_seq,
    checkpoints,
    review_items,
    scans,
    status_changes,
    watchlist,
    watchlist_change_seq,
)
from services.alerts.domain.model import (
    Actor,
    Alert,
    AlertKind,
    AlertState,
    AlertWard,
    CareSetting,
    Checkpoint,
    Classification,
    CoPresence,
    NewAlert,
    Outcome,
    Period,
    ReviewItem,
    Scan,
    StatusChange,
    Verdict,
    Verification,
    VerificationOutcome,
    WardRole,
    WatchEntry,
)
from services.alerts.ports import AlertQuery, SummaryQuery, SummaryRow

# Any fixed number: the key of the one advisory lock this database uses.
FEED_LOCK = 7_001_001
FEED_LOCK_SQL = f"SELECT pg_advisory_xact_lock({FEED_LOCK})"


def _enum(kind: Any, value: int | None) -> Any:
    return None if value is None else kind(value)


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


def checkpoint_from_row(row: Row[Any]) -> Checkpoint:
    return Checkpoint(
        code=row.code,
        name=row.name,
        ward_code=row.ward_code,
        operating_agency=row.operating_agency,
        reveal_level=row.reveal_level,
        created_at=row.created_at,
    )


def wards_to_json(wards: Iterable[AlertWard]) -> list[dict[str, Any]]:
    return [{"ward_code": w.ward_code, "role": int(w.role)} for w in wards]


def wards_from_json(value: Sequence[dict[str, Any]]) -> tuple[AlertWard, ...]:
    return tuple(AlertWard(str(w["ward_code"]), WardRole(int(w["role"]))) for w in value)


def watch_entry_from_row(row: Row[Any]) -> WatchEntry:
    return WatchEntry(
        citizen_id=row.citizen_id,
        level=_enum(Classification, row.level),
        event_id=row.event_id,
        effective_at=row.effective_at,
        wards=wards_from_json(row.wards),
        change_seq=int(row.change_seq),
    )


_ALERT_COLUMNS = (
    *alerts.c,
    alert_verifications.c.outcome.label("v_outcome"),
    alert_verifications.c.care_setting.label("v_care_setting"),
    alert_verifications.c.note.label("v_note"),
    alert_verifications.c.verified_by_subject.label("v_subject"),
    alert_verifications.c.verified_by_agency.label("v_agency"),
    alert_verifications.c.verified_at.label("v_at"),
)
_ALERTS_JOINED = alerts.outerjoin(
    alert_verifications, alert_verifications.c.alert_id == alerts.c.alert_id
)


def alert_from_row(row: Row[Any]) -> Alert:
    verification = None
    if row.v_outcome is not None:
        verification = Verification(
            outcome=VerificationOutcome(row.v_outcome),
            care_setting=_enum(CareSetting, row.v_care_setting),
            note=row.v_note,
            verified_by=Actor(row.v_subject, row.v_agency),
            verified_at=row.v_at,
        )
    return Alert(
        alert_id=row.alert_id,
        cursor=int(row.cursor),
        ward_code=row.ward_code,
        ward_role=WardRole(row.ward_role),
        kind=AlertKind(row.kind),
        citizen_id=row.citizen_id,
        classification=_enum(Classification, row.classification),
        outcome=_enum(Outcome, row.outcome),
        event_id=row.event_id,
        checkpoint_code=row.checkpoint_code,
        scan_id=row.scan_id,
        occurred_at=row.occurred_at,
        created_at=row.created_at,
        state=AlertState(row.state),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        verification=verification,
    )


def _review_item(row: Row[Any]) -> ReviewItem:
    return ReviewItem(
        review_item_id=row.review_item_id,
        alert_id=row.alert_id,
        ward_code=row.ward_code,
        citizen_id=row.citizen_id,
        reason=row.reason,
        case_classification=_enum(Classification, row.case_classification),
        case_outcome=_enum(Outcome, row.case_outcome),
        created_at=row.created_at,
    )


class SqlAlertRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock_feeds(self) -> None:
        await self._conn.execute(text(FEED_LOCK_SQL))

    async def add_checkpoint(self, checkpoint: Checkpoint, created_by_agency: str) -> bool:
        inserted = await self._conn.execute(
            insert(checkpoints)
            .values(
                code=checkpoint.code,
                name=checkpoint.name,
                ward_code=checkpoint.ward_code,
                operating_agency=checkpoint.operating_agency,
                reveal_level=checkpoint.reveal_level,
                created_by_agency=created_by_agency,
            )
            .on_conflict_do_nothing()
            .returning(checkpoints.c.code)
        )
        return inserted.first() is not None

    async def checkpoint(self, code: str) -> Checkpoint | None:
        row = (
            await self._conn.execute(select(checkpoints).where(checkpoints.c.code == code))
        ).first()
        return checkpoint_from_row(row) if row is not None else None

    async def claim_status_change(self, change: StatusChange) -> bool:
        inserted = await self._conn.execute(
            insert(status_changes)
            .values(
                event_id=change.event_id,
                citizen_id=change.citizen_id,
                classification=_number(change.classification),
                level_origin=_number(change.level_origin),
                outcome=_number(change.outcome),
                effective_at=change.effective_at,
                isolation_end=change.isolation_end,
                corrects_event_id=change.corrects_event_id,
                care_ward_code=change.care_ward_code,
            )
            .on_conflict_do_nothing()
            .returning(status_changes.c.event_id)
        )
        return inserted.first() is not None

    async def watch_entry(self, citizen_id: str) -> WatchEntry | None:
        row = (
            await self._conn.execute(
                select(watchlist).where(watchlist.c.citizen_id == citizen_id).with_for_update()
            )
        ).first()
        return watch_entry_from_row(row) if row is not None else None

    async def save_watch_entry(self, entry: WatchEntry) -> None:
        values = {
            "level": _number(entry.level),
            "event_id": entry.event_id,
            "effective_at": entry.effective_at,
            "wards": wards_to_json(entry.wards),
            "change_seq": watchlist_change_seq.next_value(),
            "updated_at": func.now(),
        }
        statement = insert(watchlist).values(citizen_id=entry.citizen_id, **values)
        await self._conn.execute(
            statement.on_conflict_do_update(index_elements=[watchlist.c.citizen_id], set_=values)
        )

    async def add_alerts(self, new: Sequence[NewAlert]) -> None:
        if not new:
            return
        await self._conn.execute(
            insert(alerts)
            .values(
                [
                    {
                        "alert_id": a.alert_id,
                        "cursor": alerts_cursor_seq.next_value(),
                        "source_id": a.source_id,
                        "ward_code": a.ward.ward_code,
                        "ward_role": int(a.ward.role),
                        "kind": int(a.kind),
                        "citizen_id": a.citizen_id,
                        "classification": _number(a.classification),
                        "outcome": _number(a.outcome),
                        "event_id": a.event_id,
                        "checkpoint_code": a.checkpoint_code,
                        "scan_id": a.scan_id,
                        "occurred_at": a.occurred_at,
                        "state": int(AlertState.OPEN),
                    }
                    for a in new
                ]
            )
            .on_conflict_do_nothing(constraint="alerts_once_per_ward")
        )

    async def alerts_of_source(self, source_id: str) -> list[Alert]:
        rows = await self._conn.execute(
            select(*_ALERT_COLUMNS)
            .select_from(_ALERTS_JOINED)
            .where(alerts.c.source_id == source_id)
            .order_by(alerts.c.cursor)
        )
        return [alert_from_row(row) for row in rows]

    async def alert(self, alert_id: str, *, for_update: bool = False) -> Alert | None:
        query = select(*_ALERT_COLUMNS).select_from(_ALERTS_JOINED)
        query = query.where(alerts.c.alert_id == alert_id)
        if for_update:
            query = query.with_for_update(of=alerts)
        row = (await self._conn.execute(query)).first()
        return alert_from_row(row) if row is not None else None

    async def set_acknowledged(self, alert_id: str, by: str, at: dt.datetime) -> None:
        await self._conn.execute(
            alerts.update()
            .where(alerts.c.alert_id == alert_id)
            .values(state=int(AlertState.ACKNOWLEDGED), acknowledged_by=by, acknowledged_at=at)
        )

    async def add_verification(self, alert_id: str, verification: Verification) -> None:
        await self._conn.execute(
            alert_verifications.insert().values(
                alert_id=alert_id,
                outcome=int(verification.outcome),
                care_setting=_number(verification.care_setting),
                note=verification.note,
                verified_by_subject=verification.verified_by.subject,
                verified_by_agency=verification.verified_by.agency,
                verified_at=verification.verified_at,
            )
        )
        await self._conn.execute(
            alerts.update()
            .where(alerts.c.alert_id == alert_id)
            .values(state=int(AlertState.VERIFIED))
        )

    async def add_review_item(self, item: ReviewItem) -> None:
        await self._conn.execute(
            review_items.insert().values(
                review_item_id=item.review_item_id,
                alert_id=item.alert_id,
                ward_code=item.ward_code,
                citizen_id=item.citizen_id,
                reason=item.reason,
                case_classification=_number(item.case_classification),
                case_outcome=_number(item.case_outcome),
            )
        )

    async def list_alerts(
        self, query: AlertQuery, before_cursor: int | None, size: int
    ) -> list[Alert]:
        statement = (
            select(*_ALERT_COLUMNS)
            .select_from(_ALERTS_JOINED)
            .where(alerts.c.ward_code == query.ward_code)
        )
        if query.state is not None:
            statement = statement.where(alerts.c.state == int(query.state))
        if query.kind is not None:
            statement = statement.where(alerts.c.kind == int(query.kind))
        if query.start is not None:
            statement = statement.where(alerts.c.created_at >= query.start)
        if query.end is not None:
            statement = statement.where(alerts.c.created_at < query.end)
        if before_cursor is not None:
            statement = statement.where(alerts.c.cursor < before_cursor)
        rows = await self._conn.execute(statement.order_by(alerts.c.cursor.desc()).limit(size))
        return [alert_from_row(row) for row in rows]

    async def alerts_after(self, ward_code: str, cursor: int, limit: int) -> list[Alert]:
        rows = await self._conn.execute(
            select(*_ALERT_COLUMNS)
            .select_from(_ALERTS_JOINED)
            .where(alerts.c.ward_code == ward_code, alerts.c.cursor > cursor)
            .order_by(alerts.c.cursor)
            .limit(limit)
        )
        return [alert_from_row(row) for row in rows]

    async def review_items(
        self, wards: frozenset[str] | None, after: tuple[str, str] | None, size: int
    ) -> list[ReviewItem]:
        statement = select(review_items)
        if wards is not None:
            statement = statement.where(review_items.c.ward_code.in_(sorted(wards)))
        if after is not None:
            statement = statement.where(
                tuple_(review_items.c.created_at, review_items.c.review_item_id)
                > tuple_(literal(dt.datetime.fromisoformat(after[0])), literal(after[1]))
            )
        rows = await self._conn.execute(
            statement.order_by(review_items.c.created_at, review_items.c.review_item_id).limit(size)
        )
        return [_review_item(row) for row in rows]

    async def summarize(self, query: SummaryQuery) -> list[SummaryRow]:
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
        ).select_from(_ALERTS_JOINED)
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
        if keys:
            statement = statement.group_by(*keys).order_by(*keys)
        rows = await self._conn.execute(statement)
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
        # No alert at all still answers one row of zeros when nothing is grouped.
        return result

    async def scans_of(
        self,
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
        rows = await self._conn.execute(
            statement.order_by(scans.c.scanned_at, scans.c.scan_id).limit(size)
        )
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
        self,
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
            func.extract("epoch", others.c.scanned_at)
            - func.extract("epoch", case_scans.c.scanned_at)
        )
        rows = await self._conn.execute(
            statement.order_by(case_scans.c.scanned_at, gap, others.c.citizen_id).limit(limit)
        )
        return [
            CoPresence(row.citizen_id, row.checkpoint_code, row.scanned_at, row.case_scanned_at)
            for row in rows
        ]


def _at_checkpoint_in(code: Any, wards: frozenset[str]) -> Any:
    return code.in_(select(checkpoints.c.code).where(checkpoints.c.ward_code.in_(sorted(wards))))


class SqlWatchlistSource:
    """The watchlist's changes, read on a connection of their own (not a use case's)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def changes_after(self, change_seq: int, limit: int) -> list[WatchEntry]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(watchlist)
                .where(watchlist.c.change_seq > change_seq)
                .order_by(watchlist.c.change_seq)
                .limit(limit)
            )
            return [watch_entry_from_row(row) for row in rows]


class CachedCheckpoints:
    """Checkpoints by code, kept in memory once read: a checkpoint never changes after it is
    registered, so a scan reads the database only for a code this process has not seen."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._known: dict[str, Checkpoint] = {}

    async def get(self, code: str) -> Checkpoint | None:
        known = self._known.get(code)
        if known is not None:
            return known
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(checkpoints).where(checkpoints.c.code == code))
            ).first()
        if row is None:
            return None
        checkpoint = checkpoint_from_row(row)
        self._known[code] = checkpoint
        return checkpoint
