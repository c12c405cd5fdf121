"""``dancu report-death``: a hospital's or health agency's report of a death from COVID-19
starts the resident's death workflow, or joins the one that runs or ran (Temporal, not a
service: the workflow records the death in case status, the registry and welfare)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os

from temporalio.client import Client

from services.kit.temporal import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, connect
from workflows.death.models import DeathReport
from workflows.death.starter import Reported, report_death

DEFAULT_TEMPORAL = "127.0.0.1:7233"
# Exit status of a report that disagrees with the death the finished process recorded.
CONFLICT = 3


def _day(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError("a day is YYYY-MM-DD") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("citizen_id", help="the deceased resident")
    parser.add_argument("--death-date", type=_day, required=True, help="YYYY-MM-DD (Vietnam)")
    parser.add_argument("--cause", required=True, help="the cause as reported")
    parser.add_argument("--agency", required=True, help="the reporting agency")
    parser.add_argument("--report-ref", required=True, help="the agency's reference")
    parser.add_argument("--place", default="", help="where the death happened")
    parser.add_argument(
        "--temporal",
        default=os.environ.get("DANCU_TEMPORAL_ADDRESS", DEFAULT_TEMPORAL),
        help="the Temporal frontend",
    )
    parser.add_argument(
        "--namespace", default=os.environ.get("DANCU_TEMPORAL_NAMESPACE", DEFAULT_NAMESPACE)
    )
    parser.add_argument(
        "--task-queue", default=os.environ.get("DANCU_TEMPORAL_TASK_QUEUE", DEFAULT_TASK_QUEUE)
    )


def describe(reported: Reported) -> str:
    if reported.running:
        return f"{reported.workflow_id}: the report is with the running process"
    if reported.conflicts_with_recorded:
        return (
            f"{reported.workflow_id}: finished already, and this report disagrees with the "
            "recorded death (day or cause): review by hand"
        )
    return f"{reported.workflow_id}: finished already with the same death; nothing to do"


async def run(args: argparse.Namespace, client: Client | None = None) -> int:
    """0 started or joined, 3 a conflict with a finished process."""
    client = client or await connect(args.temporal, args.namespace)
    report = DeathReport(
        args.citizen_id, args.death_date, args.cause, args.agency, args.report_ref, args.place
    )
    reported = await report_death(client, report, args.task_queue)
    print(describe(reported))
    return CONFLICT if reported.conflicts_with_recorded else 0


def main(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run(args))
    except RuntimeError as error:
        # Temporal unreachable: the SDK's connection error names the address.
        print(f"dancu report-death: {error}")
        return 2
