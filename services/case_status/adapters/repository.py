"""Every query of the case-status database lives here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.case_status.adapters.listing_queries import CaseListingQueries
from services.case_status.adapters.tables import (
    case_residents,
    exposure_links,
    import_chunks,
    import_rows,
    imports,
    status_events,
    zones,
)
from services.case_status.domain.imports import (
    ChunkCounts,
    ImportRecord,
    ImportState,
    ImportSummary,
    RowCandidate,
    RowOutcome,
    RowResult,
    RowTally,
    StagedChunk,
    Staging,
    StoredRow,
    SubmittedRow,
    care_of,
)
from services.case_status.domain.model import (
    Actor,
    Care,
    CareSetting,
    Classification,
    ContactSetting,
    ExposureLink,
    HealthCondition,
    LevelOrigin,
    Outcome,
    Source,
    StatusEvent,
)
from services.case_status.domain.tracing import DerivedLevel
from services.case_status.domain.zones import Zone
from services.kit.db import array_parameter, copy_rows, unnested

e = status_events.c
im = imports.c
ir = import_rows.c
ic = import_chunks.c
_CHUNK_COUNTS = ("applied", "unchanged", "needs_review", "rejected")
_SUMMARY_COUNTS = (
    "rows",
    "applied",
    "unchanged",
    "needs_review",
    "rejected",
    "new_residents",
    "changed_residents",
    "dropped_residents",
)
x = exposure_links.c
z = zones.c


def _optional(kind: Any, value: int | None) -> Any:
    return None if value is None else kind(value)


def event_from_row(row: Any) -> StatusEvent:
    care = None
    if row.care_setting is not None:
        care = Care(
            CareSetting(row.care_setting), row.care_ward_code or "", row.care_facility or ""
        )
    return StatusEvent(
        event_id=row.event_id,
        citizen_id=row.citizen_id,
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        source=Source(row.source_agency, row.source_list_id, row.source_report_ref),
        recorded_by=Actor(row.recorded_by_subject, row.recorded_by_agency),
        classification=_optional(Classification, row.classification),
        outcome=_optional(Outcome, row.outcome),
        care=care,
        condition=_optional(HealthCondition, row.condition),
        reason=row.reason,
        corrects_event_id=row.corrects_event_id,
        origin=LevelOrigin(row.origin),
    )


def _zone_from_row(row: Any) -> Zone:
    return Zone(
        zone_id=row.zone_id,
        name=row.name,
        ward_codes=tuple(row.ward_codes),
        start_at=row.start_at,
        end_at=row.end_at,
        reason=row.reason,
        end_reason=row.end_reason,
    )


def _link_from_row(row: Any) -> ExposureLink:
    return ExposureLink(
        contact_id=row.contact_id,
        source_id=row.source_id,
        contact_date=row.contact_date,
        setting=ContactSetting(row.setting),
        recorded_by=Actor(row.recorded_by_subject, row.recorded_by_agency),
        note=row.note,
    )


class SqlCaseRepository(CaseListingQueries):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock_residents(self, citizen_ids: Iterable[str]) -> None:
        ids = sorted(set(citizen_ids))
        if not ids:
            return
        # One array parameter each, however many residents a large import locks (an IN or
        # VALUES list would pass PostgreSQL's 65,535-parameter limit).
        wanted = array_parameter(ids)
        await self._conn.execute(
            insert(case_residents)
            .from_select(["citizen_id"], select(func.unnest(wanted)))
            .on_conflict_do_nothing()
        )
        # One statement, locked in id order: two transactions locking overlapping sets
        # cannot deadlock.
        await self._conn.execute(
            select(case_residents.c.citizen_id)
            .where(case_residents.c.citizen_id == func.any(wanted))
            .order_by(case_residents.c.citizen_id)
            .with_for_update()
        )

    async def events(self, citizen_id: str) -> Sequence[StatusEvent]:
        return (await self.events_of([citizen_id])).get(citizen_id, ())

    async def events_of(self, citizen_ids: Iterable[str]) -> Mapping[str, Sequence[StatusEvent]]:
        ids = sorted(set(citizen_ids))
        found: defaultdict[str, list[StatusEvent]] = defaultdict(list)
        if not ids:
            return found
        rows = await self._conn.execute(
            select(status_events)
            .where(e.citizen_id == func.any(array_parameter(ids)))
            .order_by(e.recorded_at, e.event_id)
        )
        for row in rows:
            found[row.citizen_id].append(event_from_row(row))
        return found

    async def add_events(self, events: Sequence[tuple[StatusEvent, DerivedLevel | None]]) -> None:
        """Appends events (each with the derivation of a DERIVED level, else None) with one
        COPY: a daily list appends tens of thousands at once."""
        await copy_rows(self._conn, status_events, [_event_values(*written) for written in events])

    async def derivations(self, event_ids: Iterable[str]) -> Mapping[str, tuple[str, int]]:
        ids = list(set(event_ids))
        if not ids:
            return {}
        rows = await self._conn.execute(
            select(e.event_id, e.derived_from, e.derived_distance).where(
                e.event_id == func.any(array_parameter(ids, UUID(as_uuid=False))),
                e.derived_from.is_not(None),
            )
        )
        return {row.event_id: (row.derived_from, row.derived_distance) for row in rows}

    async def add_links(self, links: Sequence[ExposureLink]) -> int:
        unique = {link.key: link for link in links}
        if not unique:
            return 0
        rows = [
            {
                "low_id": low,
                "high_id": high,
                "contact_date": day,
                "contact_id": link.contact_id,
                "source_id": link.source_id,
                "setting": int(link.setting),
                "note": link.note,
                "recorded_by_subject": link.recorded_by.subject,
                "recorded_by_agency": link.recorded_by.agency,
            }
            for (low, high, day), link in unique.items()
        ]
        # One statement however many (one array parameter per column).
        stmt = (
            insert(exposure_links)
            .from_select(list(rows[0]), unnested(exposure_links, rows))
            .on_conflict_do_nothing()
            .returning(x.low_id)
        )
        return len((await self._conn.execute(stmt)).all())

    async def links_around(self, citizen_ids: Iterable[str], hops: int) -> Sequence[ExposureLink]:
        # Breadth-first, one query per hop: the neighbourhoods tracing needs are small
        # (households, workplaces), and each hop is an index lookup on either end.
        seen = set(citizen_ids)
        frontier = set(seen)
        found: dict[tuple[Any, ...], ExposureLink] = {}
        for _ in range(hops):
            if not frontier:
                break
            # One array parameter, however many residents a large import touches (an IN list
            # would pass PostgreSQL's 65,535-parameter limit).
            ids = array_parameter(sorted(frontier))
            rows = await self._conn.execute(
                select(exposure_links).where(
                    or_(x.low_id == func.any(ids), x.high_id == func.any(ids))
                )
            )
            frontier = set()
            for row in rows:
                link = _link_from_row(row)
                found[link.key] = link
                for cid in (row.low_id, row.high_id):
                    if cid not in seen:
                        seen.add(cid)
                        frontier.add(cid)
        return [found[key] for key in sorted(found)]

    async def add_zone(self, zone: Zone, declared_by: Actor) -> None:
        await self._conn.execute(
            zones.insert().values(
                zone_id=zone.zone_id,
                name=zone.name,
                ward_codes=list(zone.ward_codes),
                start_at=zone.start_at,
                end_at=zone.end_at,
                reason=zone.reason,
                end_reason=zone.end_reason,
                declared_by_subject=declared_by.subject,
                declared_by_agency=declared_by.agency,
            )
        )

    async def zone(self, zone_id: str, *, for_update: bool = False) -> Zone | None:
        query = select(zones).where(z.zone_id == zone_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _zone_from_row(row)

    async def save_zone_end(self, zone: Zone) -> None:
        await self._conn.execute(
            zones.update()
            .where(z.zone_id == zone.zone_id)
            .values(end_at=zone.end_at, end_reason=zone.end_reason)
        )

    async def add_import(self, record: ImportRecord, rows: Sequence[StoredRow]) -> None:
        summary = record.summary
        await self._conn.execute(
            imports.insert().values(
                import_id=record.import_id,
                agency=record.agency,
                request_id=record.request_id,
                list_id=record.list_id,
                list_date=record.list_date,
                ward_code=record.ward_code,
                created_at=record.created_at,
                **{name: getattr(summary, name) for name in _SUMMARY_COUNTS},
                state=int(record.state),
                chunks=record.chunks,
                staged_by_subject=record.staged_by,
                staged_wards=list(record.staged_wards),
            )
        )
        await self.add_import_rows(record.import_id, rows)

    async def add_import_rows(self, import_id: str, rows: Sequence[StoredRow]) -> None:
        values = [_row_values(import_id, stored) for stored in rows]
        # COPY takes JSON wrapped (an INSERT through SQLAlchemy knows the column's type).
        await copy_rows(
            self._conn, import_rows, [{**v, "candidates": Jsonb(v["candidates"])} for v in values]
        )

    async def import_record(self, import_id: str) -> ImportRecord | None:
        row = (await self._conn.execute(select(imports).where(im.import_id == import_id))).first()
        return None if row is None else _import_record(row)

    async def import_record_for_update(self, import_id: str) -> ImportRecord | None:
        row = (
            await self._conn.execute(
                select(imports).where(im.import_id == import_id).with_for_update()
            )
        ).first()
        return None if row is None else _import_record(row)

    async def add_chunk(
        self, import_id: str, chunk: StagedChunk, rows: Sequence[SubmittedRow]
    ) -> None:
        await self._conn.execute(
            import_chunks.insert().values(
                import_id=import_id,
                chunk_number=chunk.chunk_number,
                row_numbers=list(chunk.row_numbers),
                rows=[_submitted_json(row) for row in rows],
                fingerprint=chunk.fingerprint,
            )
        )

    async def staging(self, import_id: str) -> Staging:
        rows = await self._conn.execute(
            select(
                ic.chunk_number,
                ic.row_numbers,
                ic.fingerprint,
                ic.applied_at,
                *(ic[name] for name in _CHUNK_COUNTS),
            )
            .where(ic.import_id == import_id)
            .order_by(ic.chunk_number)
        )
        return Staging(tuple(_staged_chunk(r) for r in rows))

    async def chunk_rows_for_update(
        self, import_id: str, chunk_number: int
    ) -> tuple[StagedChunk, Sequence[SubmittedRow]] | None:
        row = (
            await self._conn.execute(
                select(import_chunks)
                .where(ic.import_id == import_id, ic.chunk_number == chunk_number)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        return _staged_chunk(row), [_submitted_from_json(v) for v in row.rows or ()]

    async def save_chunk_applied(
        self, import_id: str, chunk_number: int, counts: ChunkCounts
    ) -> None:
        await self._conn.execute(
            import_chunks.update()
            .where(ic.import_id == import_id, ic.chunk_number == chunk_number)
            .values(
                rows=None,
                applied_at=func.now(),
                **{name: getattr(counts, name) for name in _CHUNK_COUNTS},
            )
        )

    async def import_tallies(self, import_id: str) -> Sequence[RowTally]:
        rows = await self._conn.execute(
            select(ir.outcome, ir.row_key, ir.row_signature).where(ir.import_id == import_id)
        )
        return [RowTally(RowOutcome(r.outcome), r.row_key, r.row_signature) for r in rows]

    async def save_import_complete(self, import_id: str, summary: ImportSummary) -> None:
        await self._conn.execute(
            imports.update()
            .where(im.import_id == import_id)
            .values(
                state=int(ImportState.COMPLETE),
                **{name: getattr(summary, name) for name in _SUMMARY_COUNTS},
            )
        )

    async def previous_import_rows(self, record: ImportRecord) -> dict[str, str] | None:
        previous = (
            await self._conn.execute(
                select(im.import_id)
                .where(
                    im.ward_code == record.ward_code,
                    im.import_id != record.import_id,
                    im.state == int(ImportState.COMPLETE),
                    or_(
                        im.list_date < record.list_date,
                        (im.list_date == record.list_date) & (im.created_at < record.created_at),
                    ),
                )
                .order_by(im.list_date.desc(), im.created_at.desc())
                .limit(1)
            )
        ).scalar()
        if previous is None:
            return None
        rows = await self._conn.execute(
            select(ir.row_key, ir.row_signature).where(
                ir.import_id == previous, ir.outcome != int(RowOutcome.REJECTED)
            )
        )
        return {r.row_key: r.row_signature for r in rows}

    async def import_rows(
        self, import_id: str, outcome: RowOutcome | None, after: int, limit: int
    ) -> Sequence[StoredRow]:
        query = select(import_rows).where(ir.import_id == import_id, ir.row_number > after)
        if outcome is not None:
            query = query.where(ir.outcome == int(outcome))
        rows = await self._conn.execute(query.order_by(ir.row_number).limit(limit))
        return [_stored_row(r) for r in rows]

    async def import_row(self, import_id: str, row_number: int) -> StoredRow | None:
        row = (
            await self._conn.execute(
                select(import_rows)
                .where(ir.import_id == import_id, ir.row_number == row_number)
                .with_for_update()
            )
        ).first()
        return None if row is None else _stored_row(row)

    async def save_row_result(self, import_id: str, stored: StoredRow) -> None:
        values = _row_values(import_id, stored)
        await self._conn.execute(
            import_rows.update()
            .where(ir.import_id == import_id, ir.row_number == stored.row.row_number)
            .values(
                {
                    name: values[name]
                    for name in ("outcome", "citizen_id", "reason", "event_id", "row_key")
                }
            )
        )


def _event_values(event: StatusEvent, derived: DerivedLevel | None) -> dict[str, Any]:
    care = event.care
    return {
        "event_id": event.event_id,
        "citizen_id": event.citizen_id,
        "effective_at": event.effective_at,
        "recorded_at": event.recorded_at,
        "classification": event.classification,
        "outcome": event.outcome,
        "care_setting": care.setting if care else None,
        "care_ward_code": care.ward_code if care else None,
        "care_facility": care.facility if care else None,
        "condition": event.condition,
        "reason": event.reason,
        "corrects_event_id": event.corrects_event_id,
        "origin": event.origin,
        "source_agency": event.source.agency,
        "source_list_id": event.source.list_id,
        "source_report_ref": event.source.report_ref,
        "recorded_by_subject": event.recorded_by.subject,
        "recorded_by_agency": event.recorded_by.agency,
        "derived_from": derived.source_id if derived else None,
        "derived_distance": derived.distance if derived else None,
    }


def _candidate_json(candidate: RowCandidate) -> dict[str, Any]:
    return {
        "citizen_id": candidate.citizen_id,
        "full_name": candidate.full_name,
        "birth_date": candidate.birth_date.isoformat() if candidate.birth_date else None,
        "ward_code": candidate.ward_code,
        "deceased": candidate.deceased,
        "temporary_ward": candidate.temporary_ward,
    }


def _candidate_from_json(value: dict[str, Any]) -> RowCandidate:
    born = value.get("birth_date")
    return RowCandidate(
        value["citizen_id"],
        value["full_name"],
        dt.date.fromisoformat(born) if born else None,
        value["ward_code"],
        bool(value.get("deceased")),
        value.get("temporary_ward") or "",
    )


def _row_values(import_id: str, stored: StoredRow) -> dict[str, Any]:
    row, result = stored.row, stored.result
    return {
        "import_id": import_id,
        "row_number": row.row_number,
        "citizen_id_submitted": row.citizen_id,
        "full_name": row.full_name,
        "birth_date": row.birth_date,
        "ward_code": row.ward_code,
        "street": row.street,
        "classification": row.classification,
        "effective_date": row.effective_date,
        "care_setting": row.care.setting if row.care else None,
        "care_ward_code": row.care.ward_code if row.care else None,
        "care_facility": row.care.facility if row.care else None,
        "condition": row.condition,
        "outcome": int(result.outcome),
        "citizen_id": result.citizen_id or None,
        "reason": result.reason or row.unreadable,
        "differing_fields": list(result.differing_fields),
        "candidates": [_candidate_json(c) for c in result.candidates],
        "event_id": result.event_id or None,
        "row_key": stored.row_key,
        "row_signature": stored.row_signature,
    }


def _import_record(row: Any) -> ImportRecord:
    return ImportRecord(
        import_id=row.import_id,
        agency=row.agency,
        request_id=row.request_id,
        list_id=row.list_id,
        ward_code=row.ward_code,
        list_date=row.list_date,
        created_at=row.created_at,
        summary=ImportSummary(
            row.import_id,
            row.list_id,
            **{name: getattr(row, name) for name in _SUMMARY_COUNTS},
        ),
        state=ImportState(row.state),
        chunks=row.chunks,
        staged_by=row.staged_by_subject,
        staged_wards=tuple(row.staged_wards),
    )


def _staged_chunk(row: Any) -> StagedChunk:
    applied = None
    if row.applied_at is not None:
        counts = {name: getattr(row, name) for name in _CHUNK_COUNTS}
        applied = ChunkCounts(rows=len(row.row_numbers), **counts)
    return StagedChunk(row.chunk_number, tuple(row.row_numbers), row.fingerprint, applied)


def _submitted_json(row: SubmittedRow) -> dict[str, Any]:
    """A staged row as sent (the API read it already: enums as numbers, dates ISO)."""
    return {
        "row_number": row.row_number,
        "citizen_id": row.citizen_id,
        "full_name": row.full_name,
        "birth_date": row.birth_date.isoformat() if row.birth_date else None,
        "ward_code": row.ward_code,
        "street": row.street,
        "classification": int(row.classification) if row.classification else None,
        "effective_date": row.effective_date.isoformat() if row.effective_date else None,
        "care": [int(row.care.setting), row.care.ward_code, row.care.facility]
        if row.care
        else None,
        "condition": int(row.condition) if row.condition else None,
        "unreadable": row.unreadable,
    }


def _submitted_from_json(value: dict[str, Any]) -> SubmittedRow:
    def day(key: str) -> dt.date | None:
        found = value.get(key)
        return dt.date.fromisoformat(found) if found else None

    care = value.get("care")
    return SubmittedRow(
        row_number=value["row_number"],
        citizen_id=value["citizen_id"],
        full_name=value["full_name"],
        birth_date=day("birth_date"),
        ward_code=value["ward_code"],
        street=value["street"],
        classification=_optional(Classification, value.get("classification")),
        effective_date=day("effective_date"),
        care=Care(CareSetting(care[0]), care[1], care[2]) if care else None,
        condition=_optional(HealthCondition, value.get("condition")),
        unreadable=value.get("unreadable") or "",
    )


def _stored_row(r: Any) -> StoredRow:
    row = SubmittedRow(
        row_number=r.row_number,
        citizen_id=r.citizen_id_submitted,
        full_name=r.full_name,
        birth_date=r.birth_date,
        ward_code=r.ward_code,
        street=r.street,
        classification=_optional(Classification, r.classification),
        effective_date=r.effective_date,
        care=care_of(
            _optional(CareSetting, r.care_setting), r.care_ward_code or "", r.care_facility or ""
        ),
        condition=_optional(HealthCondition, r.condition),
    )
    result = RowResult(
        row_number=r.row_number,
        outcome=RowOutcome(r.outcome),
        citizen_id=r.citizen_id or "",
        reason=r.reason,
        differing_fields=tuple(r.differing_fields),
        candidates=tuple(_candidate_from_json(c) for c in r.candidates),
        event_id=r.event_id or "",
    )
    return StoredRow(row, result, r.row_key, r.row_signature)
