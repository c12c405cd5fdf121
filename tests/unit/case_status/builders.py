"""Values for the case-status domain tests: residents, times, events, links."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from services.case_status.domain.model import (
    VIETNAM_TIME,
    Actor,
    ContactSetting,
    ExposureLink,
    Source,
    StatusEvent,
)

HOAN_KIEM = "00070"
OFFICER = Actor("officer-1", "ca-hoan-kiem")
HEALTH = Source("cdc-ha-noi", list_id="cdc-hoan-kiem-2021-09-18")

_ids = itertools.count(1)


def citizen(serial: int) -> str:
    """A well-formed citizen id (Hà Nội, male, born 1990)."""
    return f"001090{serial:06d}"


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2021, month, day, hour, tzinfo=VIETNAM_TIME)


def day(month: int, day: int) -> dt.date:
    return dt.date(2021, month, day)


def event(
    citizen_id: str,
    effective_at: dt.datetime,
    *,
    event_id: str | None = None,
    recorded_at: dt.datetime | None = None,
    **values: Any,
) -> StatusEvent:
    """An event recorded an hour after it happened unless told otherwise."""
    return StatusEvent(
        event_id=event_id or f"ev-{next(_ids)}",
        citizen_id=citizen_id,
        effective_at=effective_at,
        recorded_at=recorded_at or effective_at + dt.timedelta(hours=1),
        source=HEALTH,
        recorded_by=OFFICER,
        **values,
    )


def link(
    contact: str,
    source: str,
    on: dt.date,
    setting: ContactSetting = ContactSetting.OTHER,
) -> ExposureLink:
    return ExposureLink(contact, source, on, setting, OFFICER)
