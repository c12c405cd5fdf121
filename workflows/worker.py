"""Composition root of the worker: settings → gateways → activities → Temporal worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.worker import Worker

from services.kit.channels import client_tls
from services.kit.config import ConfigError, Env
from services.kit.telemetry import configure_logging, setup_tracing
from services.kit.temporal import connect, prometheus_runtime
from workflows.benefit_case.activities import BenefitCaseActivities
from workflows.benefit_case.workflow import BenefitCase
from workflows.config import WorkerSettings
from workflows.correction.activities import CorrectionActivities
from workflows.correction.workflow import DeathCorrection
from workflows.death.activities import DeathActivities
from workflows.death.models import SlaPolicy
from workflows.death.workflow import CovidDeath
from workflows.gateways.alerts import AlertsGateway
from workflows.gateways.case_status import CaseStatusGateway
from workflows.gateways.registry import RegistryGateway
from workflows.gateways.welfare import WelfareGateway
from workflows.isolation.activities import IsolationActivities
from workflows.isolation.workflow import IsolationFollowUp
from workflows.list_import.activities import ListImportActivities
from workflows.list_import.workflow import ListImport
from workflows.propagation.activities import PropagationActivities
from workflows.propagation.workflow import StatusChangePropagation
from workflows.residence.activities import ResidenceActivities
from workflows.residence.workflow import ResidenceChangePropagation

logger = logging.getLogger("workflows")

WORKFLOWS = [
    StatusChangePropagation,
    IsolationFollowUp,
    CovidDeath,
    BenefitCase,
    DeathCorrection,
    ResidenceChangePropagation,
    ListImport,
]


@dataclass(frozen=True)
class Gateways:
    case_status: CaseStatusGateway
    alerts: AlertsGateway
    registry: RegistryGateway
    welfare: WelfareGateway
    # The benefit cases' service level (configuration, handed to the workflows through an
    # activity).
    sla: SlaPolicy = field(default_factory=lambda: SlaPolicy(72 * 3600, 168 * 3600))


@asynccontextmanager
async def open_gateways(settings: WorkerSettings) -> AsyncIterator[Gateways]:
    def token() -> str:
        return settings.token

    case_status = CaseStatusGateway.connect(settings.case_status_address, token)
    alerts = AlertsGateway.connect(settings.alerts_address, token)
    registry = RegistryGateway.connect(settings.registry_address, token)
    welfare = WelfareGateway.connect(settings.welfare_address, token)
    sla = SlaPolicy(
        round(settings.benefit_remind_after_hours * 3600),
        round(settings.benefit_escalate_after_hours * 3600),
    )
    try:
        yield Gateways(case_status, alerts, registry, welfare, sla)
    finally:
        await welfare.close()
        await registry.close()
        await alerts.close()
        await case_status.close()


def build_worker(
    client: Client,
    gateways: Gateways,
    task_queue: str,
    sticky_timeout: dt.timedelta = dt.timedelta(seconds=10),
) -> Worker:
    isolation = IsolationActivities(gateways.case_status)
    propagation = PropagationActivities(gateways.alerts, client, task_queue)
    death = DeathActivities(gateways.registry, gateways.case_status, gateways.welfare, gateways.sla)
    benefit = BenefitCaseActivities(gateways.welfare)
    correction = CorrectionActivities(gateways.case_status, gateways.welfare, client)
    residence = ResidenceActivities(gateways.case_status, gateways.alerts)
    list_import = ListImportActivities(gateways.case_status)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        sticky_queue_schedule_to_start_timeout=sticky_timeout,
        activities=[
            isolation.complete_isolation,
            propagation.deliver_to_alerts,
            propagation.follow_isolation,
            propagation.stop_isolation,
            death.verify_identity,
            death.record_deceased,
            death.register_death,
            death.find_survivors,
            death.check_survivor,
            death.open_benefit_case,
            death.benefit_sla,
            benefit.record_act,
            benefit.confirm_case,
            benefit.notify_officers,
            benefit.recheck_eligibility,
            benefit.disburse,
            benefit.withdraw_case,
            correction.retract_deceased,
            correction.benefit_cases_of_death,
            correction.withdraw_benefit_case,
            residence.refresh_case_residence,
            residence.redirect_alerts,
            list_import.apply_import_chunk,
            list_import.complete_import,
        ],
    )


async def run(settings: WorkerSettings) -> None:
    runtime = prometheus_runtime(settings.metrics_address) if settings.metrics_address else None
    client = await connect(settings.temporal_address, settings.namespace, runtime)
    if settings.metrics_address:
        logger.info("metrics for Prometheus on http://%s/metrics", settings.metrics_address)
    async with open_gateways(settings) as gateways:
        worker = build_worker(
            client,
            gateways,
            settings.task_queue,
            dt.timedelta(seconds=settings.sticky_timeout_seconds),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            logger.info(
                "worker polling task queue %s on %s", settings.task_queue, settings.temporal_address
            )
            await stop.wait()


def main() -> int:
    env = Env()
    configure_logging(env.string("DANCU_LOG_LEVEL", "INFO"))
    try:
        settings = WorkerSettings.from_env(env)
        # Read now, so that incomplete TLS settings stop the start, not the first activity.
        client_tls()
    except ConfigError as error:
        print(f"workflows: cannot start: {error}", file=sys.stderr)
        return 2
    setup_tracing("dancu-workflows", env)
    code = 0
    try:
        asyncio.run(run(settings))
    except RuntimeError as error:
        # The SDK's connection failure (Temporal unreachable) is a RuntimeError naming the
        # address; it is the operator's first clue, not a stack trace.
        print(f"workflows: cannot start: {error}", file=sys.stderr)
        code = 2
    # The SDK's Rust runtime keeps threads that can abort the interpreter's finalisation
    # (PyGILState_Release while finalizing, sdk-python issue 300); everything is closed by
    # now, so the process leaves without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
