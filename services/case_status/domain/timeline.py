"""Folding a resident's status events into their case status, and accepting new events.

Two times per event: ``effective_at`` (when it happened) orders the fold, ``recorded_at``
(when it was entered) says what was known when. So the status is a function of both:
``fold(events, as_of=T)`` is the status at T as we know it now, and ``known_at=K`` replays what
the system believed at K (what a checkpoint was told on 16 September, before a correction).

Nothing is overwritten. A correction supersedes the event it names (which stays in the
timeline with the correction's reason); a backdated event simply sorts before later ones. Both
change everything computed after them (episodes, isolation end, current status), because the
status is always recomputed from all the events rather than updated in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from services.case_status.domain.model import (
    Care,
    CaseStatus,
    Classification,
    EntryState,
    Episode,
    HealthCondition,
    Outcome,
    StatusEvent,
    TimelineEntry,
    vietnam_date,
)
from services.kit.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)

# Days of isolation by level, counted from the day the level was (last) given, that day being
# day 1. F1: 14 days of quarantine (Ministry of Health dispatch 5599/BYT-MT of 14 July 2021,
# which cut it from 21); F0: 14 days, the planned minimum before discharge - an F0 stays a case
# until an outcome is recorded, whatever the date; F2: 14 days of home isolation as local
# practice was in 2021; F3: none (self-monitoring). Provinces and periods differed: configure.
DEFAULT_ISOLATION_DAYS: Mapping[Classification, int] = {
    Classification.F0: 14,
    Classification.F1: 14,
    Classification.F2: 14,
}

PROBLEM_MESSAGES = {
    "RESIDENT_DECEASED": "the resident is deceased: no status change after the death, "
    "except a correction of the death",
    "NO_OPEN_EPISODE": "the resident has no running episode at that time: classify first",
    "RECOVERED_WITHOUT_F0": "only a confirmed case (F0) recovers; contacts are CLEARED",
}


@dataclass(frozen=True)
class IsolationPolicy:
    """How long each level isolates; a level missing from ``days`` does not isolate."""

    days: Mapping[Classification, int] = field(default_factory=lambda: dict(DEFAULT_ISOLATION_DAYS))

    def __post_init__(self) -> None:
        if any(days < 1 for days in self.days.values()):
            raise ValueError("isolation lasts at least one day")


def fold(
    citizen_id: str,
    events: Iterable[StatusEvent],
    as_of: dt.datetime | None = None,
    *,
    known_at: dt.datetime | None = None,
    policy: IsolationPolicy | None = None,
) -> CaseStatus:
    """The status at ``as_of`` (None: after every event) from the events entered by
    ``known_at`` (None: all). Never raises: an event that does not fit is kept, REJECTED."""
    known = [e for e in events if known_at is None or e.recorded_at <= known_at]
    superseded_by = _corrections(known)
    ordered = sorted(known, key=lambda e: (e.effective_at, e.recorded_at, e.event_id))
    walk = _Walk(policy or IsolationPolicy(), _originals(known))
    for event in ordered:
        if as_of is not None and event.effective_at > as_of:
            break
        correction = superseded_by.get(event.event_id)
        if correction is None:
            walk.apply(event)
        else:
            walk.supersede(event, correction)
    return walk.status(citizen_id, as_of, known_at)


def _corrections(events: Sequence[StatusEvent]) -> dict[str, StatusEvent]:
    """Corrected event id -> the correction. A correction counts whatever its effective time:
    it says the corrected event was wrong, not that something changed later."""
    ids = {e.event_id for e in events}
    found: dict[str, StatusEvent] = {}
    for event in sorted(events, key=lambda e: (e.recorded_at, e.event_id)):
        if event.corrects_event_id is not None and event.corrects_event_id in ids:
            found[event.corrects_event_id] = event  # the latest entered wins (append forbids two)
    return found


def _originals(events: Sequence[StatusEvent]) -> dict[str, StatusEvent]:
    """Event id -> the event its chain of corrections started from (itself if none)."""
    by_id = {e.event_id: e for e in events}
    found = {}
    for event in events:
        original, seen = event, {event.event_id}
        while original.corrects_event_id in by_id and original.corrects_event_id not in seen:
            original = by_id[original.corrects_event_id]
            seen.add(original.event_id)
        found[event.event_id] = original
    return found


class _Walk:
    """The mutable state of one fold, applied event by event in effective-time order."""

    def __init__(self, policy: IsolationPolicy, originals: Mapping[str, StatusEvent]) -> None:
        self.policy = policy
        self.originals = originals
        self.classification: Classification | None = None
        self.classified_by: StatusEvent | None = None
        self.outcome: Outcome | None = None
        self.care: Care | None = None
        self.condition: HealthCondition | None = None
        self.deceased_at: dt.datetime | None = None
        # Isolation runs from the last event that gave an isolating level.
        self.isolating_level: Classification | None = None
        self.isolation_start: dt.date | None = None
        self.episodes: list[list[StatusEvent]] = []
        self.closed_at: list[dt.datetime | None] = []
        # (event, state, episode index, correction, problem)
        self.entries: list[tuple[StatusEvent, EntryState, int | None, StatusEvent | None, str]] = []

    @property
    def in_episode(self) -> bool:
        return bool(self.closed_at) and self.closed_at[-1] is None

    def supersede(self, event: StatusEvent, correction: StatusEvent) -> None:
        self.entries.append((event, EntryState.SUPERSEDED, None, correction, ""))

    def reject(self, event: StatusEvent, problem: str) -> None:
        self.entries.append((event, EntryState.REJECTED, None, None, problem))

    def apply(self, event: StatusEvent) -> None:
        if self.deceased_at is not None:
            self.reject(event, "RESIDENT_DECEASED")
            return
        if not event.changes_something:
            # A correction that only retracts: nothing to apply, wherever it falls.
            index = None
            if self.in_episode:
                self.episodes[-1].append(event)
                index = len(self.episodes) - 1
            self.entries.append((event, EntryState.APPLIED, index, None, ""))
            return
        if not self.in_episode:
            if event.opens_episode:
                self._open_episode()
            elif event.closes_episode and event.outcome is not Outcome.RECOVERED:
                self._apply_outside_episode(event)
                return
            else:
                self.reject(event, "NO_OPEN_EPISODE")
                return
        level = event.classification or self.classification
        if event.outcome is Outcome.RECOVERED and level is not Classification.F0:
            self.reject(event, "RECOVERED_WITHOUT_F0")
            return
        self._apply_values(event)
        self.episodes[-1].append(event)
        self.entries.append((event, EntryState.APPLIED, len(self.episodes) - 1, None, ""))

    def _apply_outside_episode(self, event: StatusEvent) -> None:
        """CLEARED or a death with no episode running: a fact about the resident that is part
        of no case (cleared before any level was derived; died of another cause)."""
        if event.classification is Classification.CLEARED:
            self.classification = event.classification
            self.classified_by = event
        if event.outcome is Outcome.DECEASED:
            self.deceased_at = event.effective_at
        self.entries.append((event, EntryState.APPLIED, None, None, ""))

    def _open_episode(self) -> None:
        self.episodes.append([])
        self.closed_at.append(None)
        self.classification = None
        self.classified_by = None
        self.outcome = None
        self.care = None
        self.condition = None
        self.isolating_level = None
        self.isolation_start = None

    def _apply_values(self, event: StatusEvent) -> None:
        if event.classification is not None:
            self.classification = event.classification
            self.classified_by = event
            if event.classification in self.policy.days:
                # Restating a level restarts its isolation: "14 days from the last exposure".
                self.isolating_level = event.classification
                self.isolation_start = vietnam_date(event.effective_at)
        if event.care is not None:
            self.care = event.care
        if event.condition is not None:
            self.condition = event.condition
        if event.outcome is not None:
            self.outcome = event.outcome
        if event.closes_episode:
            self.closed_at[-1] = event.effective_at
            self.care = None
            self.condition = None
            if event.outcome is Outcome.DECEASED:
                self.deceased_at = event.effective_at

    def _isolation_end(self) -> dt.date | None:
        if self.isolating_level is None or self.isolation_start is None:
            return None
        days = self.policy.days[self.isolating_level]
        end = self.isolation_start + dt.timedelta(days=days - 1)
        closed = self.closed_at[-1] if self.closed_at else None
        # An outcome or CLEARED ends isolation early, never late.
        return min(end, vietnam_date(closed)) if closed is not None else end

    def _episode_id(self, events: Sequence[StatusEvent]) -> str:
        """The id of the earliest-entered event, a correction standing in for the event it
        corrects: backdated events joining the episode and corrections do not rename it."""
        originals = [self.originals[e.event_id] for e in events]
        return min(originals, key=lambda e: (e.recorded_at, e.event_id)).event_id

    def status(
        self, citizen_id: str, as_of: dt.datetime | None, known_at: dt.datetime | None
    ) -> CaseStatus:
        episodes = tuple(
            Episode(
                episode_id=self._episode_id(events),
                opened_at=events[0].effective_at,
                closed_at=closed,
                event_ids=tuple(e.event_id for e in events),
            )
            for events, closed in zip(self.episodes, self.closed_at, strict=True)
        )
        timeline = tuple(
            TimelineEntry(
                event=event,
                state=state,
                episode_id=episodes[index].episode_id if index is not None else None,
                superseded_by=correction.event_id if correction is not None else None,
                correction_reason=correction.reason if correction is not None else "",
                problem=problem,
            )
            for event, state, index, correction, problem in self.entries
        )
        classified_by = self.classified_by
        return CaseStatus(
            citizen_id=citizen_id,
            as_of=as_of,
            known_at=known_at,
            classification=self.classification,
            origin=classified_by.origin if classified_by is not None else None,
            classified_at=classified_by.effective_at if classified_by is not None else None,
            outcome=self.outcome,
            care=self.care,
            condition=self.condition,
            isolation_start=self.isolation_start,
            isolation_end=self._isolation_end(),
            deceased_at=self.deceased_at,
            episodes=episodes,
            timeline=timeline,
        )


@dataclass(frozen=True)
class Appended:
    """The resident's status before and after a new event, all events considered."""

    before: CaseStatus
    after: CaseStatus
    # Events recorded earlier that the new one leaves unapplied (a death entered late voids
    # the changes dated after it). The service flags them for review.
    voided: tuple[str, ...] = ()

    @property
    def recomputed(self) -> tuple[str, ...]:
        """Names of the status values the event changed (what the outbox must announce)."""
        names = (
            "classification",
            "origin",
            "outcome",
            "care",
            "condition",
            "isolation_start",
            "isolation_end",
            "deceased_at",
            "episodes",
        )
        return tuple(n for n in names if getattr(self.before, n) != getattr(self.after, n))


def append(
    events: Sequence[StatusEvent],
    new: StatusEvent,
    *,
    policy: IsolationPolicy | None = None,
    field: str = "event",
    before: CaseStatus | None = None,
) -> Appended:
    """Accepts ``new`` into a resident's ``events`` (all of them, as recorded) or raises.

    ``new`` must already pass ``rules.validate_event``. Raises AlreadyExists for a repeated
    event id, NotFound for a correction of an unknown event, InvalidInput for a backdated
    event without a reason, PreconditionFailed when the event does not fit where it falls:
    after a death (RESIDENT_DECEASED), outside an episode (NO_OPEN_EPISODE), a recovery of a
    contact (RECOVERED_WITHOUT_F0), or a second correction of the same event. ``before`` is
    ``events`` folded under ``policy``, when the caller has it already (a list import folds
    each resident once).
    """
    by_id = {e.event_id: e for e in events}
    if new.event_id in by_id:
        raise AlreadyExists("EVENT_EXISTS", "an event with this id is already recorded")
    if any(e.citizen_id != new.citizen_id for e in events):
        raise ValueError("events of one resident only")
    if new.corrects_event_id is not None:
        _check_correctable(events, by_id, new.corrects_event_id)
    if before is None:
        before = fold(new.citizen_id, events, policy=policy)
    if new.corrects_event_id is None and not new.reason.strip() and _is_backdated(before, new):
        raise InvalidInput(
            [
                FieldViolation(
                    f"{field}.reason",
                    "REASON_REQUIRED",
                    "an event dated before already recorded ones must say why",
                )
            ]
        )
    after = fold(new.citizen_id, [*events, new], policy=policy)
    new_entry = next(e for e in after.timeline if e.event.event_id == new.event_id)
    if new_entry.state is EntryState.REJECTED:
        raise PreconditionFailed(new_entry.problem, PROBLEM_MESSAGES[new_entry.problem])
    # The new event wins over the ones after it that it contradicts (a death entered late, a
    # backdated recovery, a retracted F0): they stay in the timeline, REJECTED, and are
    # returned so the service can flag them for review.
    was_applied = {e.event.event_id for e in before.timeline if e.state is EntryState.APPLIED}
    voided = tuple(
        entry.event.event_id
        for entry in after.timeline
        if entry.state is EntryState.REJECTED and entry.event.event_id in was_applied
    )
    return Appended(before, after, voided)


def _check_correctable(
    events: Sequence[StatusEvent], by_id: Mapping[str, StatusEvent], target_id: str
) -> None:
    if target_id not in by_id:
        raise NotFound("EVENT_NOT_FOUND", "the corrected event is not one of the resident's")
    if any(e.corrects_event_id == target_id for e in events):
        # One correction per event keeps the history a chain: correct the correction.
        raise PreconditionFailed(
            "EVENT_ALREADY_CORRECTED", "the event was corrected already; correct the correction"
        )


def _is_backdated(before: CaseStatus, new: StatusEvent) -> bool:
    """Dated before an event that counts now, so it changes what follows it."""
    return any(
        entry.event.effective_at > new.effective_at
        for entry in before.timeline
        if entry.state is EntryState.APPLIED
    )
