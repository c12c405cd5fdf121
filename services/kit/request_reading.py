"""Reading request fields into Python values, collecting every violation on the way, so a
request reports all its malformed fields at once (AIP-193 BadRequest)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TypeVar

from google.type.date_pb2 import Date

from services.kit.errors import Validator

E = TypeVar("E", bound=enum.IntEnum)


class FieldReader:
    def __init__(self) -> None:
        self.violations = Validator()

    def date(self, value: Date, field: str, *, required: bool) -> dt.date | None:
        """``None`` for an unset date (a violation when ``required``) or an impossible one."""
        if value.year == 0 and value.month == 0 and value.day == 0:
            if required:
                self.violations.add(field, "DATE_REQUIRED", "is required")
            return None
        try:
            return dt.date(value.year, value.month, value.day)
        except ValueError:
            self.violations.add(field, "DATE_INVALID", "is not a calendar date")
            return None

    def enum(self, value: int, kind: type[E], field: str) -> E | None:
        """``None`` for UNSPECIFIED (the rules decide if it is required)."""
        if value == 0:
            return None
        try:
            return kind(value)
        except ValueError:
            self.violations.add(field, "ENUM_UNKNOWN", "is not a known value")
            return None

    def done(self) -> None:
        self.violations.raise_if_any()
