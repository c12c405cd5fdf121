"""The ListImport workflow end to end: the real registry and case status over gRPC, the
worker's workflow and activities on the Temporal test server. A list of three thousand rows
staged in chunks of a hundred gives, row for row, the outcomes the same list streamed in one
call gives; the progress query follows the chunks; ``dancu import-list --workflow`` prints the
summary and the report as the streamed import does, and refuses while another import of the
same list runs."""

from __future__ import annotations

import argparse
import asyncio
import csv
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.cli import import_list
from services.kit.auth import TokenIssuer
from tests.integration.case_status_client import CDC, HOAN_KIEM_POLICE
from tests.integration.daily_lists import cohort, daily_list, header, stage
from tests.integration.registry_client import (
    SERVICE_CALLER,
    RegistryDatabase,
    name_tag,
    py_date,
    today,
)
from tests.integration.test_case_status_import import results, send
from tests.integration.test_cli_import_list import _summary_numbers
from workflows.gateways.case_status import CaseStatusGateway
from workflows.list_import.activities import ListImportActivities
from workflows.list_import.models import ImportProgress, ListImported, ListToImport
from workflows.list_import.starter import progress, start_import
from workflows.list_import.workflow import ListImport

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

    from services.kit.server import Server
    from tests.integration.case_status_client import CaseStatusClients

STREAMED_WARD, STAGED_WARD, CLI_WARD = "00097", "00127", "00130"
ROWS, CHUNK = 3000, 100
COHORT = 120


@asynccontextmanager
async def list_import_worker(
    client: Client, token_issuer: TokenIssuer, case_status: Server, queue: str
) -> AsyncIterator[Worker]:
    """The worker's ListImport workflow and activities, calling case status as a service."""
    token = token_issuer.issue(SERVICE_CALLER)
    gateway = CaseStatusGateway.connect(f"127.0.0.1:{case_status.port}", lambda: token)
    activities = ListImportActivities(gateway)
    try:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[ListImport],
            activities=[activities.apply_import_chunk, activities.complete_import],
        ) as worker:
            yield worker
    finally:
        await gateway.close()


def _by_row(found: list[pb.RowResult], people: list[str]) -> dict[int, tuple[Any, ...]]:
    """Each row's outcome, reason and resident (by their place in the cohort)."""
    place = {cid: n for n, cid in enumerate(people)}
    return {
        r.row_number: (
            r.outcome,
            r.reason,
            place.get(r.citizen_id, -1),
            bool(r.event_id),
            tuple(place.get(c.citizen_id, -1) for c in r.candidates),
        )
        for r in found
    }


def _counts(summary: Any) -> tuple[int, ...]:
    return (
        summary.rows,
        summary.applied,
        summary.unchanged,
        summary.needs_review,
        summary.rejected,
        summary.new_residents,
        summary.changed_residents,
        summary.dropped_residents,
    )


async def test_a_staged_list_applied_by_the_workflow_matches_the_streamed_import(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    case_status_server: Server,
    case_status_clients: CaseStatusClients,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    streamed_people = await cohort(registrar, STREAMED_WARD, COHORT)
    staged_people = await cohort(registrar, STAGED_WARD, COHORT)
    streamed_rows = daily_list(streamed_people, ROWS, STREAMED_WARD)
    staged_rows = daily_list(staged_people, ROWS, STAGED_WARD)

    whole = await send(
        case_status_clients, CDC, header(STREAMED_WARD), streamed_rows, per_message=1000
    )
    head = header(STAGED_WARD)
    staged = await stage(cdc, head, staged_rows, CHUNK)
    assert staged.chunks == ROWS // CHUNK
    queue = f"list-import-{uuid.uuid4().hex}"
    client = time_skipping.client
    seen: list[ImportProgress] = []
    async with list_import_worker(client, token_issuer, case_status_server, queue):
        list_to_import = ListToImport(
            staged.import_id, STAGED_WARD, head.list_id, staged.chunks, ROWS
        )
        started = await start_import(client, list_to_import, queue)
        assert started.import_id == staged.import_id
        # Starting the same list again joins the running workflow.
        joined = await start_import(client, list_to_import, queue)
        assert joined.handle.result_run_id == started.handle.result_run_id
        result = asyncio.ensure_future(started.handle.result())
        while not result.done():
            seen.append(await progress(started.handle))
            await asyncio.sleep(0.05)
        imported: ListImported = result.result()
        final = await progress(started.handle)
        events_after = await _list_events(case_db, head.list_id)

        # The same import once more after it finished: a new run that applies nothing twice.
        again = await start_import(client, list_to_import, queue)
        repeated: ListImported = await again.handle.result()
        assert await _list_events(case_db, head.list_id) == events_after

    assert imported.outcome == "DONE"
    assert imported.summary is not None
    assert repeated.summary == imported.summary
    streamed_results = _by_row(
        await results(cdc, whole.import_id, page_size=5000),
        [p.citizen_id for p in streamed_people],
    )
    staged_results = _by_row(
        await results(cdc, staged.import_id, page_size=5000),
        [p.citizen_id for p in staged_people],
    )
    assert staged_results == streamed_results
    assert _counts(imported.summary) == _counts(whole)
    outcomes = {r[0] for r in staged_results.values()}
    assert outcomes == {
        pb.ROW_OUTCOME_APPLIED,
        pb.ROW_OUTCOME_UNCHANGED,
        pb.ROW_OUTCOME_NEEDS_REVIEW,
        pb.ROW_OUTCOME_REJECTED,
    }
    reasons = {r[1] for r in staged_results.values()}
    assert {"ROW_NUMBER_DUPLICATE", "ROW_NUMBER_INVALID", "NO_MATCH"} <= reasons
    # One event per applied row, none twice.
    assert events_after == imported.summary.applied

    # The progress query: chunks done only grow, and the last answer adds up to the summary.
    done = [p.chunks_done for p in seen]
    assert done == sorted(done)
    assert any(0 < p.chunks_done < p.chunks_total for p in seen)
    assert (final.step, final.chunks_done, final.chunks_total) == ("done", 30, 30)
    assert (final.rows_done, final.rows_total) == (ROWS, ROWS)
    summary = imported.summary
    assert (final.applied, final.unchanged, final.needs_review, final.rejected) == (
        summary.applied,
        summary.unchanged,
        summary.needs_review,
        summary.rejected,
    )


async def _list_events(case_db: RegistryDatabase, list_id: str) -> int:
    value: int = await case_db.scalar(
        "SELECT count(*) FROM status_events WHERE source_list_id = %s", list_id
    )
    return value


def _options(argv: list[str]) -> import_list.Options:
    parser = argparse.ArgumentParser(prog="dancu import-list")
    import_list.add_arguments(parser)
    return import_list.options_from(parser.parse_args(argv))


async def test_import_list_with_workflow_prints_the_summary_and_replays(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    case_status_server: Server,
    registrar: RegistryServiceAsyncStub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    people = await cohort(registrar, CLI_WARD, 4)
    rows = daily_list(people, 12, CLI_WARD)
    listing = tmp_path / "list.csv"
    with listing.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(import_list.COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row.citizen_id,
                    row.full_name,
                    py_date(row.birth_date).isoformat(),
                    CLI_WARD,
                    "",
                    cpb.Classification.Name(row.classification).removeprefix("CLASSIFICATION_"),
                    today().isoformat(),
                    "",
                    "",
                    "",
                    "",
                ]
            )
    token_file = tmp_path / "cdc.jwt"
    token_file.write_text(token_issuer.issue(CDC))
    report = tmp_path / "report.csv"
    queue = f"list-import-cli-{uuid.uuid4().hex}"
    argv = [
        str(listing),
        *("--ward", CLI_WARD, "--list-id", f"cdc-{name_tag()}", "--date", today().isoformat()),
        *("--server", f"127.0.0.1:{case_status_server.port}", "--token-file", str(token_file)),
        *("--workflow", "--chunk-size", "5", "--report", str(report)),
        *("--temporal", time_skipping.client.service_client.config.target_host),
        *("--task-queue", queue),
    ]
    async with list_import_worker(time_skipping.client, token_issuer, case_status_server, queue):
        assert await import_list.run(_options(argv)) == 0
        first = capsys.readouterr().out
        # The same file again: the same import, its chunks applied already; nothing changes.
        assert await import_list.run(_options(argv)) == 0
        replay = capsys.readouterr().out

    numbers = _summary_numbers(first)
    assert numbers[0] == 12
    assert sum(numbers[1:5]) == 12
    assert _summary_numbers(replay) == numbers
    with report.open(newline="", encoding="utf-8") as got:
        lines = list(csv.DictReader(got))
    assert len(lines) == 12
    assert {line["outcome"] for line in lines} >= {"APPLIED", "NEEDS_REVIEW", "REJECTED"}


async def test_import_list_with_workflow_refused_exits_1(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    case_status_server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(",".join(import_list.COLUMNS) + "\n", encoding="utf-8")
    token_file = tmp_path / "police.jwt"
    token_file.write_text(token_issuer.issue(HOAN_KIEM_POLICE))
    argv = [
        str(listing),
        *("--ward", "00103", "--list-id", f"cdc-{name_tag()}", "--date", today().isoformat()),
        *("--server", f"127.0.0.1:{case_status_server.port}", "--token-file", str(token_file)),
        *("--workflow", "--temporal", time_skipping.client.service_client.config.target_host),
    ]

    assert await import_list.run(_options(argv)) == 1

    assert "PERMISSION_DENIED" in capsys.readouterr().err


async def test_import_list_with_workflow_refuses_while_another_import_of_the_list_runs(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    case_status_server: Server,
    cdc: CaseStatusServiceAsyncStub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    head = header(CLI_WARD)
    running = await stage(cdc, head, [], 1)
    queue = f"list-import-idle-{uuid.uuid4().hex}"
    # No worker polls this queue: the first import of the list stays running.
    await start_import(
        time_skipping.client, ListToImport(running.import_id, CLI_WARD, head.list_id, 0, 0), queue
    )
    listing = tmp_path / "list.csv"
    listing.write_text(",".join(import_list.COLUMNS) + "\n", encoding="utf-8")
    token_file = tmp_path / "cdc.jwt"
    token_file.write_text(token_issuer.issue(CDC))
    argv = [
        str(listing),
        *("--ward", CLI_WARD, "--list-id", head.list_id, "--date", today().isoformat()),
        *("--server", f"127.0.0.1:{case_status_server.port}", "--token-file", str(token_file)),
        *("--workflow", "--temporal", time_skipping.client.service_client.config.target_host),
        *("--task-queue", queue),
    ]

    assert await import_list.run(_options(argv)) == 1

    assert f"being imported already (import {running.import_id})" in capsys.readouterr().err
