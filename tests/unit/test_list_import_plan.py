"""How ``dancu import-list --workflow`` splits a list into chunks, and how the ListImport
workflow's progress adds up the chunks."""

from __future__ import annotations

from services.cli.import_list import MAX_CHUNKS, plan_chunks
from workflows.list_import.models import ChunkApplied, ImportProgress, chunk_request_id


def test_chunks_cover_every_row_once_in_order() -> None:
    chunks = plan_chunks(2_345, 1_000)

    assert [(c.start, c.stop) for c in chunks] == [(0, 1000), (1000, 2000), (2000, 2345)]
    assert plan_chunks(0, 1_000) == []


def test_a_list_too_long_for_its_chunk_size_gets_larger_chunks() -> None:
    chunks = plan_chunks(100_000, 10)

    assert len(chunks) == MAX_CHUNKS
    assert {len(c) for c in chunks} == {200}
    assert [i for c in chunks for i in c] == list(range(100_000))


def test_progress_adds_up_the_chunks() -> None:
    progress = ImportProgress("i", "applying", 0, 3, 0, 250)

    progress.add(ChunkApplied(0, 100, 60, 20, 10, 10))
    progress.add(ChunkApplied(1, 100, 50, 30, 10, 10))

    assert (progress.chunks_done, progress.rows_done) == (2, 200)
    assert (progress.applied, progress.unchanged, progress.needs_review, progress.rejected) == (
        110,
        50,
        20,
        20,
    )


def test_request_ids_name_the_import_and_fit_the_limit() -> None:
    request_id = chunk_request_id("0b3c5f0e-6a0e-4b7e-9d7c-2f1b8a9c0d1e", 499)

    assert request_id == "list-import:0b3c5f0e-6a0e-4b7e-9d7c-2f1b8a9c0d1e:chunk-499"
    assert len(request_id) <= 128
