"""Recomputing derived levels (F1-F3) around residents whose case or contacts changed.

Levels reach 3 links from a source, and a resident's level depends on sources up to 3 links
away: so the residents whose level may change sit within ``depth`` links of the change, and
everything that decides their levels within ``2 * depth``. Only residents whose level actually
changes get an event (origin DERIVED) and an outbox row.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.case_status.domain import timeline
from services.case_status.domain.model import (
    VIETNAM_TIME,
    Actor,
    CaseStatus,
    Classification,
    ExposureLink,
    LevelOrigin,
    Source,
    StatusEvent,
)
from services.case_status.domain.timeline import IsolationPolicy
from services.case_status.domain.tracing import (
    DerivedLevel,
    TracingPolicy,
    derive,
    inputs_from,
    recompute_changes,
)
from services.case_status.ports import UnitOfWork
from services.kit.auth import Identity
from services.kit.errors import DomainError

logger = logging.getLogger(__name__)

STATUS_CHANGED = "case_status.status_changed.v1"
TRACING_AGENCY = "dancu-contact-tracing"
REASON = "derived by contact tracing"


def status_changed_payload(event: StatusEvent, after: CaseStatus) -> dict[str, object]:
    """The ``case_status.status_changed.v1`` outbox payload (docs/api/case_status.md)."""
    return {
        "event_id": event.event_id,
        "citizen_id": event.citizen_id,
        "classification": after.classification.name if after.classification else None,
        "level_origin": after.origin.name if after.origin else None,
        "outcome": after.outcome.name if after.outcome else None,
        "effective_time": event.effective_at.isoformat(),
        "isolation_end": after.isolation_end.isoformat() if after.isolation_end else None,
        # Where the resident is cared for: alerts go to that ward's police as well.
        "care_setting": after.care.setting.name if after.care else None,
        "care_ward_code": (after.care.ward_code or None) if after.care else None,
        "corrects_event_id": event.corrects_event_id,
    }


@dataclass(frozen=True)
class LevelChangeWritten:
    citizen_id: str
    before: Classification | None
    after: Classification
    event_id: str
    # The resident's whole status once the derived level is written.
    status: CaseStatus


def _within(links: Sequence[ExposureLink], seeds: Iterable[str], hops: int) -> set[str]:
    around: defaultdict[str, set[str]] = defaultdict(set)
    for link in links:
        around[link.contact_id].add(link.source_id)
        around[link.source_id].add(link.contact_id)
    reached = set(seeds)
    frontier = set(reached)
    for _ in range(hops):
        frontier = {other for cid in frontier for other in around[cid]} - reached
        reached |= frontier
    return reached


def _effective_at(
    events: Sequence[StatusEvent], derived: DerivedLevel | None, now: dt.datetime
) -> dt.datetime:
    """The exposure day's start (isolation counts from the last exposure), but never before
    the resident's latest event: a derived level must come after what it replaces."""
    start = now
    if derived is not None:
        day = derived.contact_date
        start = min(now, dt.datetime(day.year, day.month, day.day, tzinfo=VIETNAM_TIME))
    latest = max((e.effective_at for e in events), default=None)
    if latest is not None and latest >= start:
        start = min(now, latest + dt.timedelta(microseconds=1))
    return start


async def recompute_around(
    uow: UnitOfWork,
    tracing: TracingPolicy,
    isolation: IsolationPolicy,
    seeds: Sequence[str],
    identity: Identity,
    now: dt.datetime,
    known: Mapping[str, Sequence[StatusEvent]] | None = None,
    folded: Mapping[str, CaseStatus] | None = None,
) -> tuple[LevelChangeWritten, ...]:
    """``known``: the complete events of residents the caller has read already (and appended
    to) under their lock; only the others are read. ``folded``: the statuses of some of them,
    folded already from those events."""
    known = known or {}
    folded = folded or {}
    links = await uow.cases.links_around(seeds, 2 * tracing.depth)
    affected = _within(links, seeds, tracing.depth)
    everyone = _within(links, seeds, 2 * tracing.depth)
    # Locked in id order with the seeds (already held): appends to these residents wait.
    await uow.cases.lock_residents(affected - known.keys())
    events = {
        **(await uow.cases.events_of(everyone - known.keys())),
        **{cid: known[cid] for cid in everyone & known.keys()},
    }
    statuses = {
        cid: folded.get(cid) or timeline.fold(cid, events.get(cid, ()), policy=isolation)
        for cid in everyone
    }
    inputs = inputs_from(statuses.values())
    derived = derive(links, inputs, tracing)
    before = {
        cid: status.classification
        for cid, status in statuses.items()
        if cid in affected
        and status.origin is LevelOrigin.DERIVED
        and status.classification is not None
    }
    after = {cid: level for cid, level in derived.items() if cid in affected}
    written = []
    appended_events: list[tuple[StatusEvent, DerivedLevel | None]] = []
    announced: list[tuple[str, dict[str, object]]] = []
    actor = Actor(identity.subject, identity.agency)
    for change in recompute_changes(before, after, inputs):
        own = events.get(change.citizen_id, ())
        event = StatusEvent(
            event_id=str(uuid.uuid4()),
            citizen_id=change.citizen_id,
            effective_at=_effective_at(own, change.derived, now),
            recorded_at=now,
            source=Source(TRACING_AGENCY),
            recorded_by=actor,
            classification=change.after,
            reason=REASON,
            origin=LevelOrigin.DERIVED,
        )
        try:
            appended = timeline.append(
                own, event, policy=isolation, before=statuses[change.citizen_id]
            )
        except DomainError as refusal:
            # The resident's own record refuses the level (e.g. no episode to clear): the
            # derivation has nothing to change there.
            logger.info("derived level not applied: %s", refusal.reason)
            continue
        appended_events.append((event, change.derived))
        announced.append((change.citizen_id, status_changed_payload(event, appended.after)))
        written.append(
            LevelChangeWritten(
                change.citizen_id, change.before, change.after, event.event_id, appended.after
            )
        )
    await uow.cases.add_events(appended_events)
    await uow.publish_all(STATUS_CHANGED, announced)
    return tuple(written)
