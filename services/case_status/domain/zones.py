"""Epidemic zones (khoanh vùng): wards under lockdown or watch for a period.

A zone is declared with its wards and start, and ended once; these rules check a declaration
and an ending on their own and report every problem at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from services.kit.errors import PreconditionFailed, Validator

MAX_ZONE_WARDS = 200
MAX_NAME_LENGTH = 300
MAX_WARD_PROBLEMS = 20
MAX_REASON_LENGTH = 1000


@dataclass(frozen=True)
class Zone:
    zone_id: str
    name: str
    ward_codes: tuple[str, ...]
    start_at: dt.datetime
    end_at: dt.datetime | None
    reason: str
    # Why the zone was ended (empty while it is in force or ended at declaration).
    end_reason: str = ""


def validate_declaration(zone: Zone, ward_exists: Callable[[str], bool]) -> None:
    v = Validator()
    v.check(bool(zone.name.strip()), "zone.name", "NAME_REQUIRED", "give the zone a name")
    v.check(len(zone.name) <= MAX_NAME_LENGTH, "zone.name", "TOO_LONG", "is too long")
    if v.check(
        1 <= len(zone.ward_codes) <= MAX_ZONE_WARDS,
        "zone.ward_codes",
        "WARD_COUNT",
        f"give 1 to {MAX_ZONE_WARDS} wards",
    ):
        _check_wards(v, zone.ward_codes, ward_exists)
    v.check(bool(zone.reason.strip()), "zone.reason", "REASON_REQUIRED", "say why")
    v.check(len(zone.reason) <= MAX_REASON_LENGTH, "zone.reason", "TOO_LONG", "is too long")
    if zone.end_at is not None:
        v.check(
            zone.end_at > zone.start_at,
            "zone.end_time",
            "PERIOD_REVERSED",
            "must be after start_time",
        )
    v.raise_if_any()


def _check_wards(v: Validator, wards: tuple[str, ...], ward_exists: Callable[[str], bool]) -> None:
    """Names the first few bad wards only: an error status must stay small enough to send."""
    seen: set[str] = set()
    problems = 0
    for i, ward in enumerate(wards):
        if problems == MAX_WARD_PROBLEMS:
            break
        if not ward_exists(ward):
            v.add(f"zone.ward_codes[{i}]", "WARD_UNKNOWN", "is not an official ward code")
            problems += 1
        elif ward in seen:
            v.add(f"zone.ward_codes[{i}]", "WARD_REPEATED", "appears twice")
            problems += 1
        seen.add(ward)


def end_zone(zone: Zone, end_at: dt.datetime, reason: str) -> Zone:
    """The zone ended at ``end_at``; refused when it has ended already."""
    v = Validator()
    v.check(bool(reason.strip()), "reason", "REASON_REQUIRED", "say why the zone ends")
    v.check(len(reason) <= MAX_REASON_LENGTH, "reason", "TOO_LONG", "is too long")
    v.check(end_at > zone.start_at, "end_time", "PERIOD_REVERSED", "must be after start_time")
    v.raise_if_any()
    if zone.end_at is not None:
        raise PreconditionFailed("ZONE_ENDED", "the zone has ended already")
    return dataclasses.replace(zone, end_at=end_at, end_reason=reason.strip())
