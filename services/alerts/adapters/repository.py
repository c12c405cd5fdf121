"""The queries of the alerts use cases (SQLAlchemy Core on the unit of work's connection); the
summaries and scan tracing are in listing_queries.py, the scans' batch in scan_recorder.py.

The feeds' lock: the watchlist's change sequence and the alerts' cursors are taken only by
transactions holding one transaction-scoped advisory lock, so numbers are committed in the
order they were taken, and a reader that saw number n will never later find a smaller one
appear. Scans that PASS take no lock: only a WARN's alerts need it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, literal, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.alerts.adapters import listing_queries
from services.alerts.adapters.rows import (
    ALERT_COLUMNS,
    ALERTS_JOINED,
    alert_from_row,
    checkpoint_from_row,
    number_of,
    review_item_from_row,
    wards_to_json,
    watch_entry_from_row,
)
from services.alerts.adapters.tables import (
    alert_verifications,
    alerts,
    alerts_cursor_seq,
    checkpoints,
    review_items,
    status_changes,
    watchlist,
    watchlist_change_seq,
)
from services.alerts.domain.model import (
    Alert,
    AlertState,
    Checkpoint,
    CoPresence,
    NewAlert,
    ReviewItem,
    Scan,
    StatusChange,
    Verification,
    WatchEntry,
)
from services.alerts.ports import AlertQuery, SummaryQuery, SummaryRow

# Any fixed number: the key of the one advisory lock this database uses.
FEED_LOCK = 7_001_001
FEED_LOCK_SQL = f"SELECT pg_advisory_xact_lock({FEED_LOCK})"


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
                classification=number_of(change.classification),
                level_origin=number_of(change.level_origin),
                outcome=number_of(change.outcome),
                effective_at=change.effective_at,
                isolation_end=change.isolation_end,
                corrects_event_id=change.corrects_event_id,
                care_ward_code=change.care_ward_code,
            )
            .on_conflict_do_nothing()
            .returning(status_changes.c.event_id)
        )
        return inserted.first() is not None

    async def care_ward_of(self, event_id: str) -> str | None:
        """The place of care the applied status event named (None: none, or not applied)."""
        return (
            await self._conn.execute(
                select(status_changes.c.care_ward_code).where(status_changes.c.event_id == event_id)
            )
        ).scalar_one_or_none()

    async def watch_entry(self, citizen_id: str) -> WatchEntry | None:
        row = (
            await self._conn.execute(
                select(watchlist).where(watchlist.c.citizen_id == citizen_id).with_for_update()
            )
        ).first()
        return watch_entry_from_row(row) if row is not None else None

    async def save_watch_entry(self, entry: WatchEntry) -> None:
        values = {
            "level": number_of(entry.level),
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
                        "classification": number_of(a.classification),
                        "outcome": number_of(a.outcome),
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
            select(*ALERT_COLUMNS)
            .select_from(ALERTS_JOINED)
            .where(alerts.c.source_id == source_id)
            .order_by(alerts.c.cursor)
        )
        return [alert_from_row(row) for row in rows]

    async def alert(self, alert_id: str, *, for_update: bool = False) -> Alert | None:
        query = select(*ALERT_COLUMNS).select_from(ALERTS_JOINED)
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
                care_setting=number_of(verification.care_setting),
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
                case_classification=number_of(item.case_classification),
                case_outcome=number_of(item.case_outcome),
            )
        )

    async def list_alerts(
        self, query: AlertQuery, before_cursor: int | None, size: int
    ) -> list[Alert]:
        statement = (
            select(*ALERT_COLUMNS)
            .select_from(ALERTS_JOINED)
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
            select(*ALERT_COLUMNS)
            .select_from(ALERTS_JOINED)
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
        return [review_item_from_row(row) for row in rows]

    async def summarize(self, query: SummaryQuery) -> list[SummaryRow]:
        return await listing_queries.summarize(self._conn, query)

    async def scans_of(
        self,
        citizen_id: str,
        start: dt.datetime,
        end: dt.datetime,
        wards: frozenset[str] | None,
        after: tuple[str, str] | None,
        size: int,
    ) -> list[Scan]:
        return await listing_queries.scans_of(
            self._conn, citizen_id, start, end, wards, after, size
        )

    async def co_presence(
        self,
        citizen_id: str,
        start: dt.datetime,
        end: dt.datetime,
        window: dt.timedelta,
        wards: frozenset[str] | None,
        limit: int,
    ) -> list[CoPresence]:
        return await listing_queries.co_presence(
            self._conn, citizen_id, start, end, window, wards, limit
        )


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
