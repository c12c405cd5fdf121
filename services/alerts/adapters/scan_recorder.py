"""Scans recorded durably, many per statement: a scan is answered only once its row (and, for
a WARN, its alerts) is committed.

``GroupCommit`` (services.kit.group_commit) gathers the scans that arrive while a batch is in
the database; each batch is one autocommitted statement: one round trip, no BEGIN or COMMIT.
A batch with a WARN takes the feeds' lock (adapters.repository) inside that statement, before
its alerts take cursors of the wards' feeds, which must become visible in cursor order.

The statement inserts the scans (a request id seen before inserts nothing: the stored scan is
returned instead) and every new WARN's alerts (one per ward). A scan row is its own audit
record: it names who scanned whom, for which agency and purpose, when, with which request and
trace, and the table refuses updates and deletes like the audit log (ADR 0011). It is
sent through psycopg directly, on a connection kept checked out of the engine's pool between
batches, as the registry's audited reads are (per call, SQLAlchemy's execution cost more than
the database's work).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.alerts.adapters.repository import FEED_LOCK
from services.alerts.domain.model import AlertKind, AlertState
from services.alerts.ports import RecordedScan, ScanRecord
from services.kit.group_commit import GroupCommit
from services.kit.held_statements import HeldStatements

MAX_BATCH = 256
# One batch at a time: the scans that arrive meanwhile leave together as soon as it returns.
MAX_IN_FLIGHT = 1

STATEMENT = """
WITH input AS (
    SELECT *
    FROM jsonb_to_recordset(%(scans)s::jsonb) AS s(
        ordinal integer, scan_id uuid, request_id text, agency text, subject text,
        roles text[], purpose text, trace_id text, checkpoint_code text, citizen_id text,
        scanned_at timestamptz, verdict smallint, level smallint, event_id text, wards jsonb
    )
),
inserted AS (
    INSERT INTO scans (
        scan_id, agency, request_id, checkpoint_code, citizen_id, scanned_at, verdict, level,
        event_id, subject, roles, purpose, trace_id
    )
    SELECT scan_id, agency, request_id, checkpoint_code, citizen_id, scanned_at, verdict,
           level, event_id, subject, roles, purpose, trace_id
    FROM input
    ORDER BY ordinal
    ON CONFLICT (agency, request_id) DO NOTHING
    RETURNING scan_id
),
-- The feeds' lock, taken only by a batch with a WARN (a PASS-only batch gets no row here, and
-- has no alert to number). Every alert row below is joined with this row, so no cursor is
-- taken before the lock is held; the lock is released when the statement commits.
feeds_lock AS (
    SELECT pg_advisory_xact_lock(%(lock)s) AS held
    WHERE EXISTS (SELECT FROM input WHERE jsonb_array_length(wards) > 0)
),
alerted AS (
    INSERT INTO alerts (
        alert_id, cursor, source_id, ward_code, ward_role, kind, citizen_id, classification,
        event_id, checkpoint_code, scan_id, occurred_at, state
    )
    SELECT gen_random_uuid(), nextval('alerts_cursor_seq'), i.scan_id::text, w.ward_code,
           w.role, %(kind)s, i.citizen_id, i.level, i.event_id, i.checkpoint_code,
           i.scan_id::text, i.scanned_at, %(open)s
    FROM feeds_lock
    CROSS JOIN input AS i
    JOIN inserted USING (scan_id)
    CROSS JOIN LATERAL jsonb_to_recordset(i.wards) AS w(ward_code text, role smallint)
    ORDER BY i.ordinal, w.role
    ON CONFLICT ON CONSTRAINT alerts_once_per_ward DO NOTHING
)
-- The stored scan is looked up only for a request id seen before, one probe of the request
-- index each: as a plain join, the planner read every row of the table while its statistics
-- still described it smaller than it had grown (milliseconds per statement, growing).
SELECT i.ordinal, inserted.scan_id IS NOT NULL AS new, earlier.*
FROM input AS i
LEFT JOIN inserted USING (scan_id)
LEFT JOIN LATERAL (
    SELECT s.scan_id::text AS earlier_scan_id, s.verdict AS earlier_verdict,
           s.level AS earlier_level, s.checkpoint_code AS earlier_checkpoint,
           s.citizen_id AS earlier_citizen
    FROM scans AS s
    WHERE inserted.scan_id IS NULL AND s.agency = i.agency AND s.request_id = i.request_id
    LIMIT 1  -- unique anyway; keeps the lookup a probe per row, not a join the planner reorders
) AS earlier ON true
"""


def parameters(batch: Sequence[ScanRecord]) -> dict[str, Any]:
    """The statement's parameters for ``batch``: ordinals from 1, in call order."""
    rows = []
    for ordinal, scan in enumerate(batch, start=1):
        decision = scan.decision
        rows.append(
            {
                "ordinal": ordinal,
                "scan_id": scan.scan_id,
                "request_id": scan.request_id,
                "agency": scan.identity.agency,
                "subject": scan.identity.subject,
                "roles": sorted(scan.identity.roles),
                "purpose": scan.identity.purpose,
                "trace_id": scan.trace_id,
                "checkpoint_code": scan.checkpoint.code,
                "citizen_id": scan.citizen_id,
                "scanned_at": scan.scanned_at.isoformat(),
                "verdict": int(decision.verdict),
                "level": int(scan.level) if scan.level is not None else None,
                "event_id": decision.event_id,
                "wards": [
                    {"ward_code": w.ward_code, "role": int(w.role)} for w in decision.alert_wards
                ],
            }
        )
    return {
        "lock": FEED_LOCK,
        "scans": json.dumps(rows),
        "kind": int(AlertKind.CHECKPOINT_WARNING),
        "open": int(AlertState.OPEN),
    }


def answers(batch: Sequence[ScanRecord], rows: Sequence[Any]) -> list[RecordedScan]:
    """One answer per scan, in call order. Two scans of one batch with the same request id:
    the first is stored, the second gets the first's answer."""
    by_ordinal = {row.ordinal: row for row in rows}
    first_of: dict[tuple[str, str], ScanRecord] = {}
    result = []
    for ordinal, scan in enumerate(batch, start=1):
        row = by_ordinal[ordinal]
        key = (scan.identity.agency, scan.request_id)
        if row.earlier_scan_id is not None:
            same = (row.earlier_checkpoint, row.earlier_citizen) == (
                scan.checkpoint.code,
                scan.citizen_id,
            )
            result.append(
                RecordedScan(
                    row.earlier_scan_id,
                    row.earlier_verdict,
                    row.earlier_level,
                    replayed=True,
                    conflict=not same,
                )
            )
        elif row.new:
            first_of.setdefault(key, scan)
            result.append(_fresh(scan, replayed=False))
        else:
            first = first_of[key]
            same = (first.checkpoint.code, first.citizen_id) == (
                scan.checkpoint.code,
                scan.citizen_id,
            )
            result.append(
                RecordedScan(
                    first.scan_id,
                    int(first.decision.verdict),
                    _level(first),
                    replayed=True,
                    conflict=not same,
                )
            )
    return result


def _level(scan: ScanRecord) -> int | None:
    return int(scan.level) if scan.level is not None else None


def _fresh(scan: ScanRecord, *, replayed: bool) -> RecordedScan:
    return RecordedScan(scan.scan_id, int(scan.decision.verdict), _level(scan), replayed)


class BatchedScanRecorder:
    """``ScanRecorder`` over PostgreSQL, group-committed (see the module docstring).

    ``aclose()`` gives the held connection back to the pool and must run before
    ``engine.dispose()``.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._statements = HeldStatements(engine)
        self.group = GroupCommit(self.execute, max_batch=max_batch, max_in_flight=max_in_flight)

    async def record(self, scan: ScanRecord) -> RecordedScan:
        return await self.group.submit(scan)

    async def execute(self, batch: Sequence[ScanRecord]) -> list[RecordedScan]:
        """Records one batch with one autocommitted statement; the answers in call order."""
        rows = await self._statements.fetch(STATEMENT, parameters(batch))
        return answers(batch, rows)

    async def aclose(self) -> None:
        """Gives the held connections back to the pool (before ``engine.dispose()``)."""
        await self._statements.aclose()
