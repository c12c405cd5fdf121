"""``dancu import-list``: stream a health agency's daily CSV list to ImportCaseList, or, with
``--workflow``, stage it in chunks (StageImport, StageImportRows) and have the ListImport
workflow apply them, following its progress.

Every CSV row gets a result. A row whose value cannot be put in the request (a date that is
not YYYY-MM-DD, an unknown classification, care setting or condition, too many fields) is
rejected here, with a reason, and not sent; every other row is sent as written and the server
decides (applied, unchanged, needs review, rejected). Row numbers are the CSV line numbers
(the header is line 1).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import datetime as dt
import hashlib
import math
import os
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc
from google.type.date_pb2 import Date
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from services.cli import devenv
from services.kit.channels import open_channel, retry_service_config
from services.kit.temporal import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, connect
from workflows.list_import import starter
from workflows.list_import.models import ImportProgress, ListToImport
from workflows.list_import.models import ImportSummary as WorkflowSummary

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub

COLUMNS = (
    "citizen_id",
    "full_name",
    "birth_date",
    "ward_code",
    "street",
    "classification",
    "effective_date",
    "care_setting",
    "care_ward_code",
    "care_facility",
    "condition",
)
ROWS_PER_MESSAGE = 1_000
# --workflow: rows per staged chunk (one activity each); case status takes 1 to 5,000 rows a
# chunk and at most 500 chunks, so a larger list gets larger chunks.
DEFAULT_CHUNK_SIZE = 1_000
MAX_CHUNK_SIZE = 5_000
MAX_CHUNKS = 500
PROGRESS_POLL_SECONDS = 0.5
DEFAULT_TEMPORAL = "127.0.0.1:7233"
RESULTS_PAGE_SIZE = 5_000
SHOWN_PROBLEM_ROWS = 20
STREAM_TIMEOUT_SECONDS = 600.0
DEFAULT_SERVER = "127.0.0.1:50052"
DEFAULT_PERSONA = "ward-police-hoan-kiem"
SERVICE = "dancu.case_status.v1.CaseStatusService"

CLASSIFICATIONS = {
    "F0": cpb.CLASSIFICATION_F0,
    "F1": cpb.CLASSIFICATION_F1,
    "F2": cpb.CLASSIFICATION_F2,
    "F3": cpb.CLASSIFICATION_F3,
    "CLEARED": cpb.CLASSIFICATION_CLEARED,
}
CARE_SETTINGS = {
    "HOSPITAL": cpb.CARE_SETTING_HOSPITAL,
    "CENTRALISED_QUARANTINE": cpb.CARE_SETTING_CENTRALISED_QUARANTINE,
    "HOME_ISOLATION": cpb.CARE_SETTING_HOME_ISOLATION,
}
CONDITIONS = {
    "ASYMPTOMATIC": cpb.HEALTH_CONDITION_ASYMPTOMATIC,
    "MILD": cpb.HEALTH_CONDITION_MILD,
    "MODERATE": cpb.HEALTH_CONDITION_MODERATE,
    "SEVERE": cpb.HEALTH_CONDITION_SEVERE,
    "CRITICAL": cpb.HEALTH_CONDITION_CRITICAL,
}
REPORT_COLUMNS = (
    "row_number",
    "outcome",
    "citizen_id",
    "reason",
    "detail",
    "differing_fields",
    "candidates",
    "event_id",
)


class InputError(Exception):
    """The file cannot be read as a list (missing columns, unknown columns, not CSV)."""


@dataclass(frozen=True)
class Options:
    file: Path
    ward: str
    list_id: str
    list_date: dt.date
    server: str = DEFAULT_SERVER
    token_file: Path | None = None
    persona: str = DEFAULT_PERSONA
    request_id: str | None = None
    report: Path | None = None
    # Staged in chunks and applied by the ListImport workflow on Temporal.
    workflow: bool = False
    chunk_size: int = DEFAULT_CHUNK_SIZE
    temporal: str = DEFAULT_TEMPORAL
    namespace: str = DEFAULT_NAMESPACE
    task_queue: str = DEFAULT_TASK_QUEUE


@dataclass(frozen=True)
class LocalRejection:
    row_number: int
    reasons: tuple[str, ...]
    details: tuple[str, ...]


@dataclass
class ParsedList:
    rows: list[pb.ImportRow] = field(default_factory=list)
    rejected: list[LocalRejection] = field(default_factory=list)


@dataclass(frozen=True)
class ResultLine:
    """One row's result, from the server or from the local checks."""

    row_number: int
    outcome: str
    citizen_id: str = ""
    reason: str = ""
    detail: str = ""
    differing_fields: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    event_id: str = ""

    @staticmethod
    def of(result: pb.RowResult) -> ResultLine:
        return ResultLine(
            row_number=result.row_number,
            outcome=outcome_name(result.outcome),
            citizen_id=result.citizen_id,
            reason=result.reason,
            differing_fields=tuple(result.differing_fields),
            candidates=tuple(c.citizen_id for c in result.candidates),
            event_id=result.event_id,
        )

    @staticmethod
    def local(rejection: LocalRejection) -> ResultLine:
        return ResultLine(
            row_number=rejection.row_number,
            outcome="REJECTED",
            reason=rejection.reasons[0],
            detail="; ".join(("rejected locally, not sent", *rejection.details)),
        )


def outcome_name(outcome: int) -> str:
    return pb.RowOutcome.Name(outcome).removeprefix("ROW_OUTCOME_")  # type: ignore[arg-type]


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the list as CSV with a header row")
    parser.add_argument("--ward", required=True, help="the ward the list is for, e.g. 00070")
    parser.add_argument("--list-id", required=True, help="the sender's list identifier")
    parser.add_argument("--date", required=True, type=_day, help="the list's day (YYYY-MM-DD)")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="case status gRPC address")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--token-file", type=Path, help="a file holding a bearer token")
    who.add_argument(
        "--persona",
        choices=sorted(devenv.PERSONAS),
        default=DEFAULT_PERSONA,
        help="use the development token of this persona (.dancu/tokens/NAME.jwt)",
    )
    parser.add_argument(
        "--request-id",
        help="idempotency key; default: derived from the list id, ward, date and file "
        "content, so running the same file again replays the first import",
    )
    parser.add_argument("--report", type=Path, help="write every row's result to this CSV")
    parser.add_argument(
        "--workflow",
        action="store_true",
        help="stage the list in chunks and let the ListImport workflow apply them (for lists "
        "of tens of thousands of rows: survives a worker restart, shows progress)",
    )
    parser.add_argument(
        "--chunk-size",
        type=_chunk_size,
        default=DEFAULT_CHUNK_SIZE,
        help=f"rows per chunk with --workflow (1 to {MAX_CHUNK_SIZE})",
    )
    parser.add_argument(
        "--temporal",
        default=os.environ.get("DANCU_TEMPORAL_ADDRESS", DEFAULT_TEMPORAL),
        help="the Temporal frontend, with --workflow",
    )
    parser.add_argument(
        "--namespace", default=os.environ.get("DANCU_TEMPORAL_NAMESPACE", DEFAULT_NAMESPACE)
    )
    parser.add_argument(
        "--task-queue", default=os.environ.get("DANCU_TEMPORAL_TASK_QUEUE", DEFAULT_TASK_QUEUE)
    )


def _chunk_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_CHUNK_SIZE:
        raise argparse.ArgumentTypeError(f"a chunk holds 1 to {MAX_CHUNK_SIZE} rows")
    return size


def plan_chunks(rows: int, chunk_size: int) -> list[range]:
    """The positions (0-based) of each chunk's rows: ``chunk_size`` a chunk, or more when the
    list would otherwise need more than MAX_CHUNKS chunks."""
    size = max(chunk_size, math.ceil(rows / MAX_CHUNKS))
    return [range(start, min(start + size, rows)) for start in range(0, rows, size)]


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        file=args.file,
        ward=args.ward,
        list_id=args.list_id,
        list_date=args.date,
        server=args.server,
        token_file=args.token_file,
        persona=args.persona,
        request_id=args.request_id,
        report=args.report,
        workflow=args.workflow,
        chunk_size=args.chunk_size,
        temporal=args.temporal,
        namespace=args.namespace,
        task_queue=args.task_queue,
    )


def default_request_id(list_id: str, ward: str, list_date: dt.date, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()[:24]
    return f"import-list:{list_id[:64]}:{ward}:{list_date.isoformat()}:{digest}"


def _date(value: str, column: str, problems: list[tuple[str, str]]) -> Date | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        problems.append((f"{column.upper()}_INVALID", f"{column} {value!r} is not YYYY-MM-DD"))
        return None
    return Date(year=day.year, month=day.month, day=day.day)


def _enum(
    value: str, column: str, names: Mapping[str, int], problems: list[tuple[str, str]]
) -> int:
    if not value:
        return 0
    found = names.get(value.upper())
    if found is None:
        problems.append(
            (f"{column.upper()}_UNKNOWN", f"{column} {value!r} is not one of {', '.join(names)}")
        )
        return 0
    return found


def parse_row(number: int, values: dict[str, str]) -> pb.ImportRow | LocalRejection:
    problems: list[tuple[str, str]] = []
    row = pb.ImportRow(
        row_number=number,
        citizen_id=values["citizen_id"],
        full_name=values["full_name"],
        ward_code=values["ward_code"],
        street=values["street"],
    )
    birth = _date(values["birth_date"], "birth_date", problems)
    if birth is not None:
        row.birth_date.CopyFrom(birth)
    effective = _date(values["effective_date"], "effective_date", problems)
    if effective is not None:
        row.effective_date.CopyFrom(effective)
    row.classification = _enum(  # type: ignore[assignment]
        values["classification"], "classification", CLASSIFICATIONS, problems
    )
    row.condition = _enum(  # type: ignore[assignment]
        values["condition"], "condition", CONDITIONS, problems
    )
    setting = _enum(values["care_setting"], "care_setting", CARE_SETTINGS, problems)
    if setting or values["care_ward_code"] or values["care_facility"]:
        row.care.CopyFrom(
            cpb.Care(
                setting=setting,  # type: ignore[arg-type]
                ward_code=values["care_ward_code"],
                facility=values["care_facility"],
            )
        )
    if problems:
        return LocalRejection(
            number, tuple(code for code, _ in problems), tuple(text for _, text in problems)
        )
    return row


def parse_csv(text: str) -> ParsedList:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise InputError("the file is empty (a header row is required)") from None
    except csv.Error as error:
        raise InputError(f"line 1: {error}") from None
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise InputError(
            f"the header must name the columns {', '.join(COLUMNS)} once each "
            f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'})"
        )
    parsed = ParsedList()
    while True:
        number = reader.line_num + 1  # the line the record starts on
        try:
            record = next(reader)
        except StopIteration:
            return parsed
        except csv.Error as error:
            raise InputError(f"line {number}: {error}") from None
        if not record or all(not v.strip() for v in record):
            continue  # a blank line is not a row
        if len(record) > len(header):
            parsed.rejected.append(
                LocalRejection(
                    number,
                    ("TOO_MANY_FIELDS",),
                    (f"{len(record)} fields for {len(header)} columns",),
                )
            )
            continue
        values = dict.fromkeys(COLUMNS, "")
        values.update({name: value.strip() for name, value in zip(header, record, strict=False)})
        result = parse_row(number, values)
        if isinstance(result, LocalRejection):
            parsed.rejected.append(result)
        else:
            parsed.rows.append(result)


def _token(options: Options) -> str:
    path = options.token_file or devenv.DevEnv.from_env().tokens_dir / f"{options.persona}.jwt"
    try:
        return path.read_text().strip()
    except OSError as error:
        raise InputError(
            f"cannot read the token {path}: {error.strerror} "
            "(run `dancu start` for persona tokens, or give --token-file)"
        ) from None


def _chunks(rows: list[pb.ImportRow]) -> Iterable[list[pb.ImportRow]]:
    for start in range(0, len(rows), ROWS_PER_MESSAGE):
        yield rows[start : start + ROWS_PER_MESSAGE]


async def _messages(
    header: pb.ImportHeader, rows: list[pb.ImportRow], progress: Progress
) -> AsyncIterator[pb.ImportCaseListRequest]:
    task = progress.add_task("sending rows", total=len(rows))
    yield pb.ImportCaseListRequest(header=header)
    for chunk in _chunks(rows):
        yield pb.ImportCaseListRequest(rows=pb.ImportRows(rows=chunk))
        progress.advance(task, len(chunk))
    progress.update(task, description="waiting for the server")


async def _results(
    stub: CaseStatusServiceAsyncStub, import_id: str, outcome: int = 0, limit: int | None = None
) -> list[ResultLine]:
    found: list[ResultLine] = []
    token = ""
    while True:
        page_size = RESULTS_PAGE_SIZE if limit is None else min(limit, RESULTS_PAGE_SIZE)
        page = await stub.ListImportResults(
            pb.ListImportResultsRequest(
                import_id=import_id,
                outcome=outcome,  # type: ignore[arg-type]
                page_size=page_size,
                page_token=token,
            )
        )
        found.extend(ResultLine.of(r) for r in page.results)
        token = page.next_page_token
        if not token or (limit is not None and len(found) >= limit):
            return found if limit is None else found[:limit]


def _summary_table(summary: pb.ImportSummary, local_rejected: int) -> Table:
    table = Table(title=f"import {summary.import_id} of list {summary.list_id}")
    table.add_column("rows", justify="right")
    table.add_column("applied", justify="right")
    table.add_column("unchanged", justify="right")
    table.add_column("needs review", justify="right")
    table.add_column("rejected", justify="right")
    table.add_column("new", justify="right")
    table.add_column("changed", justify="right")
    table.add_column("dropped", justify="right")
    table.add_row(
        *(
            f"{n:,}"
            for n in (
                summary.rows + local_rejected,
                summary.applied,
                summary.unchanged,
                summary.needs_review,
                summary.rejected + local_rejected,
                summary.new_residents,
                summary.changed_residents,
                summary.dropped_residents,
            )
        )
    )
    return table


def _problem_table(lines: list[ResultLine], total: int) -> Table:
    shown = f"first {len(lines)} of {total:,}" if total > len(lines) else f"{total:,}"
    table = Table(title=f"rows needing review or rejected ({shown})")
    table.add_column("row", justify="right")
    table.add_column("outcome")
    table.add_column("reason")
    table.add_column("detail")
    table.add_column("candidates")
    for line in lines:
        detail = line.detail or (
            f"differs: {', '.join(line.differing_fields)}" if line.differing_fields else ""
        )
        table.add_row(
            str(line.row_number),
            line.outcome,
            line.reason,
            detail,
            ", ".join(line.candidates),
        )
    return table


def write_report(path: Path, lines: list[ResultLine]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)
        for line in lines:
            writer.writerow(
                [
                    line.row_number,
                    line.outcome,
                    line.citizen_id,
                    line.reason,
                    line.detail,
                    ";".join(line.differing_fields),
                    ";".join(line.candidates),
                    line.event_id,
                ]
            )


class ImportRefused(Exception):
    """The workflow could not take the list (another import of it runs), or case status
    refused a step of it for good."""


async def _through_workflow(
    stub: CaseStatusServiceAsyncStub,
    options: Options,
    header: pb.ImportHeader,
    rows: list[pb.ImportRow],
    bar: Progress,
) -> pb.ImportSummary:
    """Stages the rows chunk by chunk (a re-run with the same request id finds the import and
    its chunks staged already), starts or joins the list's workflow and follows its progress;
    the summary it ends with."""
    chunks = plan_chunks(len(rows), options.chunk_size)
    staged = await stub.StageImport(
        pb.StageImportRequest(header=header, rows=len(rows), chunks=len(chunks))
    )
    task = bar.add_task("staging rows", total=len(rows))
    for number, positions in enumerate(chunks):
        await stub.StageImportRows(
            pb.StageImportRowsRequest(
                import_id=staged.import_id,
                chunk_number=number,
                rows=[rows[i] for i in positions],
            )
        )
        bar.advance(task, len(positions))
    bar.update(task, visible=False)
    client = await connect(options.temporal, options.namespace)
    started = await starter.start_import(
        client,
        ListToImport(staged.import_id, header.ward_code, header.list_id, len(chunks), len(rows)),
        options.task_queue,
    )
    if started.import_id != staged.import_id:
        raise ImportRefused(
            f"list {header.list_id} of ward {header.ward_code} is being imported already "
            f"(import {started.import_id}); run again once it is done"
        )
    applying = bar.add_task("applying chunks", total=len(rows))
    result = asyncio.ensure_future(started.handle.result())
    try:
        while not result.done():
            try:
                now: ImportProgress = await starter.progress(started.handle)
            except (RPCError, WorkflowQueryFailedError):
                # No worker has answered yet: the workflow waits for one, and so does this.
                bar.update(applying, description="waiting for a worker")
            else:
                bar.update(
                    applying,
                    completed=now.rows_done,
                    description=f"{now.step}: chunk {now.chunks_done} of {now.chunks_total}",
                )
            await asyncio.wait([result], timeout=PROGRESS_POLL_SECONDS)
        imported = result.result()
    finally:
        result.cancel()
    if imported.summary is None:
        raise ImportRefused(imported.reason or imported.outcome)
    return _summary_message(imported.summary)


def _summary_message(summary: WorkflowSummary) -> pb.ImportSummary:
    # The workflow's summary has the message's fields, by name.
    return pb.ImportSummary(**dataclasses.asdict(summary))


def _refusal(error: grpc.aio.AioRpcError) -> str:
    code = error.code()
    name = code.name if code is not None else "UNKNOWN"
    return f"import failed: {name}: {error.details() or ''}"


async def run(options: Options) -> int:
    """Runs the command; returns the exit code (0 imported, 1 refused, 2 bad input)."""
    out = Console()
    err = Console(stderr=True)
    try:
        content = options.file.read_bytes()
        parsed = parse_csv(content.decode("utf-8-sig"))
        token = _token(options)
    except (InputError, UnicodeDecodeError) as error:
        err.print(f"[red]{options.file}: {error}[/red]", highlight=False)
        return 2
    except OSError as error:
        err.print(f"[red]{options.file}: {error.strerror}[/red]", highlight=False)
        return 2
    request_id = options.request_id or default_request_id(
        options.list_id, options.ward, options.list_date, content
    )
    header = pb.ImportHeader(
        request_id=request_id,
        list_id=options.list_id,
        list_date=Date(
            year=options.list_date.year, month=options.list_date.month, day=options.list_date.day
        ),
        ward_code=options.ward,
    )
    local = [ResultLine.local(r) for r in parsed.rejected]
    channel = open_channel(
        options.server,
        token=lambda: token,
        # Staging is idempotent (by the request id, by the chunk): safe to send again.
        service_config=retry_service_config(
            SERVICE, ["ListImportResults", "StageImport", "StageImportRows"]
        ),
    )
    try:
        stub: CaseStatusServiceAsyncStub = pb_grpc.CaseStatusServiceStub(channel)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        ) as bar:
            if options.workflow:
                summary = await _through_workflow(stub, options, header, parsed.rows, bar)
            else:
                response = await stub.ImportCaseList(
                    _messages(header, parsed.rows, bar),
                    metadata=[("authorization", f"Bearer {token}")],
                    timeout=STREAM_TIMEOUT_SECONDS,
                )
                summary = response.summary
        problems = sorted(
            [
                *await _results(
                    stub, summary.import_id, pb.ROW_OUTCOME_NEEDS_REVIEW, SHOWN_PROBLEM_ROWS
                ),
                *await _results(
                    stub, summary.import_id, pb.ROW_OUTCOME_REJECTED, SHOWN_PROBLEM_ROWS
                ),
                *local,
            ],
            key=lambda line: line.row_number,
        )
        report = None
        if options.report is not None:
            report = sorted(
                [*await _results(stub, summary.import_id), *local],
                key=lambda line: line.row_number,
            )
    except grpc.aio.AioRpcError as error:
        err.print(f"[red]{_refusal(error)}[/red]", highlight=False)
        return 1
    except ImportRefused as refused:
        err.print(f"[red]import failed: {refused}[/red]", highlight=False)
        return 1
    except RuntimeError as error:
        # Temporal unreachable: the SDK's connection error names the address.
        err.print(f"[red]import failed: {error}[/red]", highlight=False)
        return 1
    finally:
        await channel.close()

    out.print(f"request id: {request_id}", highlight=False)
    out.print(_summary_table(summary, len(local)))
    if parsed.rejected:
        out.print(f"rejected locally (not sent): {len(local):,}; the reasons are below")
    total_problems = summary.needs_review + summary.rejected + len(local)
    if total_problems:
        out.print(_problem_table(problems[:SHOWN_PROBLEM_ROWS], total_problems))
    if options.report is not None and report is not None:
        write_report(options.report, report)
        out.print(f"wrote {len(report):,} row results to {options.report}", highlight=False)
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(run(options_from(args)))


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="dancu import-list")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
