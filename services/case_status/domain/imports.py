"""Daily list imports: rows as submitted, their results, and day-over-day comparison."""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from dataclasses import dataclass

from services.case_status.domain.model import (
    Care,
    CareSetting,
    CaseStatus,
    Classification,
    HealthCondition,
)
from services.kit.citizen_ids import is_well_formed

MAX_ROWS_PER_IMPORT = 100_000
MAX_TEXT = 500


class RowOutcome(enum.IntEnum):
    APPLIED = 1
    UNCHANGED = 2
    NEEDS_REVIEW = 3
    REJECTED = 4


@dataclass(frozen=True)
class ImportHeader:
    request_id: str
    list_id: str
    list_date: dt.date | None
    ward_code: str


@dataclass(frozen=True)
class SubmittedRow:
    """One row as the health agency wrote it (enums already read; None when unset or unknown;
    ``unreadable`` holds the reason when a field could not be read at all)."""

    row_number: int
    citizen_id: str
    full_name: str
    birth_date: dt.date | None
    ward_code: str
    street: str
    classification: Classification | None
    effective_date: dt.date | None
    care: Care | None
    condition: HealthCondition | None
    unreadable: str = ""


@dataclass(frozen=True)
class RowCandidate:
    citizen_id: str
    full_name: str
    birth_date: dt.date | None
    # Permanent residence ward; the temporary one when registered.
    ward_code: str
    deceased: bool = False
    temporary_ward: str = ""

    def lives_in(self, wards: frozenset[str]) -> bool:
        return self.ward_code in wards or (
            bool(self.temporary_ward) and self.temporary_ward in wards
        )


@dataclass(frozen=True)
class RowResult:
    row_number: int
    outcome: RowOutcome
    citizen_id: str = ""
    reason: str = ""
    differing_fields: tuple[str, ...] = ()
    candidates: tuple[RowCandidate, ...] = ()
    event_id: str = ""


@dataclass(frozen=True)
class StoredRow:
    """A submitted row with its result, as stored."""

    row: SubmittedRow
    result: RowResult
    row_key: str
    row_signature: str


@dataclass(frozen=True)
class ImportSummary:
    import_id: str
    list_id: str
    rows: int = 0
    applied: int = 0
    unchanged: int = 0
    needs_review: int = 0
    rejected: int = 0
    new_residents: int = 0
    changed_residents: int = 0
    dropped_residents: int = 0


@dataclass(frozen=True)
class ImportRecord:
    import_id: str
    agency: str
    request_id: str
    list_id: str
    ward_code: str
    list_date: dt.date
    created_at: dt.datetime
    summary: ImportSummary


def row_problem(row: SubmittedRow, today: dt.date, seen: set[int]) -> str:
    """The stable reason a row is malformed, or "" when it may be verified."""
    if row.unreadable:
        return row.unreadable
    if row.row_number < 1:
        return "ROW_NUMBER_INVALID"
    if row.row_number in seen:
        return "ROW_NUMBER_DUPLICATE"
    if row.citizen_id and not is_well_formed(row.citizen_id):
        return "CITIZEN_ID_MALFORMED"
    if not row.full_name:
        return "FULL_NAME_EMPTY"
    if not row.citizen_id and row.birth_date is None:
        return "BIRTH_DATE_REQUIRED"
    if any(len(text) > MAX_TEXT for text in (row.full_name, row.street, row.ward_code)):
        return "TOO_LONG"
    if row.classification is None:
        return "CLASSIFICATION_REQUIRED"
    if row.effective_date is None:
        return "EFFECTIVE_DATE_REQUIRED"
    if row.effective_date > today:
        return "EFFECTIVE_DATE_IN_FUTURE"
    if row.care is not None and not row.care.ward_code:
        return "CARE_WARD_REQUIRED"
    return ""


def normalise_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def row_key(row: SubmittedRow, citizen_id: str) -> str:
    """Who the row is about, comparable across days."""
    if citizen_id:
        return f"id:{citizen_id}"
    if row.citizen_id:
        return f"id:{row.citizen_id}"
    born = row.birth_date.isoformat() if row.birth_date else ""
    return f"name:{normalise_name(row.full_name)}|{born}"


def row_signature(row: SubmittedRow) -> str:
    """What the row says about the resident."""
    care = row.care
    return "|".join(
        str(v)
        for v in (
            int(row.classification) if row.classification else "",
            int(care.setting) if care else "",
            care.ward_code if care else "",
            care.facility if care else "",
            int(row.condition) if row.condition else "",
        )
    )


def says_the_same(row: SubmittedRow, status: CaseStatus) -> bool:
    """The current status already holds what the row reports."""
    if status.outcome is not None or status.classification is not row.classification:
        return False
    if row.care is not None and status.care != row.care:
        return False
    return row.condition is None or status.condition is row.condition


def care_of(setting: CareSetting | None, ward_code: str, facility: str) -> Care | None:
    return None if setting is None else Care(setting, ward_code, facility)


def summarise(
    import_id: str,
    list_id: str,
    rows: list[StoredRow],
    previous: dict[str, str] | None,
) -> ImportSummary:
    """Counts each outcome; compares the residents with the ward's previous list."""
    counts = dict.fromkeys(RowOutcome, 0)
    for stored in rows:
        counts[stored.result.outcome] += 1
    current = {
        s.row_key: s.row_signature for s in rows if s.result.outcome is not RowOutcome.REJECTED
    }
    before = previous or {}
    return ImportSummary(
        import_id=import_id,
        list_id=list_id,
        rows=len(rows),
        applied=counts[RowOutcome.APPLIED],
        unchanged=counts[RowOutcome.UNCHANGED],
        needs_review=counts[RowOutcome.NEEDS_REVIEW],
        rejected=counts[RowOutcome.REJECTED],
        new_residents=sum(1 for k in current if k not in before),
        changed_residents=sum(1 for k, sig in current.items() if k in before and before[k] != sig),
        dropped_residents=sum(1 for k in before if k not in current),
    )
