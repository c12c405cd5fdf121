"""Numbering and checking rows, whole or in chunks; where a staged import's chunks stand."""

from __future__ import annotations

import datetime as dt

import pytest

from services.case_status.domain.imports import (
    ChunkCounts,
    ImportRecord,
    ImportState,
    ImportSummary,
    RowOutcome,
    RowResult,
    StagedChunk,
    Staging,
    SubmittedRow,
    first_positions,
    number_rows,
)
from services.case_status.domain.model import Classification

TODAY = dt.date(2021, 9, 18)


def _row(number: int, name: str = "Nguyễn Văn An", unreadable: str = "") -> SubmittedRow:
    return SubmittedRow(
        row_number=number,
        citizen_id="",
        full_name=name,
        birth_date=dt.date(1979, 3, 14),
        ward_code="00070",
        street="",
        classification=Classification.F1,
        effective_date=TODAY,
        care=None,
        condition=None,
        unreadable=unreadable,
    )


# Numbers as a sender may write them: repeated (one of them in a later chunk), missing, and a
# repeated number on an unreadable row.
NUMBERS = [1, 2, 2, 0, 5, 1, 7, 7, 9, 5]


def _whole(rows: list[SubmittedRow]) -> tuple[list[SubmittedRow], dict[int, RowResult]]:
    first = first_positions(r.row_number for r in rows)
    return number_rows(enumerate(rows, start=1), TODAY, first)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 10])
def test_chunks_number_and_reject_rows_as_the_whole_list_does(size: int) -> None:
    rows = [
        _row(n, unreadable="BIRTH_DATE_INVALID" if i == 7 else "") for i, n in enumerate(NUMBERS)
    ]
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    staging = Staging(
        tuple(
            StagedChunk(k, tuple(r.row_number for r in chunk), "") for k, chunk in enumerate(chunks)
        )
    )
    numbered: list[SubmittedRow] = []
    results: dict[int, RowResult] = {}
    for k, chunk in enumerate(chunks):
        start = staging.first_position(k)
        got, rejected = number_rows(enumerate(chunk, start=start), TODAY, staging.first_positions())
        numbered += got
        results |= rejected

    assert (numbered, results) == _whole(rows)


def test_repeated_and_missing_numbers_become_minus_their_position() -> None:
    numbered, results = _whole([_row(n) for n in NUMBERS])

    assert [r.row_number for r in numbered] == [1, 2, -3, -4, 5, -6, 7, -8, 9, -10]
    assert {n: r.reason for n, r in results.items()} == {
        -3: "ROW_NUMBER_DUPLICATE",
        -4: "ROW_NUMBER_INVALID",
        -6: "ROW_NUMBER_DUPLICATE",
        -8: "ROW_NUMBER_DUPLICATE",
        -10: "ROW_NUMBER_DUPLICATE",
    }
    assert {r.outcome for r in results.values()} == {RowOutcome.REJECTED}


def test_an_unreadable_row_with_a_repeated_number_keeps_its_reason_and_a_number_of_its_own() -> (
    None
):
    numbered, results = _whole([_row(4, unreadable="CLASSIFICATION_UNKNOWN")] * 2)

    assert [r.row_number for r in numbered] == [4, -2]
    assert [results[4].reason, results[-2].reason] == ["CLASSIFICATION_UNKNOWN"] * 2


def _record(rows: int, chunks: int) -> ImportRecord:
    return ImportRecord(
        "i",
        "cdc",
        "r",
        "l",
        "00070",
        TODAY,
        dt.datetime(2021, 9, 18, tzinfo=dt.UTC),
        ImportSummary("i", "l", rows=rows),
        ImportState.STAGED,
        chunks,
    )


def test_staging_is_complete_with_every_chunk_and_row() -> None:
    one = StagedChunk(0, (1, 2, 3), "a")
    two = StagedChunk(1, (4, 5), "b", ChunkCounts(2, 1, 1))
    staging = Staging((two, one))

    assert staging.complete(_record(5, 2))
    assert not staging.complete(_record(6, 2))
    assert not staging.complete(_record(5, 3))
    assert not Staging((two,)).complete(_record(2, 2))
    assert (staging.first_position(0), staging.first_position(1)) == (1, 4)
    assert staging.pending() == 1


def test_chunk_counts_count_each_outcome() -> None:
    results = [RowResult(n, outcome) for n, outcome in enumerate(RowOutcome, start=1)]

    assert ChunkCounts.of([*results, results[0]]) == ChunkCounts(5, 2, 1, 1, 1)
