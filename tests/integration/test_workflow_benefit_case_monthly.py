"""A monthly benefit case through the real welfare, registry and case status, with the worker's
own workflows and activities on the time-skipping test server: paid its first period on
approval, then one period on the 1st of each month, continuing as new every few payments,
until its last period, a withdrawal (the death correction's step) or the beneficiary's death."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from services.kit.auth import TokenIssuer
from services.kit.server import Server
from tests.integration.registry_client import SERVICE_CALLER, register
from tests.integration.welfare_client import (
    CHECKER,
    OFFICER,
    WelfareClients,
    open_request,
    publish_monthly_program,
    record_stay,
    register_covid_death,
)
from tests.integration.workflow_gateways import service_gateways
from workflows.benefit_case.models import (
    ASSIGN,
    DECIDE,
    Assignment,
    CaseClosed,
    CaseOpened,
    CaseProgress,
    Decision,
    workflow_id,
)
from workflows.benefit_case.workflow import BenefitCase
from workflows.correction.activities import CorrectionActivities
from workflows.correction.models import CaseWithdrawal
from workflows.retries import VIETNAM
from workflows.worker import Gateways, build_worker

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

AMOUNT = 1_500_000


@asynccontextmanager
async def _worker(
    env: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    servers: tuple[Server, Server, Server, Server],
) -> AsyncIterator[tuple[str, Gateways]]:
    registry, case_status, alerts, welfare = servers
    queue = f"monthly-{uuid.uuid4().hex}"
    async with (
        service_gateways(
            token_issuer,
            registry=registry,
            case_status=case_status,
            alerts=alerts,
            welfare=welfare,
        ) as gateways,
        build_worker(env.client, gateways, queue),
    ):
        yield queue, gateways


async def _monthly_case(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    opener: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
    months: int,
) -> wpb.BenefitCase:
    """An open case of a program paying AMOUNT a month for ``months`` months, for a resident
    who was an F0 in hospital."""
    program = await publish_monthly_program(supervisor, months, AMOUNT)
    resident = await register(registrar)
    await record_stay(
        cdc,
        resident.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        dt.date(2021, 8, 1),
        dt.date(2021, 8, 11),
    )
    request = open_request(program, resident.citizen_id)
    # Opened for its workflow, as the death workflow opens cases: officers' acts on it are
    # the workflow's updates, which record them in welfare.
    request.driven_by_workflow = True
    opened = await opener.OpenBenefitCase(request)
    return opened.benefit_case


@pytest.fixture
def opener(welfare_clients: WelfareClients) -> WelfareServiceAsyncStub:
    """The worker's identity: a service opens a case for its workflow."""
    return welfare_clients.welfare_stub(SERVICE_CALLER)


async def _start(
    client: Client, queue: str, case: wpb.BenefitCase, payments_per_run: int = 12
) -> WorkflowHandle[BenefitCase, CaseClosed]:
    return await client.start_workflow(
        BenefitCase.run,
        CaseOpened(
            case_id=case.case_id,
            program_code=case.program_code,
            beneficiary_citizen_id=case.beneficiary_citizen_id,
            subject_citizen_id=case.subject_citizen_id,
            amount_vnd=case.amount_vnd,
            opened_by=case.opened_by,
            assessed_by=case.assessed_by,
            units=case.payment_periods,
            payments_per_run=payments_per_run,
        ),
        id=workflow_id(case.case_id),
        task_queue=queue,
    )


async def _approve(handle: WorkflowHandle[BenefitCase, CaseClosed]) -> None:
    """The officers' acts, as welfare forwards them to the workflow."""
    await handle.execute_update(ASSIGN, Assignment(OFFICER.subject, CHECKER.subject))
    await handle.execute_update(DECIDE, Decision(CHECKER.subject, True, "đủ hồ sơ"))


async def _until_paid(
    env: WorkflowEnvironment, handle: WorkflowHandle[BenefitCase, CaseClosed], periods: int
) -> CaseProgress:
    """Skips time a day at a time until ``periods`` periods are paid."""
    for _ in range(70 * periods):
        progress = await handle.query(BenefitCase.progress)
        if progress.periods_paid >= periods:
            return progress
        await env.sleep(dt.timedelta(days=1))
    raise AssertionError(f"{periods} periods were not paid")


async def _runs(client: Client, handle: WorkflowHandle[BenefitCase, CaseClosed]) -> list[str]:
    """The run ids of the workflow, first to last, following its continue-as-new events."""
    runs = [handle.first_execution_run_id or handle.run_id or ""]
    while True:
        history = await client.get_workflow_handle(handle.id, run_id=runs[-1]).fetch_history()
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return runs
        runs.append(last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)


def _payment_days(progress: CaseProgress) -> list[dt.date]:
    """The Vietnam days of the payments the progress shows ("paid period n of N on DAY as
    REF")."""
    return [
        dt.date.fromisoformat(e.split(" on ")[1].split(" ")[0])
        for e in progress.events
        if e.startswith("paid period ")
    ]


async def test_a_monthly_case_is_paid_each_month_across_runs_until_its_last_period(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    welfare_server: Server,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    opener: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
) -> None:
    servers = (registry_server, case_status_server, alerts_server, welfare_server)
    case = await _monthly_case(registrar, cdc, opener, supervisor, months=5)
    client = time_skipping.client
    async with _worker(time_skipping, token_issuer, servers) as (queue, _):
        handle = await _start(client, queue, case, payments_per_run=2)
        approved_on = (await time_skipping.get_current_time()).astimezone(VIETNAM).date()
        await _approve(handle)
        closed = await handle.result()
        runs = await _runs(client, handle)
        latest = client.get_workflow_handle(handle.id)
        progress = await latest.query(BenefitCase.progress)
        described = await latest.describe()
    paid = (
        await officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=case.case_id))
    ).benefit_case

    references = [f"{handle.id}:payment-{n}" for n in range(1, 6)]
    assert closed == CaseClosed(case.case_id, "PAID", references[-1])
    # Two payments a run: three runs, the query answered by the last with the whole story.
    assert len(runs) == 3
    assert len(set(runs)) == 3
    assert described.run_id == runs[-1]
    assert (progress.periods_paid, progress.earlier_runs, progress.state) == (5, 2, "PAID")
    assert progress.decided_by == CHECKER.subject
    # Period 1 on approval, then the 1st of each following month.
    days = _payment_days(progress)
    assert days[0] == approved_on
    first_of = approved_on.replace(day=1)
    expected = []
    for _ in range(4):
        first_of = (first_of + dt.timedelta(days=32)).replace(day=1)
        expected.append(first_of)
    assert days[1:] == expected
    # Welfare holds one payment per period, each under its own reference, and no more.
    assert paid.state == wpb.CASE_STATE_PAID
    assert (paid.payment_periods, paid.periods_paid) == (5, 5)
    assert [(p.period, p.payment_reference, p.amount_vnd) for p in paid.payments] == [
        (n, ref, AMOUNT) for n, ref in enumerate(references, start=1)
    ]
    assert {p.recorded_by for p in paid.payments} == {SERVICE_CALLER.subject}


async def test_the_death_correction_stops_a_monthly_case_midway_and_welfare_records_it(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    welfare_server: Server,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    opener: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
) -> None:
    servers = (registry_server, case_status_server, alerts_server, welfare_server)
    running = await _monthly_case(registrar, cdc, opener, supervisor, months=6)
    ended = await _monthly_case(registrar, cdc, opener, supervisor, months=6)
    client = time_skipping.client
    reason = "death revoked by civil-status correction c-1"
    async with _worker(time_skipping, token_issuer, servers) as (queue, gateways):
        correction = CorrectionActivities(gateways.case_status, gateways.welfare, client)
        handle = await _start(client, queue, running)
        await _approve(handle)
        await _until_paid(time_skipping, handle, 2)
        # The correction's step signals the running workflow...
        told = await ActivityEnvironment().run(
            correction.withdraw_benefit_case,
            CaseWithdrawal(running.case_id, reason, "correction-1:withdraw"),
        )
        closed = await handle.result()
        progress = await handle.query(BenefitCase.progress)
        # ...and stops a case no workflow pays any more in welfare directly.
        other = await _start(client, queue, ended)
        await _approve(other)
        await _until_paid(time_skipping, other, 1)
        await other.terminate("its worker fleet was lost")
        direct = await ActivityEnvironment().run(
            correction.withdraw_benefit_case,
            CaseWithdrawal(ended.case_id, reason, "correction-2:withdraw"),
        )
        # A month later, nothing more was paid on either.
        await time_skipping.sleep(dt.timedelta(days=40))
    stopped = (
        await officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=running.case_id))
    ).benefit_case
    stopped_directly = (
        await officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=ended.case_id))
    ).benefit_case

    assert told == "withdrawal sent to its workflow"
    assert closed == CaseClosed(running.case_id, "STOPPED", f"{handle.id}:payment-2", reason)
    assert progress.events[-1] == f"stopped after 2 of 6 periods: {reason}"
    for case, periods in ((stopped, 2), (stopped_directly, 1)):
        assert case.state == wpb.CASE_STATE_STOPPED
        step = case.history[-1]
        assert (step.from_state, step.to_state, step.reason) == (
            wpb.CASE_STATE_PAID,
            wpb.CASE_STATE_STOPPED,
            reason,
        )
        assert step.actor_subject == SERVICE_CALLER.subject
        # The periods paid stay recorded.
        assert (case.periods_paid, len(case.payments)) == (periods, periods)
    assert direct == "stopped (1 of 6 periods paid)"


async def test_a_beneficiary_who_died_is_paid_no_further_month(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    welfare_server: Server,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    opener: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
) -> None:
    servers = (registry_server, case_status_server, alerts_server, welfare_server)
    case = await _monthly_case(registrar, cdc, opener, supervisor, months=6)
    client = time_skipping.client
    async with _worker(time_skipping, token_issuer, servers) as (queue, _):
        handle = await _start(client, queue, case)
        await _approve(handle)
        await _until_paid(time_skipping, handle, 1)
        await register_covid_death(
            civil_officer, case.beneficiary_citizen_id, dt.date.today() - dt.timedelta(days=1)
        )
        closed = await handle.result()
    shown = (
        await officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=case.case_id))
    ).benefit_case

    # Welfare refused the next month's payment; the workflow recorded the stop.
    assert (closed.state, closed.reason) == ("STOPPED", "BENEFICIARY_DECEASED")
    assert (shown.state, shown.periods_paid, len(shown.payments)) == (
        wpb.CASE_STATE_STOPPED,
        1,
        1,
    )
    assert shown.history[-1].reason == closed.reason
