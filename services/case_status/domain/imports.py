"""Daily list imports: rows as submitted, their results, and day-over-day comparison.

A list arrives either whole (ImportCaseList: one call, one transaction) or staged in chunks
that are applied one transaction each (the ListImport workflow). Both number and check the
rows with ``number_rows`` and count them with ``summarise``, so a list gives the same results
either way.
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

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
# A staged chunk is one transaction and one activity: 5,000 rows are one registry batch, and
# 500 chunks keep a ListImport workflow's history near 3,000 events.
MAX_ROWS_PER_CHUNK = 5_000
MAX_CHUNKS_PER_IMPORT = 500


class ImportState(enum.IntEnum):
    # Created by StageImport: rows being staged, or chunks being applied.
    STAGED = 1
    # Summarised: every row has its result (ImportCaseList imports are created complete).
    COMPLETE = 2


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
class RowTally:
    """What the summary needs of a row: its outcome, who it is about and what it says."""

    outcome: RowOutcome
    row_key: str
    row_signature: str


@dataclass(frozen=True)
class StoredRow:
    """A submitted row with its result, as stored."""

    row: SubmittedRow
    result: RowResult
    row_key: str
    row_signature: str

    @property
    def tally(self) -> RowTally:
        return RowTally(self.result.outcome, self.row_key, self.row_signature)


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
    state: ImportState = ImportState.COMPLETE
    # A staged import: how many chunks, and who staged it (their subject and wards; the
    # agency is ``agency``). Its chunks are applied with that caller's scope, whoever applies.
    chunks: int = 0
    staged_by: str = ""
    staged_wards: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChunkCounts:
    """A chunk's rows by outcome, as recorded when it was applied."""

    rows: int = 0
    applied: int = 0
    unchanged: int = 0
    needs_review: int = 0
    rejected: int = 0

    @staticmethod
    def of(results: Iterable[RowResult]) -> ChunkCounts:
        counts = dict.fromkeys(RowOutcome, 0)
        for result in results:
            counts[result.outcome] += 1
        return ChunkCounts(
            rows=sum(counts.values()),
            applied=counts[RowOutcome.APPLIED],
            unchanged=counts[RowOutcome.UNCHANGED],
            needs_review=counts[RowOutcome.NEEDS_REVIEW],
            rejected=counts[RowOutcome.REJECTED],
        )


@dataclass(frozen=True)
class StagedChunk:
    chunk_number: int
    # The row numbers as sent, in order (their count is the chunk's size).
    row_numbers: tuple[int, ...]
    fingerprint: str
    # None until the chunk is applied.
    applied: ChunkCounts | None = None


@dataclass(frozen=True)
class Staging:
    """Where a staged import's chunks stand."""

    chunks: Sequence[StagedChunk] = field(default_factory=tuple)

    def complete(self, record: ImportRecord) -> bool:
        """Every chunk staged, with the rows the header announced."""
        numbers = sorted(c.chunk_number for c in self.chunks)
        rows = sum(len(c.row_numbers) for c in self.chunks)
        return numbers == list(range(record.chunks)) and rows == record.summary.rows

    def first_position(self, chunk_number: int) -> int:
        """The list position (1-based) of the chunk's first row: chunks follow each other in
        chunk-number order."""
        return 1 + sum(len(c.row_numbers) for c in self.chunks if c.chunk_number < chunk_number)

    def first_positions(self) -> dict[int, int]:
        ordered = sorted(self.chunks, key=lambda c: c.chunk_number)
        return first_positions(n for c in ordered for n in c.row_numbers)

    def pending(self) -> int:
        return sum(1 for c in self.chunks if c.applied is None)


def first_positions(row_numbers: Iterable[int]) -> dict[int, int]:
    """Row number as sent -> the list position (1-based) where it first appears."""
    first: dict[int, int] = {}
    for position, number in enumerate(row_numbers, start=1):
        first.setdefault(number, position)
    return first


def number_problem(row_number: int, position: int, first: Mapping[int, int]) -> str:
    """Why a row's number cannot name it: below 1, or taken by an earlier row of the list."""
    if row_number < 1:
        return "ROW_NUMBER_INVALID"
    if first.get(row_number, position) < position:
        return "ROW_NUMBER_DUPLICATE"
    return ""


def row_problem(row: SubmittedRow, today: dt.date, number: str = "") -> str:
    """The stable reason a row is malformed, or "" when it may be verified (``number``: the
    row number's problem, from ``number_problem``)."""
    if row.unreadable:
        return row.unreadable
    if number:
        return number
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


def number_rows(
    rows: Iterable[tuple[int, SubmittedRow]], today: dt.date, first: Mapping[int, int]
) -> tuple[list[SubmittedRow], dict[int, RowResult]]:
    """The rows (with their list positions) as they will be stored, and the results of the
    malformed ones. Row numbers are the sender's and may be wrong: a row whose number is
    missing or repeated (``first``: where each number first appears in the whole list) is
    numbered -position, so that every stored row has a number of its own."""
    numbered: list[SubmittedRow] = []
    results: dict[int, RowResult] = {}
    for position, row in rows:
        number = number_problem(row.row_number, position, first)
        if number:
            row = replace(row, row_number=-position)
        numbered.append(row)
        problem = row_problem(row, today, number)
        if problem:
            results[row.row_number] = RowResult(row.row_number, RowOutcome.REJECTED, reason=problem)
    return numbered, results


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
    rows: Sequence[RowTally],
    previous: dict[str, str] | None,
) -> ImportSummary:
    """Counts each outcome; compares the residents with the ward's previous list."""
    counts = dict.fromkeys(RowOutcome, 0)
    for tally in rows:
        counts[tally.outcome] += 1
    current = {t.row_key: t.row_signature for t in rows if t.outcome is not RowOutcome.REJECTED}
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
