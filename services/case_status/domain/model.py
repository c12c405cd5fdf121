"""Case status values: classifications, status events, episodes, the folded status, contacts.

Numbering of every enum mirrors dancu.case_status.v1 (0 is the proto's UNSPECIFIED), so the
API converts by value.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

# Dates of cases (isolation days, contact dates) follow the country's calendar, whatever the
# server's zone.
VIETNAM_TIME = dt.timezone(dt.timedelta(hours=7), "ICT")


def vietnam_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(VIETNAM_TIME).date()


class Classification(enum.IntEnum):
    """F0 is the highest level; a smaller value is a higher level, CLEARED the lowest."""

    F0 = 1
    F1 = 2
    F2 = 3
    F3 = 4
    CLEARED = 5

    @property
    def distance(self) -> int | None:
        """Links from an F0: 0 for F0 ... 3 for F3; None for CLEARED."""
        return None if self is Classification.CLEARED else self.value - 1

    def is_higher_than(self, other: Classification) -> bool:
        return self.value < other.value

    @staticmethod
    def at_distance(distance: int) -> Classification:
        """The level ``distance`` links from an F0: 0 -> F0, 1 -> F1 ... 3 -> F3."""
        if not 0 <= distance <= 3:
            raise ValueError("levels exist for distances 0 to 3 only")
        return Classification(distance + 1)


class Outcome(enum.IntEnum):
    """How an episode ended; an episode still running has no outcome (None)."""

    RECOVERED = 1
    DECEASED = 2


class CareSetting(enum.IntEnum):
    HOSPITAL = 1
    CENTRALISED_QUARANTINE = 2  # cách ly tập trung
    HOME_ISOLATION = 3  # cách ly tại nhà


class HealthCondition(enum.IntEnum):
    ASYMPTOMATIC = 1
    MILD = 2
    MODERATE = 3
    SEVERE = 4
    CRITICAL = 5


class ContactSetting(enum.IntEnum):
    HOUSEHOLD = 1
    WORKPLACE = 2
    CHECKPOINT = 3
    OTHER = 4


class LevelOrigin(enum.IntEnum):
    # Reported by a health agency or set by hand: tracing never lowers it (see tracing.py).
    REPORTED = 1
    # Derived from exposure links; recomputed whenever a source changes.
    DERIVED = 2


@dataclass(frozen=True)
class Actor:
    subject: str
    agency: str


@dataclass(frozen=True)
class Source:
    """Who reported an event: the agency and, when known, its daily list or report."""

    agency: str
    list_id: str = ""
    report_ref: str = ""


@dataclass(frozen=True)
class Care:
    """Where care happens. ``ward_code`` is the facility's or the home's ward, so the ward
    where a person is treated sees them as well as the wards they live in."""

    setting: CareSetting
    ward_code: str
    facility: str = ""


@dataclass(frozen=True)
class StatusEvent:
    """One dated change of a resident's case status; never edited once recorded.

    Each of classification, outcome, care and condition is set only when the event changes
    it. A correction names the event it corrects and replaces it entirely (its own values
    take effect at its own effective time; no values at all retracts the corrected event).

    There is no episode id here on purpose: which episode an event belongs to depends on
    every event before it in effective time, so a backdated event can move the boundaries.
    The fold assigns episodes (``TimelineEntry.episode_id``).
    """

    event_id: str
    citizen_id: str
    effective_at: dt.datetime  # when it happened (timezone-aware)
    recorded_at: dt.datetime  # when it was entered
    source: Source
    recorded_by: Actor
    classification: Classification | None = None
    outcome: Outcome | None = None
    care: Care | None = None
    condition: HealthCondition | None = None
    reason: str = ""
    corrects_event_id: str | None = None
    origin: LevelOrigin = LevelOrigin.REPORTED

    @property
    def changes_something(self) -> bool:
        return any(
            value is not None
            for value in (self.classification, self.outcome, self.care, self.condition)
        )

    @property
    def opens_episode(self) -> bool:
        """An F0-F3 classification starts an episode when none is running."""
        return self.classification is not None and self.classification.distance is not None

    @property
    def closes_episode(self) -> bool:
        return self.outcome is not None or self.classification is Classification.CLEARED


class EntryState(enum.IntEnum):
    APPLIED = 1
    # A later correction replaced it; it stays in the timeline with the correction's reason.
    SUPERSEDED = 2
    # Kept but not applied: it does not fit the events before it (see ``problem``).
    REJECTED = 3


@dataclass(frozen=True)
class TimelineEntry:
    event: StatusEvent
    state: EntryState
    episode_id: str | None = None
    superseded_by: str | None = None
    correction_reason: str = ""
    # A stable reason when REJECTED: "RESIDENT_DECEASED", "NO_OPEN_EPISODE",
    # "RECOVERED_WITHOUT_F0".
    problem: str = ""


@dataclass(frozen=True)
class Episode:
    """One infection or one contact follow-up of one resident (a reinfection is a new one).

    ``episode_id`` is the id of the episode's earliest-*entered* event, a correction standing
    in for the event it corrects: neither a backdated event joining the episode nor a
    correction renames it.
    """

    episode_id: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    event_ids: tuple[str, ...]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class CaseStatus:
    """A resident's status at ``as_of``, folded from the events known at ``known_at``.

    After an episode ends its classification and outcome stay visible (a recovered F0 is
    ``F0`` + ``RECOVERED``) while care and condition are cleared: nobody is in care any more.
    """

    citizen_id: str
    as_of: dt.datetime | None  # None: every event, whatever its effective time
    known_at: dt.datetime | None  # None: every event entered so far
    classification: Classification | None = None
    origin: LevelOrigin | None = None
    classified_at: dt.datetime | None = None  # effective time of the event that set it
    outcome: Outcome | None = None
    care: Care | None = None
    condition: HealthCondition | None = None
    isolation_start: dt.date | None = None
    isolation_end: dt.date | None = None  # the last day of isolation, inclusive
    deceased_at: dt.datetime | None = None
    episodes: tuple[Episode, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()

    @property
    def episode(self) -> Episode | None:
        """The current episode, or the last one when none is running."""
        return self.episodes[-1] if self.episodes else None

    @property
    def in_episode(self) -> bool:
        return bool(self.episodes) and self.episodes[-1].is_open


@dataclass(frozen=True)
class ExposureLink:
    """ "``contact_id`` was in contact with ``source_id`` on ``contact_date`` in ``setting``".

    Contact is symmetric: tracing follows a link both ways. The names only record who was
    reported as the source when the link was entered.
    """

    contact_id: str
    source_id: str
    contact_date: dt.date
    setting: ContactSetting
    recorded_by: Actor
    note: str = ""

    @property
    def key(self) -> tuple[str, str, dt.date]:
        """Identity of the contact whichever way round it was entered."""
        low, high = sorted((self.contact_id, self.source_id))
        return low, high, self.contact_date

    def other(self, citizen_id: str) -> str:
        return self.source_id if citizen_id == self.contact_id else self.contact_id
