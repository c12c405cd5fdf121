"""``dancu welfare``: a welfare officer's queue, one case with its eligibility explanation,
and the decision on it, as tables.

    dancu welfare check CITIZEN_ID [--program CODE] [--subject DECEASED_ID] [--date YYYY-MM-DD]
    dancu welfare open PROGRAM CITIZEN_ID [--subject DECEASED_ID]
    dancu welfare queue [--state in-review] [--mine] [--overdue] [--program CODE] [--ward W]
    dancu welfare show CASE_ID
    dancu welfare assign CASE_ID [--to SUBJECT]
    dancu welfare decide CASE_ID (--approve | --reject) --reason TEXT
    dancu welfare documents CASE_ID --document NAME [--document NAME...] --reason TEXT

Each command calls the welfare service over gRPC with a token: a development persona's
(default ``welfare-officer``; ``welfare-checker`` is the second officer who may approve what
the first opened) or ``--token-file``. On a case a workflow drives, welfare hands the act to
the workflow, and a refusal from it is explained in plain words.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb
from dancu.welfare.v1 import welfare_service_pb2_grpc as pb_grpc
from google.rpc import error_details_pb2
from google.type.date_pb2 import Date
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.cli import devenv
from services.kit.channels import open_channel

if TYPE_CHECKING:
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

DEFAULT_SERVER = "127.0.0.1:50054"
DEFAULT_PERSONA = "welfare-officer"
VIETNAM = dt.timezone(dt.timedelta(hours=7))
STATES = {
    "open": wpb.CASE_STATE_OPEN,
    "in-review": wpb.CASE_STATE_IN_REVIEW,
    "approved": wpb.CASE_STATE_APPROVED,
    "rejected": wpb.CASE_STATE_REJECTED,
    "paid": wpb.CASE_STATE_PAID,
    "withdrawn": wpb.CASE_STATE_WITHDRAWN,
    "stopped": wpb.CASE_STATE_STOPPED,
}
_STATE_NAMES = {number: name for name, number in STATES.items()}
_STATE_STYLES = {
    wpb.CASE_STATE_APPROVED: "green",
    wpb.CASE_STATE_PAID: "green",
    wpb.CASE_STATE_REJECTED: "red",
    wpb.CASE_STATE_WITHDRAWN: "dim",
    wpb.CASE_STATE_STOPPED: "yellow",
}


class TokenMissing(Exception):
    """No token to call with."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="welfare_command", required=True)
    check = commands.add_parser(
        "check", help="a resident against one program or every program in force, explained"
    )
    check.add_argument("citizen_id", help="the beneficiary")
    check.add_argument("--program", default="", help="a program code; default: every program")
    check.add_argument("--subject", default="", help="the deceased, for survivor programs")
    check.add_argument("--date", type=_day, help="evaluate for this day (YYYY-MM-DD)")
    open_case = commands.add_parser("open", help="open a benefit case (when eligible)")
    open_case.add_argument("program")
    open_case.add_argument("citizen_id", help="the beneficiary")
    open_case.add_argument("--subject", default="", help="the deceased, for survivor programs")
    queue = commands.add_parser("queue", help="list benefit cases, oldest first")
    queue.add_argument("--state", choices=sorted(STATES))
    queue.add_argument("--program", default="", help="a program code")
    queue.add_argument("--ward", default="", help="a ward code")
    queue.add_argument("--mine", action="store_true", help="only cases assigned to me")
    queue.add_argument("--overdue", action="store_true", help="only cases past their due time")
    queue.add_argument("--limit", type=int, default=50, help="at most this many (1-200)")
    show = commands.add_parser("show", help="one case: assessment, entitlement, history")
    show.add_argument("case_id")
    assign = commands.add_parser("assign", help="take a case for review (or give it to --to)")
    assign.add_argument("case_id")
    assign.add_argument("--to", default="", help="an officer's subject; default: you")
    decide = commands.add_parser("decide", help="approve or reject a case in review")
    decide.add_argument("case_id")
    verdict = decide.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", action="store_true")
    verdict.add_argument("--reject", action="store_true")
    decide.add_argument("--reason", required=True, help="why (recorded in the case history)")
    documents = commands.add_parser(
        "documents", help="ask for documents on a case its workflow drives"
    )
    documents.add_argument("case_id")
    documents.add_argument(
        "--document",
        dest="documents",
        action="append",
        required=True,
        help="a document the beneficiary must bring (repeat for several)",
    )
    documents.add_argument("--reason", required=True, help="why")
    for command in (check, open_case, queue, show, assign, decide, documents):
        command.add_argument("--server", default=DEFAULT_SERVER, help="welfare gRPC address")
        who = command.add_mutually_exclusive_group()
        who.add_argument("--token-file", type=Path, help="a file holding a bearer token")
        who.add_argument(
            "--persona",
            choices=sorted(devenv.PERSONAS),
            default=DEFAULT_PERSONA,
            help="use the development token of this persona (.dancu/tokens/NAME.jwt)",
        )


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _token(args: argparse.Namespace) -> str:
    path = args.token_file or devenv.DevEnv.from_env().tokens_dir / f"{args.persona}.jwt"
    try:
        return str(path.read_text().strip())
    except OSError as error:
        raise TokenMissing(
            f"cannot read the token {path}: {error.strerror} "
            "(run `dancu start` for persona tokens, or give --token-file)"
        ) from None


def _vnd(amount: int) -> str:
    return f"{amount:,} ₫"


def _time(stamp: object) -> str:
    seconds = getattr(stamp, "seconds", 0)
    if not seconds:
        return ""
    return dt.datetime.fromtimestamp(seconds, VIETNAM).strftime("%Y-%m-%d %H:%M")


def _state(case: wpb.BenefitCase) -> Text:
    return Text(_STATE_NAMES.get(case.state, "?"), style=_STATE_STYLES.get(case.state, ""))


def _overdue(case: wpb.BenefitCase, now: dt.datetime) -> bool:
    pending = case.state in (wpb.CASE_STATE_OPEN, wpb.CASE_STATE_IN_REVIEW)
    return pending and case.due_time.seconds < now.timestamp()


def queue_table(cases: list[wpb.BenefitCase], now: dt.datetime) -> Table:
    table = Table(title=f"benefit cases ({len(cases)})", title_justify="left")
    for column in ("case", "program", "beneficiary", "ward", "state", "assignee", "amount"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    table.add_column("due")
    for case in cases:
        due = Text(_time(case.due_time), style="bold red" if _overdue(case, now) else "")
        table.add_row(
            case.case_id,
            f"{case.program_code} v{case.program_version}",
            case.beneficiary_citizen_id,
            case.ward_code,
            _state(case),
            case.assignee or "—",
            _vnd(case.amount_vnd),
            due,
        )
    return table


def case_table(case: wpb.BenefitCase) -> Table:
    table = Table(show_header=False, title=f"benefit case {case.case_id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    subject = case.subject_citizen_id
    rows: list[tuple[str, str | Text]] = [
        ("program", f"{case.program_code} version {case.program_version}"),
        ("beneficiary", case.beneficiary_citizen_id),
        ("subject", subject if subject != case.beneficiary_citizen_id else "(the beneficiary)"),
        ("ward", case.ward_code),
        ("state", _state(case)),
        ("amount", _vnd(case.amount_vnd)),
        ("opened", f"{_time(case.open_time)} by {case.opened_by}"),
        ("assessed by", case.assessed_by),
        ("assignee", case.assignee or "—"),
        ("due", _time(case.due_time)),
    ]
    if case.decided_by:
        rows.append(("decided by", f"{case.decided_by}: {case.decision_reason}"))
    if case.payment_periods > 1:
        rows.append(("paid", f"{case.periods_paid} of {case.payment_periods} monthly payments"))
    elif case.payment_reference:
        rows.append(("payment", case.payment_reference))
    if case.workflow_id:
        rows.append(("workflow", case.workflow_id))
    for field, value in rows:
        table.add_row(field, value)
    return table


def explanation_table(assessment: wpb.Assessment) -> Table:
    day = assessment.assessment_date
    verdict = "ELIGIBLE" if assessment.eligible else "NOT ELIGIBLE"
    table = Table(
        title=f"eligibility on {day.year:04d}-{day.month:02d}-{day.day:02d}: {verdict}",
        title_justify="left",
    )
    table.add_column("", width=1)
    table.add_column("clause")
    table.add_column("why")
    table.add_column("facts used")
    for clause in assessment.clauses:
        mark = Text("✓", style="green") if clause.satisfied else Text("✗", style="bold red")
        used = "\n".join(f"{f.path} = {f.value}" for f in clause.facts)
        why = clause.description + (f"\n[{clause.error}]" if clause.error else "")
        table.add_row(mark, clause.name, why, used)
    return table


def entitlement_line(assessment: wpb.Assessment) -> str:
    if not assessment.HasField("entitlement"):
        return "entitlement: none"
    owed = assessment.entitlement
    return f"entitlement: {_vnd(owed.amount_vnd)} ({owed.explanation})"


def history_table(case: wpb.BenefitCase) -> Table:
    table = Table(title="history", title_justify="left")
    for column in ("when", "from", "to", "who", "why"):
        table.add_column(column)
    for step in case.history:
        table.add_row(
            _time(step.time),
            _STATE_NAMES.get(step.from_state, "—"),
            _STATE_NAMES.get(step.to_state, "?"),
            f"{step.actor_subject} ({step.actor_agency})",
            step.reason,
        )
    return table


def payments_table(case: wpb.BenefitCase) -> Table:
    table = Table(title="payments", title_justify="left")
    for column in ("period", "when", "reference", "amount", "who"):
        table.add_column(column)
    for payment in case.payments:
        table.add_row(
            f"{payment.period}/{case.payment_periods}",
            _time(payment.record_time),
            payment.payment_reference,
            _vnd(payment.amount_vnd),
            payment.recorded_by,
        )
    return table


def print_case(out: Console, case: wpb.BenefitCase) -> None:
    out.print(case_table(case))
    out.print(explanation_table(case.assessment))
    out.print(entitlement_line(case.assessment), highlight=False)
    if case.payments:
        out.print(payments_table(case))
    out.print(history_table(case))


def _request_id(*parts: str) -> str:
    """The same command run again replays the first call instead of acting twice."""
    return "cli-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


async def _check(stub: WelfareServiceAsyncStub, args: argparse.Namespace, out: Console) -> None:
    request = pb.CheckEligibilityRequest(
        beneficiary_citizen_id=args.citizen_id,
        subject_citizen_id=args.subject,
        program_code=args.program,
    )
    if args.date is not None:
        request.assessment_date.CopyFrom(
            Date(year=args.date.year, month=args.date.month, day=args.date.day)
        )
    response = await stub.CheckEligibility(request)
    if not response.assessments:
        out.print("no program in force applies to this kind of claim")
    for assessment in response.assessments:
        out.print(f"{assessment.program_code} version {assessment.program_version}", style="bold")
        out.print(explanation_table(assessment))
        out.print(entitlement_line(assessment), highlight=False)


async def _open(stub: WelfareServiceAsyncStub, args: argparse.Namespace, out: Console) -> None:
    opened = await stub.OpenBenefitCase(
        pb.OpenBenefitCaseRequest(
            # A fresh id: the service itself finds an open case of the same claim.
            request_id=f"cli-{uuid.uuid4()}",
            program_code=args.program,
            beneficiary_citizen_id=args.citizen_id,
            subject_citizen_id=args.subject,
        )
    )
    if not opened.created:
        out.print("this claim already has a case:")
    print_case(out, opened.benefit_case)


async def _queue(stub: WelfareServiceAsyncStub, args: argparse.Namespace, out: Console) -> None:
    request = pb.ListBenefitCasesRequest(
        state=STATES[args.state] if args.state else wpb.CASE_STATE_UNSPECIFIED,
        program_code=args.program,
        ward_code=args.ward,
        assignee="me" if args.mine else "",
        overdue_only=args.overdue,
        page_size=max(1, min(args.limit, 200)),
    )
    response = await stub.ListBenefitCases(request)
    out.print(queue_table(list(response.benefit_cases), dt.datetime.now(dt.UTC)))
    if response.next_page_token:
        out.print("more cases follow; raise --limit (at most 200) to see them")


async def _show(stub: WelfareServiceAsyncStub, args: argparse.Namespace, out: Console) -> None:
    response = await stub.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=args.case_id))
    print_case(out, response.benefit_case)


async def _assign(stub: WelfareServiceAsyncStub, args: argparse.Namespace, out: Console) -> None:
    # A fresh request id: assigning again later (to someone else) is a new action.
    assigned = await stub.AssignBenefitCase(
        pb.AssignBenefitCaseRequest(
            request_id=f"cli-{uuid.uuid4()}", case_id=args.case_id, assignee=args.to
        )
    )
    case = assigned.benefit_case
    out.print(f"{case.case_id} is in review, assigned to {case.assignee}", highlight=False)
    if case.workflow_id:
        out.print(f"(recorded by its workflow {case.workflow_id})", highlight=False)


async def _decide(stub: WelfareServiceAsyncStub, args: argparse.Namespace, out: Console) -> None:
    decision = pb.DECISION_APPROVE if args.approve else pb.DECISION_REJECT
    decided = await stub.DecideBenefitCase(
        pb.DecideBenefitCaseRequest(
            request_id=_request_id("decide", args.case_id, str(decision), args.reason),
            case_id=args.case_id,
            decision=decision,
            reason=args.reason,
        )
    )
    case = decided.benefit_case
    print_case(out, case)
    if case.workflow_id and case.state == wpb.CASE_STATE_APPROVED:
        out.print(
            f"its workflow {case.workflow_id} checks eligibility again and pays it next",
            highlight=False,
        )


async def _documents(stub: WelfareServiceAsyncStub, args: argparse.Namespace, out: Console) -> None:
    requested = await stub.RequestBenefitCaseDocuments(
        pb.RequestBenefitCaseDocumentsRequest(
            request_id=_request_id("documents", args.case_id, *args.documents, args.reason),
            case_id=args.case_id,
            documents=args.documents,
            reason=args.reason,
        )
    )
    out.print(
        f"{requested.benefit_case.case_id}: documents requested so far: "
        + ", ".join(requested.documents_requested),
        highlight=False,
    )


_COMMANDS: dict[
    str, Callable[[WelfareServiceAsyncStub, argparse.Namespace, Console], Awaitable[None]]
] = {
    "check": _check,
    "open": _open,
    "queue": _queue,
    "show": _show,
    "assign": _assign,
    "decide": _decide,
    "documents": _documents,
}

# What an officer should make of a refusal, by its reason (the workflow's validators' and
# welfare's own).
HINTS = {
    "CASE_NOT_IN_REVIEW": "the case is not in review: assign it first (dancu welfare assign)",
    "DECIDER_IS_MAKER": (
        "you opened or assessed this case: another officer must approve or reject it"
    ),
    "CASE_NOT_ASSIGNABLE": "the case is decided or withdrawn: it takes no assignment",
    "CASE_DECIDED": "the case is decided or withdrawn: it needs no more documents",
    "CASE_BUSY": "another officer's act on this case is being recorded: try again shortly",
    "CASE_WORKFLOW_UNAVAILABLE": (
        "the case's workflow could not be reached and nothing was recorded: run the same "
        "command again"
    ),
    "CASE_WORKFLOW_NOT_STARTED": (
        "the case's workflow is starting and nothing was recorded: run the same command again"
    ),
    "CASE_WORKFLOW_CLOSED": "the case's workflow has finished: the case takes no more acts",
    "CASE_NOT_WORKFLOW_DRIVEN": (
        "no workflow drives this case, and only a workflow keeps document requests"
    ),
    "ILLEGAL_TRANSITION": "the case's state does not allow this step (dancu welfare show)",
}


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str
    message: str


def refusal(error: grpc.aio.AioRpcError) -> Refusal:
    reason = ""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
    code = error.code()
    return Refusal(code.name if code is not None else "UNKNOWN", reason, error.details() or "")


async def run(args: argparse.Namespace, out: Console | None = None) -> int:
    """Runs one subcommand; 0 done, 1 refused by the service, 2 no token."""
    out = out or Console()
    err = Console(stderr=True)
    try:
        token = _token(args)
    except TokenMissing as problem:
        err.print(f"[red]{problem}[/red]", highlight=False)
        return 2
    channel = open_channel(args.server, token=lambda: token)
    try:
        stub: WelfareServiceAsyncStub = pb_grpc.WelfareServiceStub(channel)
        await _COMMANDS[args.welfare_command](stub, args, out)
    except grpc.aio.AioRpcError as error:
        refused = refusal(error)
        err.print(
            f"[red]refused: {refused.code} {refused.reason}: {refused.message}[/red]",
            highlight=False,
        )
        if refused.reason in HINTS:
            err.print(HINTS[refused.reason], highlight=False)
        return 1
    finally:
        await channel.close()
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(run(args))
