"""The alerts use cases: one async function each, owning its transaction.

Checkpoint scans are the hot path: they read only memory (the watchlist, the checkpoint) and
the scan recorder, which commits many scans per statement. Everything else runs one
transaction per call that audits what it read or wrote and commits once; mutations are
idempotent by request id (ApplyStatusChange by the event's id).

Ward scoping: nationwide callers see every alert; ward police see the alerts of their wards
only, and anything else answers as if it did not exist (NotFound).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass, field, replace

from services.alerts.domain import rules
from services.alerts.domain.model import (
    Alert,
    AlertKind,
    Checkpoint,
    Classification,
    NewAlert,
    StatusChange,
    Verdict,
    WatchEntry,
    vietnam_date,
)
from services.alerts.domain.rules import WardExists
from services.alerts.domain.watchlist import Watchlist
from services.alerts.ports import CaseStatus as CaseStatusPort
from services.alerts.ports import (
    Checkpoints,
    Clock,
    Registry,
    ResultEncoder,
    ScanRecord,
    ScanRecorder,
    UnitOfWork,
    UnitOfWorkFactory,
)
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import AlreadyExists, Forbidden, NotFound, Validator
from services.kit.request_ids import IdempotencyKey, StoredResponse, validate_request_id
from services.kit.telemetry import current_trace_id
from services.kit.transactions import audited, replay

ALERT = "alert"
RESIDENT = "resident"
CHECKPOINT = "checkpoint"
MAX_CLOCK_AHEAD = dt.timedelta(minutes=5)
MAX_SCAN_AGE = dt.timedelta(days=7)


class FeedSignal:
    """Wakes this process's WatchAlerts streams when it stored new alerts; streams of other
    replicas' alerts are woken by their poll instead."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Returns when notified, or after ``seconds``."""
        event = self._event
        with suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)


@dataclass(frozen=True)
class AlertsService:
    """What every use case needs; built once by the composition root."""

    uow: UnitOfWorkFactory
    checkpoints: Checkpoints
    scans: ScanRecorder
    watchlist: Watchlist
    registry: Registry
    case_status: CaseStatusPort
    clock: Clock
    ward_exists: WardExists
    warn_levels: frozenset[Classification] = rules.DEFAULT_WARN_LEVELS
    # How long a WatchAlerts stream waits before looking for other replicas' alerts.
    feed_poll_seconds: float = 0.5
    feed: FeedSignal = field(default_factory=FeedSignal)
    # Awaited after a watchlist row was committed here: this replica catches up before the
    # call returns, so whoever delivered the event finds this replica's scans current.
    watchlist_changed: Callable[[], Awaitable[object]] = field(default=lambda: _nothing())


@dataclass(frozen=True)
class ScanAnswer:
    scan_id: str
    verdict: Verdict
    # Set only on a WARN at a checkpoint that reveals levels.
    level: Classification | None


@dataclass(frozen=True)
class Applied:
    already_applied: bool
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class Redirected:
    # False: the resident is not flagged, so no warning goes anywhere.
    flagged: bool
    alerts: tuple[Alert, ...]


async def _nothing() -> None:
    return None


def _transaction(
    svc: AlertsService,
    identity: Identity,
    action: str,
    resource_type: str,
    resource_ids: Sequence[str],
    request_id: str | None = None,
) -> AbstractAsyncContextManager[UnitOfWork]:
    return audited(lambda: svc.uow(identity), action, resource_type, resource_ids, request_id)


def new_id() -> str:
    return str(uuid.uuid4())


async def register_checkpoint(
    svc: AlertsService,
    identity: Identity,
    checkpoint: Checkpoint,
    key: IdempotencyKey,
    encode: ResultEncoder[Checkpoint],
) -> Checkpoint | StoredResponse:
    rules.validate_checkpoint(checkpoint, svc.ward_exists)
    method = "RegisterCheckpoint"
    code = checkpoint.code
    async with _transaction(svc, identity, method, CHECKPOINT, [code], key.request_id) as uow:
        replayed = await replay(uow, method, key, CHECKPOINT, [code])
        if replayed is not None:
            return replayed
        if not identity.sees_ward(checkpoint.ward_code):
            raise Forbidden("OUT_OF_JURISDICTION", "the checkpoint's ward is not one of yours")
        if not await uow.alerts.add_checkpoint(checkpoint, identity.agency):
            raise AlreadyExists("CHECKPOINT_EXISTS", "a checkpoint with this code exists")
        stored = await uow.alerts.checkpoint(code)
        assert stored is not None
        await uow.complete(key, encode(stored))
        await uow.audit(AuditEvent(method, CHECKPOINT, (code,), "ok", key.request_id))
        await uow.commit()
        return stored


async def scan(
    svc: AlertsService,
    identity: Identity,
    request_id: str,
    checkpoint_code: str,
    citizen_id: str,
    qr_payload: str | None,
    scanned_at: dt.datetime | None,
) -> ScanAnswer:
    """PASS or WARN from the watchlist in memory; answered once the scan is committed."""
    validate_request_id(request_id)
    v = Validator()
    if qr_payload is not None:
        citizen_id = rules.citizen_id_from_qr(v, qr_payload)
    else:
        rules.check_citizen_id(v, citizen_id, "citizen_id")
    v.check(bool(checkpoint_code), "checkpoint_code", "CHECKPOINT_REQUIRED", "is required")
    now = svc.clock.now()
    if scanned_at is not None:
        # Clocks at checkpoints drift, and a checkpoint offline for a while sends its scans late.
        v.check(
            scanned_at <= now + MAX_CLOCK_AHEAD,
            "scan_time",
            "TIME_IN_FUTURE",
            "may be at most 5 minutes ahead of the service's clock",
        )
        v.check(
            scanned_at >= now - MAX_SCAN_AGE,
            "scan_time",
            "TIME_TOO_OLD",
            "may be at most 7 days old",
        )
    v.raise_if_any()
    checkpoint = await svc.checkpoints.get(checkpoint_code)
    # Operators of another agency are told what they would be told of an unknown code.
    if checkpoint is None or checkpoint.operating_agency != identity.agency:
        raise NotFound("CHECKPOINT_NOT_FOUND", "no such checkpoint")
    entry = svc.watchlist.get(citizen_id)
    decision = rules.decide(entry, checkpoint, svc.warn_levels)
    recorded = await svc.scans.record(
        ScanRecord(
            scan_id=new_id(),
            request_id=request_id,
            identity=identity,
            trace_id=current_trace_id(),
            checkpoint=checkpoint,
            citizen_id=citizen_id,
            scanned_at=scanned_at or now,
            decision=decision,
            level=entry.level if entry is not None else None,
        )
    )
    if recorded.conflict:
        raise AlreadyExists(
            "REQUEST_ID_REUSED", "request_id was already used for a different request"
        )
    verdict = Verdict(recorded.verdict_number)
    if verdict is Verdict.WARN and not recorded.replayed:
        svc.feed.notify()
    level = None
    if verdict is Verdict.WARN and checkpoint.reveal_level and recorded.level_number:
        level = Classification(recorded.level_number)
    return ScanAnswer(recorded.scan_id, verdict, level)


async def apply_status_change(
    svc: AlertsService, identity: Identity, change: StatusChange
) -> Applied:
    """Updates the watchlist and alerts each ward concerned, once per event and ward."""
    rules.validate_status_change(change, svc.ward_exists)
    # Asked before the transaction: no lock is held across a network call.
    residence = await svc.registry.residence(change.citizen_id)
    if residence is None:
        raise NotFound("RESIDENT_NOT_FOUND", "no such resident")
    today = vietnam_date(svc.clock.now())
    wards = rules.status_change_wards(
        residence.permanent_ward, residence.temporary_active_on(today), change.care_ward_code
    )
    method = "ApplyStatusChange"
    cid = change.citizen_id
    async with _transaction(svc, identity, method, RESIDENT, [cid], change.event_id) as uow:
        await uow.alerts.lock_feeds()
        if not await uow.alerts.claim_status_change(change):
            alerts = await uow.alerts.alerts_of_source(change.event_id)
            await uow.audit(AuditEvent(method, RESIDENT, (cid,), "replayed", change.event_id))
            await uow.commit()
            return Applied(True, tuple(alerts))
        current = await uow.alerts.watch_entry(cid)
        level = rules.flagged_level(change)
        if rules.supersedes(change, current) and (current is not None or level is not None):
            await uow.alerts.save_watch_entry(
                WatchEntry(cid, level, change.event_id, change.effective_at, wards)
            )
        await uow.alerts.add_alerts(
            [
                NewAlert(
                    alert_id=new_id(),
                    source_id=change.event_id,
                    ward=ward,
                    kind=AlertKind.STATUS_CHANGE,
                    citizen_id=cid,
                    classification=change.classification,
                    outcome=change.outcome,
                    event_id=change.event_id,
                    checkpoint_code=None,
                    scan_id=None,
                    occurred_at=change.effective_at,
                )
                for ward in wards
            ]
        )
        alerts = await uow.alerts.alerts_of_source(change.event_id)
        await uow.audit(AuditEvent(method, RESIDENT, (cid,), "ok", change.event_id))
        await uow.commit()
    svc.feed.notify()
    await svc.watchlist_changed()
    return Applied(False, tuple(alerts))


async def apply_residence_change(
    svc: AlertsService, identity: Identity, event_id: str, citizen_id: str
) -> Redirected:
    """Points a flagged resident's warnings at the wards they live in now and alerts each ward
    they moved into, once per event and ward. The registry is asked for the resident's
    current residence, not the event's: a late or repeated delivery finds nothing new."""
    rules.validate_residence_change(event_id, citizen_id)
    residence = await svc.registry.residence(citizen_id)
    if residence is None:
        raise NotFound("RESIDENT_NOT_FOUND", "no such resident")
    today = vietnam_date(svc.clock.now())
    method = "ApplyResidenceChange"
    async with _transaction(svc, identity, method, RESIDENT, [citizen_id], event_id) as uow:
        await uow.alerts.lock_feeds()
        entry = await uow.alerts.watch_entry(citizen_id)
        if entry is None or entry.level is None:
            await uow.audit(AuditEvent(method, RESIDENT, (citizen_id,), "not_flagged", event_id))
            await uow.commit()
            return Redirected(False, ())
        wards = rules.status_change_wards(
            residence.permanent_ward,
            residence.temporary_active_on(today),
            await uow.alerts.care_ward_of(entry.event_id),
        )
        known = {w.ward_code for w in entry.wards}
        if wards != entry.wards:
            await uow.alerts.save_watch_entry(replace(entry, wards=wards))
        await uow.alerts.add_alerts(
            [
                NewAlert(
                    alert_id=new_id(),
                    source_id=event_id,
                    ward=ward,
                    kind=AlertKind.RESIDENCE_CHANGE,
                    citizen_id=citizen_id,
                    classification=entry.level,
                    outcome=None,
                    event_id=entry.event_id,
                    checkpoint_code=None,
                    scan_id=None,
                    occurred_at=svc.clock.now(),
                )
                for ward in wards
                if ward.ward_code not in known
            ]
        )
        alerts = await uow.alerts.alerts_of_source(event_id)
        await uow.audit(AuditEvent(method, RESIDENT, (citizen_id,), "ok", event_id))
        await uow.commit()
    svc.feed.notify()
    await svc.watchlist_changed()
    return Redirected(True, tuple(alerts))
