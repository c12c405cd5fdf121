"""Tracing from scans: a resident's scans, and who passed the same checkpoint close in time.

A ward-scoped caller sees the scans made at checkpoints of its wards only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.alerts.domain import rules
from services.alerts.domain.model import CoPresence, Scan
from services.alerts.use_cases import RESIDENT, AlertsService, _transaction
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import Validator
from services.kit.pagination import PageRequest

MAX_PERIOD_DAYS = 31
MAX_WINDOW_MINUTES = 120
DEFAULT_WINDOW_MINUTES = 15
MAX_CANDIDATES = 1000


@dataclass(frozen=True)
class ScanPage:
    scans: tuple[Scan, ...]
    after: tuple[str, str] | None


def _scope(identity: Identity) -> frozenset[str] | None:
    return None if identity.nationwide else identity.wards


async def list_scans(
    svc: AlertsService,
    identity: Identity,
    citizen_id: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    page: PageRequest,
) -> ScanPage:
    v = Validator()
    rules.check_citizen_id(v, citizen_id, "citizen_id")
    rules.check_period(v, start, end, MAX_PERIOD_DAYS)
    v.raise_if_any()
    assert start is not None
    assert end is not None
    after = (str(page.after[0]), str(page.after[1])) if page.after else None
    async with _transaction(svc, identity, "ListScans", RESIDENT, [citizen_id]) as uow:
        found = await uow.alerts.scans_of(
            citizen_id, start, end, _scope(identity), after, page.size + 1
        )
        await uow.audit(AuditEvent("ListScans", RESIDENT, (citizen_id,), "ok"))
        await uow.commit()
    shown = tuple(found[: page.size])
    last = shown[-1] if shown else None
    next_after = (
        (last.scanned_at.isoformat(), last.scan_id)
        if last is not None and len(found) > page.size
        else None
    )
    return ScanPage(shown, next_after)


async def find_co_presence(
    svc: AlertsService,
    identity: Identity,
    citizen_id: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    window_minutes: int,
) -> list[CoPresence]:
    v = Validator()
    rules.check_citizen_id(v, citizen_id, "citizen_id")
    rules.check_period(v, start, end, MAX_PERIOD_DAYS)
    minutes = window_minutes or DEFAULT_WINDOW_MINUTES
    v.check(
        1 <= minutes <= MAX_WINDOW_MINUTES,
        "window_minutes",
        "WINDOW_OUT_OF_RANGE",
        f"must be 1-{MAX_WINDOW_MINUTES}",
    )
    v.raise_if_any()
    assert start is not None
    assert end is not None
    async with _transaction(svc, identity, "FindCoPresence", RESIDENT, [citizen_id]) as uow:
        found = await uow.alerts.co_presence(
            citizen_id,
            start,
            end,
            dt.timedelta(minutes=minutes),
            _scope(identity),
            MAX_CANDIDATES,
        )
        ids = (citizen_id, *dict.fromkeys(c.citizen_id for c in found))
        await uow.audit(AuditEvent("FindCoPresence", RESIDENT, ids, "ok"))
        await uow.commit()
    return found
