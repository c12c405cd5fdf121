"""The alerts service's values: checkpoints, scans, the watchlist, alerts and verdicts.

Enumerations carry the numbers of their protobuf counterparts, so the API converts them by
number; case-status enumerations keep case status's numbers.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")


def vietnam_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(VIETNAM).date()


class Classification(enum.IntEnum):
    F0 = 1
    F1 = 2
    F2 = 3
    F3 = 4
    CLEARED = 5


class Outcome(enum.IntEnum):
    RECOVERED = 1
    DECEASED = 2


class LevelOrigin(enum.IntEnum):
    REPORTED = 1
    DERIVED = 2


class CareSetting(enum.IntEnum):
    HOSPITAL = 1
    CENTRALISED_QUARANTINE = 2
    HOME_ISOLATION = 3


class Verdict(enum.IntEnum):
    PASS = 1
    WARN = 2


class AlertKind(enum.IntEnum):
    STATUS_CHANGE = 1
    CHECKPOINT_WARNING = 2
    RESIDENCE_CHANGE = 3


class WardRole(enum.IntEnum):
    PERMANENT_RESIDENCE = 1
    TEMPORARY_RESIDENCE = 2
    CARE_PLACE = 3
    CHECKPOINT = 4


class AlertState(enum.IntEnum):
    OPEN = 1
    ACKNOWLEDGED = 2
    VERIFIED = 3


class VerificationOutcome(enum.IntEnum):
    CONFIRMED_ACTIVE = 1
    ALREADY_RECOVERED = 2
    MISIDENTIFIED = 3
    OTHER = 4


class Period(enum.IntEnum):
    DAY = 1
    WEEK = 2
    MONTH = 3


@dataclass(frozen=True)
class Checkpoint:
    code: str
    name: str
    ward_code: str
    operating_agency: str
    reveal_level: bool
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class StatusChange:
    """One case-status event as case status publishes it (case_status.status_changed.v1):
    the resident's status after the event, plus the ward of the place of care."""

    event_id: str
    citizen_id: str
    classification: Classification | None
    level_origin: LevelOrigin | None
    outcome: Outcome | None
    effective_at: dt.datetime
    isolation_end: dt.date | None
    corrects_event_id: str | None
    care_ward_code: str | None


@dataclass(frozen=True)
class Residence:
    """Where the registry says a resident lives."""

    permanent_ward: str
    temporary_ward: str | None = None
    temporary_from: dt.date | None = None
    temporary_to: dt.date | None = None

    def temporary_active_on(self, day: dt.date) -> str | None:
        """The temporary ward when its registration covers ``day``."""
        if self.temporary_ward is None:
            return None
        if self.temporary_from is not None and day < self.temporary_from:
            return None
        if self.temporary_to is not None and day > self.temporary_to:
            return None
        return self.temporary_ward


@dataclass(frozen=True)
class AlertWard:
    ward_code: str
    role: WardRole


@dataclass(frozen=True)
class WatchEntry:
    """A resident's row in the watchlist: flagged when ``level`` is set. An entry whose level
    is None records that the resident is no longer flagged (replicas learn it from its
    change sequence). ``wards`` are where the resident's alerts go on a warning."""

    citizen_id: str
    level: Classification | None
    event_id: str
    effective_at: dt.datetime
    wards: tuple[AlertWard, ...]
    change_seq: int = 0


@dataclass(frozen=True)
class ScanDecision:
    """What the checkpoint is told, and which wards a WARN alerts."""

    verdict: Verdict
    level: Classification | None
    alert_wards: tuple[AlertWard, ...]
    event_id: str | None


@dataclass(frozen=True)
class Actor:
    subject: str
    agency: str


@dataclass(frozen=True)
class Verification:
    outcome: VerificationOutcome
    care_setting: CareSetting | None
    note: str
    verified_by: Actor
    verified_at: dt.datetime


@dataclass(frozen=True)
class Alert:
    alert_id: str
    cursor: int
    ward_code: str
    ward_role: WardRole
    kind: AlertKind
    citizen_id: str
    classification: Classification | None
    outcome: Outcome | None
    event_id: str | None
    checkpoint_code: str | None
    scan_id: str | None
    occurred_at: dt.datetime
    created_at: dt.datetime
    state: AlertState
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    verification: Verification | None = None


@dataclass(frozen=True)
class CaseFacts:
    """What case status says of a resident now."""

    classification: Classification | None
    outcome: Outcome | None


@dataclass(frozen=True)
class ReviewItem:
    review_item_id: str
    alert_id: str
    ward_code: str
    citizen_id: str
    reason: str
    case_classification: Classification | None
    case_outcome: Outcome | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Scan:
    scan_id: str
    checkpoint_code: str
    citizen_id: str
    scanned_at: dt.datetime
    recorded_at: dt.datetime
    verdict: Verdict


@dataclass(frozen=True)
class CoPresence:
    citizen_id: str
    checkpoint_code: str
    scanned_at: dt.datetime
    case_scanned_at: dt.datetime


@dataclass(frozen=True)
class NewAlert:
    """An alert to store; the database assigns its cursor and creation time."""

    alert_id: str
    source_id: str
    ward: AlertWard
    kind: AlertKind
    citizen_id: str
    classification: Classification | None
    outcome: Outcome | None
    event_id: str | None
    checkpoint_code: str | None
    scan_id: str | None
    occurred_at: dt.datetime
