"""The case-status use cases: one async function each, owning its transaction.

Each function validates with the domain rules, asks the registry what it must know (before
taking the per-resident lock: no resident is locked across a network call), then appends,
stores, audits and writes outbox rows in one transaction that commits once. Mutations are
idempotent by request id: a replay returns the stored first result (the request-id claim comes
first, so a replay never asks the registry again).

Locking: every append takes the row of each resident it writes in ``case_residents`` FOR
UPDATE, in citizen-id order within one statement. A recomputation locks the residents around
the change after the seed's lock; two overlapping recomputations may then deadlock, which
PostgreSQL detects by aborting one (the caller retries with the same request id).

Ward scoping: nationwide callers see every case. A ward-scoped caller (ward police) sees the
case of a resident whose registry residence wards (permanent, or temporary when registered)
intersect its own, and records contacts only when one end of each link lives in its wards.
Anything else answers as if the resident were unknown (NotFound), so scoped callers cannot
probe who is a case elsewhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from services.case_status.domain import rules, timeline
from services.case_status.domain.household import propose_household_contacts
from services.case_status.domain.model import (
    Actor,
    CaseStatus,
    Classification,
    EntryState,
    ExposureLink,
    LevelOrigin,
    Outcome,
    StatusEvent,
    TimelineEntry,
    vietnam_date,
)
from services.case_status.domain.rules import WardExists
from services.case_status.domain.timeline import IsolationPolicy
from services.case_status.domain.tracing import (
    MAX_TRACE_DEPTH,
    TraceGraph,
    TracingPolicy,
    outside_pseudonyms,
    trace_graph,
)
from services.case_status.ports import (
    Clock,
    Registry,
    ResidentFacts,
    ResultEncoder,
    UnitOfWork,
    UnitOfWorkFactory,
)
from services.case_status.use_cases.recompute import (
    STATUS_CHANGED,
    LevelChangeWritten,
    recompute_around,
    status_changed_payload,
)
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import (
    FieldViolation,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Validator,
)
from services.kit.request_ids import IdempotencyKey, StoredResponse
from services.kit.transactions import audited, replay

CASE = "case"
MAX_LINKS = 1000


@dataclass(frozen=True)
class CaseStatusService:
    """What every use case needs; built once by the composition root."""

    uow: UnitOfWorkFactory
    registry: Registry
    clock: Clock
    ward_exists: WardExists
    isolation: IsolationPolicy = field(default_factory=IsolationPolicy)
    tracing: TracingPolicy = field(default_factory=TracingPolicy)

    def today(self) -> dt.date:
        return vietnam_date(self.clock.now())


@dataclass(frozen=True)
class CaseView:
    """A folded status plus, for a derived level, where it comes from."""

    status: CaseStatus
    derived_from: str = ""
    derived_distance: int = 0


@dataclass(frozen=True)
class Recorded:
    entry: TimelineEntry
    case: CaseView
    changes: tuple[LevelChangeWritten, ...] = ()


@dataclass(frozen=True)
class ContactsRecorded:
    recorded: int
    changes: tuple[LevelChangeWritten, ...]


@dataclass(frozen=True)
class Trace:
    graph: TraceGraph
    statuses: dict[str, CaseStatus]
    # Citizen id -> pseudonym, for the people outside a ward-scoped caller's wards.
    pseudonyms: dict[str, str] = field(default_factory=dict)


def _actor(identity: Identity) -> Actor:
    return Actor(identity.subject, identity.agency)


def _transaction(
    svc: CaseStatusService,
    identity: Identity,
    action: str,
    resource_ids: Sequence[str],
    request_id: str | None = None,
) -> AbstractAsyncContextManager[UnitOfWork]:
    return audited(lambda: svc.uow(identity), action, CASE, resource_ids, request_id)


async def _replay(
    uow: UnitOfWork, method: str, key: IdempotencyKey, ids: Sequence[str]
) -> StoredResponse | None:
    return await replay(uow, method, key, CASE, ids)


def _visible(identity: Identity, facts: ResidentFacts | None) -> bool:
    return facts is not None and (identity.nationwide or bool(facts.wards & identity.wards))


async def _check_visible(svc: CaseStatusService, identity: Identity, citizen_id: str) -> None:
    if identity.nationwide:
        return
    if not _visible(identity, await svc.registry.resident(citizen_id)):
        raise NotFound("RESIDENT_NOT_FOUND", "no such resident")


async def view(uow: UnitOfWork, status: CaseStatus) -> CaseView:
    """The status with the origin of a derived level (stored beside its event)."""
    return (await views(uow, [status]))[0]


def _classifying_event(status: CaseStatus) -> str | None:
    if status.origin is not LevelOrigin.DERIVED:
        return None
    classifying = [
        entry.event.event_id
        for entry in status.timeline
        if entry.state is EntryState.APPLIED
        and entry.event.classification is status.classification
        and entry.event.effective_at == status.classified_at
    ]
    return classifying[-1] if classifying else None


async def views(uow: UnitOfWork, statuses: Sequence[CaseStatus]) -> list[CaseView]:
    """``view`` of many statuses with one query."""
    events = [_classifying_event(status) for status in statuses]
    found = await uow.cases.derivations(e for e in events if e is not None)
    result = []
    for status, event_id in zip(statuses, events, strict=True):
        source, distance = found.get(event_id, ("", 0)) if event_id else ("", 0)
        result.append(CaseView(status, source, distance))
    return result


async def record_status(
    svc: CaseStatusService,
    identity: Identity,
    event: StatusEvent,
    key: IdempotencyKey,
    encode: ResultEncoder[Recorded],
) -> Recorded | StoredResponse:
    """Appends ``event`` (its id, recorded_at and recorded_by set by the caller's adapter)."""
    now = svc.clock.now()
    rules.validate_event(event, now, svc.ward_exists)
    cid = event.citizen_id
    method = "RecordStatus"
    async with _transaction(svc, identity, method, [cid], key.request_id) as uow:
        # The replay check comes first: a retry must not depend on the registry's answer.
        replayed = await _replay(uow, method, key, [cid])
        if replayed is not None:
            return replayed
        facts, members = await _registry_facts(svc, event)
        if facts is None:
            raise NotFound("RESIDENT_NOT_FOUND", "no such resident")
        _check_registry_death(facts, event)
        await uow.cases.lock_residents([cid])
        appended = timeline.append(await uow.cases.events(cid), event, policy=svc.isolation)
        await uow.cases.add_events([(event, None)])
        await uow.publish(STATUS_CHANGED, cid, status_changed_payload(event, appended.after))
        if _became_f0(appended.before, appended.after):
            confirmed = appended.after.classified_at or event.effective_at
            links = propose_household_contacts(
                cid,
                vietnam_date(confirmed),
                [m.citizen_id for m in members if not m.deceased],
                await uow.cases.links_around([cid], 1),
                _actor(identity),
            )
            await uow.cases.add_links(links)
        changes: tuple[LevelChangeWritten, ...] = ()
        if appended.recomputed:
            changes = await recompute_around(uow, svc.tracing, svc.isolation, [cid], identity, now)
        after = timeline.fold(cid, await uow.cases.events(cid), policy=svc.isolation)
        entry = next(e for e in after.timeline if e.event.event_id == event.event_id)
        result = Recorded(entry, await view(uow, after), changes)
        await uow.complete(key, encode(result))
        # The residents whose derived level changed had health data written too; ``after``
        # holds every event of the resident, derived ones included.
        touched = (cid, *(c.citizen_id for c in changes))
        await uow.cases.save_current([after, *(c.status for c in changes if c.citizen_id != cid)])
        await uow.cases.save_residences([facts, *members])
        await uow.audit(AuditEvent(method, CASE, touched, "ok", key.request_id))
        await uow.commit()
        return result


async def _registry_facts(
    svc: CaseStatusService, event: StatusEvent
) -> tuple[ResidentFacts | None, Sequence[ResidentFacts]]:
    """The resident and, for an F0, their household, asked for together."""
    if event.classification is not Classification.F0:
        return await svc.registry.resident(event.citizen_id), ()
    facts, members = await asyncio.gather(
        svc.registry.resident(event.citizen_id),
        svc.registry.household_members(event.citizen_id),
    )
    return facts, members


def _check_registry_death(facts: ResidentFacts, event: StatusEvent) -> None:
    """The registry's death counts too: nothing happens to the dead, though the death itself,
    and corrections of what was recorded, may still be entered late."""
    if event.corrects_event_id is not None or event.outcome is Outcome.DECEASED:
        return
    if facts.deceased and (
        facts.death_date is None or vietnam_date(event.effective_at) > facts.death_date
    ):
        raise PreconditionFailed(
            "RESIDENT_DECEASED", timeline.PROBLEM_MESSAGES["RESIDENT_DECEASED"]
        )


def _became_f0(before: CaseStatus, after: CaseStatus) -> bool:
    return (
        after.classification is Classification.F0
        and after.outcome is None
        and (before.classification is not Classification.F0 or before.outcome is not None)
    )


async def get_case_status(
    svc: CaseStatusService, identity: Identity, citizen_id: str, as_of: dt.datetime | None
) -> CaseView:
    v = Validator()
    rules.check_citizen_id(v, citizen_id, "citizen_id")
    v.raise_if_any()
    async with _transaction(svc, identity, "GetCaseStatus", [citizen_id]) as uow:
        await _check_visible(svc, identity, citizen_id)
        events = await uow.cases.events(citizen_id)
        status = timeline.fold(citizen_id, events, as_of, policy=svc.isolation)
        result = await view(uow, status)
        await uow.audit(AuditEvent("GetCaseStatus", CASE, (citizen_id,), "ok"))
        await uow.commit()
    return result


async def refresh_residence(svc: CaseStatusService, identity: Identity, citizen_id: str) -> bool:
    """Keeps the registry's current residence beside a resident this service holds (a
    registry residence change was delivered). Always the registry's record as it is now, so a
    late or repeated delivery cannot bring back an older one; False when there is nothing
    here to refresh."""
    v = Validator()
    rules.check_citizen_id(v, citizen_id, "citizen_id")
    v.raise_if_any()
    async with _transaction(svc, identity, "RefreshResidence", [citizen_id]) as uow:
        # Most residents who move were never a case: the registry is asked only about those
        # held here (no lock is taken, so none is held across the call).
        facts = (
            await svc.registry.resident(citizen_id) if await uow.cases.holds(citizen_id) else None
        )
        if facts is not None:
            await uow.cases.save_residences([facts])
        outcome = "ok" if facts is not None else "not_held"
        await uow.audit(AuditEvent("RefreshResidence", CASE, (citizen_id,), outcome))
        await uow.commit()
    return facts is not None


async def record_contacts(
    svc: CaseStatusService,
    identity: Identity,
    links: Sequence[ExposureLink],
    key: IdempotencyKey,
    encode: ResultEncoder[ContactsRecorded],
    unreadable: Sequence[FieldViolation] = (),
) -> ContactsRecorded | StoredResponse:
    """``unreadable``: problems the API found reading the links, reported with the rest."""
    now = svc.clock.now()
    v = Validator()
    for problem in unreadable:
        v.add(problem.field, problem.reason, problem.description)
    v.check(1 <= len(links) <= MAX_LINKS, "links", "BATCH_SIZE", f"give 1 to {MAX_LINKS} links")
    for i, link in enumerate(links[:MAX_LINKS]):
        rules.check_link(v, link, vietnam_date(now), f"links[{i}]")
    v.raise_if_any()
    ids = sorted({cid for link in links for cid in (link.contact_id, link.source_id)})
    method = "RecordContacts"
    async with _transaction(svc, identity, method, ids, key.request_id) as uow:
        replayed = await _replay(uow, method, key, ids)
        if replayed is not None:
            return replayed
        known = await _check_links_known(svc, identity, links)
        await uow.cases.lock_residents(ids)
        recorded = await uow.cases.add_links(links)
        changes: tuple[LevelChangeWritten, ...] = ()
        if recorded:
            changes = await recompute_around(uow, svc.tracing, svc.isolation, ids, identity, now)
        result = ContactsRecorded(recorded, changes)
        await uow.complete(key, encode(result))
        touched = tuple(dict.fromkeys([*ids, *(c.citizen_id for c in changes)]))
        await uow.cases.save_current([c.status for c in changes])
        await uow.cases.save_residences(known)
        await uow.audit(AuditEvent(method, CASE, touched, "ok", key.request_id))
        await uow.commit()
        return result


async def _check_links_known(
    svc: CaseStatusService, identity: Identity, links: Sequence[ExposureLink]
) -> list[ResidentFacts]:
    """Every end is a registered resident; a scoped caller's links each touch its wards.
    Returns what the registry said about them."""
    ids = sorted({cid for link in links for cid in (link.contact_id, link.source_id)})
    registered = {facts.citizen_id: facts for facts in await svc.registry.residents(ids)}
    found = {cid: registered.get(cid) for cid in ids}
    violations = []
    for i, link in enumerate(links):
        for name, cid in (
            ("contact_citizen_id", link.contact_id),
            ("source_citizen_id", link.source_id),
        ):
            if found[cid] is None:
                violations.append(
                    FieldViolation(f"links[{i}].{name}", "RESIDENT_UNKNOWN", "is not registered")
                )
    if violations:
        raise InvalidInput(violations)
    if not identity.nationwide and not all(
        _visible(identity, found[link.contact_id]) or _visible(identity, found[link.source_id])
        for link in links
    ):
        raise Forbidden("OUT_OF_JURISDICTION", "a contact involves no resident of your wards")
    return [facts for facts in found.values() if facts is not None]


async def trace_contacts(
    svc: CaseStatusService, identity: Identity, citizen_id: str, depth: int
) -> Trace:
    v = Validator()
    rules.check_citizen_id(v, citizen_id, "citizen_id")
    v.check(
        1 <= depth <= MAX_TRACE_DEPTH, "depth", "DEPTH_OUT_OF_RANGE", f"must be 1-{MAX_TRACE_DEPTH}"
    )
    v.raise_if_any()
    async with _transaction(svc, identity, "TraceContacts", [citizen_id]) as uow:
        await _check_visible(svc, identity, citizen_id)
        links = await uow.cases.links_around([citizen_id], depth)
        graph = trace_graph(links, citizen_id, depth)
        ids = [node.citizen_id for node in graph.nodes]
        pseudonyms: dict[str, str] = {}
        if not identity.nationwide:
            # The traced resident passed the registry's ward check above; the others are
            # shown by their residence snapshot, and unknown residences count as outside.
            living = await uow.cases.living_in(ids, identity.wards, svc.today())
            pseudonyms = outside_pseudonyms(graph, living | {citizen_id})
        shown = [cid for cid in ids if cid not in pseudonyms]
        events = await uow.cases.events_of(shown)
        statuses = {
            cid: timeline.fold(cid, events.get(cid, ()), policy=svc.isolation) for cid in shown
        }
        await uow.audit(AuditEvent("TraceContacts", CASE, tuple(shown), "ok"))
        await uow.commit()
    return Trace(graph, statuses, pseudonyms)


def new_event_id() -> str:
    return str(uuid.uuid4())
