"""What goes in and out of the ListImport workflow (dataclasses; evolve by adding defaulted
fields)."""

from __future__ import annotations

from dataclasses import dataclass

WORKFLOW = "ListImport"
PROGRESS = "progress"


def workflow_id(ward_code: str, list_id: str) -> str:
    """One process per list of a ward: starting the same list again joins it."""
    return f"list-import-{ward_code}-{list_id}"


def chunk_request_id(import_id: str, chunk_number: int) -> str:
    """The request id of a chunk's ApplyImportChunk: the import's own id (not the workflow
    id, which a later import of the same list id reuses, and which a 200-character list id
    would push past the 128 characters a request id may have) and the chunk."""
    return f"list-import:{import_id}:chunk-{chunk_number}"


def complete_request_id(import_id: str) -> str:
    return f"list-import:{import_id}:complete"


@dataclass
class ListToImport:
    """A list staged in case status (StageImport, StageImportRows)."""

    import_id: str
    ward_code: str
    list_id: str
    chunks: int
    rows: int


@dataclass
class ChunkToApply:
    import_id: str
    chunk_number: int
    request_id: str


@dataclass
class ChunkApplied:
    chunk_number: int
    rows: int
    applied: int
    unchanged: int
    needs_review: int
    rejected: int


@dataclass
class ImportToComplete:
    import_id: str
    request_id: str


@dataclass
class ImportSummary:
    import_id: str
    list_id: str
    rows: int
    applied: int
    unchanged: int
    needs_review: int
    rejected: int
    new_residents: int
    changed_residents: int
    dropped_residents: int


@dataclass
class ImportProgress:
    import_id: str
    # applying (chunks), completing (the summary), done, or refused.
    step: str
    chunks_done: int
    chunks_total: int
    rows_done: int
    rows_total: int
    # The rows applied so far, by outcome.
    applied: int = 0
    unchanged: int = 0
    needs_review: int = 0
    rejected: int = 0
    # Why case status refused the import (step refused).
    reason: str = ""

    def add(self, chunk: ChunkApplied) -> None:
        self.chunks_done += 1
        self.rows_done += chunk.rows
        self.applied += chunk.applied
        self.unchanged += chunk.unchanged
        self.needs_review += chunk.needs_review
        self.rejected += chunk.rejected


@dataclass
class ListImported:
    import_id: str
    # DONE, or REFUSED (case status refused a step for good: ``reason`` says which and why).
    outcome: str
    summary: ImportSummary | None = None
    reason: str = ""
