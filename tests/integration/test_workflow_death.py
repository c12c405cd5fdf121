"""The COVID-19 death workflow and its correction end to end: the real registry, case status
and welfare over gRPC, the worker's own workflows and activities on the Temporal test server.
A death report becomes the outcome DECEASED (whose propagation alerts the ward), a registered
death, a benefit case for the surviving spouse and a benefit-case workflow that pays it once
officers approved it through the welfare API; a revoked death retracts the outcome and
withdraws the unpaid case."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as cspb
from dancu.registry.v1 import resident_pb2 as rpb
from dancu.registry.v1.registry_service_pb2 import (
    CorrectCivilStatusRequest,
    GetResidentRequest,
    ProposeCivilStatusCorrectionRequest,
)
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as wfpb
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.case_status.use_cases.recompute import STATUS_CHANGED
from services.cli import report_death as report_death_cli
from services.kit.auth import TokenIssuer
from services.kit.server import Server
from services.registry.adapters.tables import outbox as registry_outbox
from services.registry.main import RELAYED as REGISTRY_RELAYED
from services.registry.use_cases import DEATH_REVOKED
from services.welfare.adapters.case_workflows import TemporalCaseWorkflows
from services.welfare.domain.examples import FUNERAL
from tests.integration.conftest import forwarding_welfare
from tests.integration.registry_client import HOAN_KIEM, RegistryDatabase, new_request_id
from tests.integration.welfare_client import CHECKER, OFFICER, WelfareClients, family, record_stay
from tests.integration.workflow_gateways import outbox_relay, service_gateways
from workflows.benefit_case.models import CaseClosed
from workflows.benefit_case.models import workflow_id as benefit_case_id
from workflows.correction.models import DeathCorrected
from workflows.death.models import (
    RESOLVE,
    CaseToOpen,
    CivilStatusSeen,
    DeathProgress,
    DeathRecorded,
    DeathReport,
    DeathToRecord,
    OpenedCase,
    Resolution,
    SlaPolicy,
    Survivor,
    SurvivorCheck,
    workflow_id,
)
from workflows.death.starter import Reported, report_death
from workflows.death.workflow import CovidDeath
from workflows.propagation.models import OutboxEvent
from workflows.propagation.workflow import StatusChangePropagation
from workflows.retries import VIETNAM
from workflows.worker import build_worker

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub


def _report(
    citizen_id: str, death_date: dt.date, cause: str = "suy hô hấp do COVID-19"
) -> DeathReport:
    return DeathReport(
        citizen_id, death_date.isoformat(), cause, "benh-vien-thanh-nhan", "BV-TN-2021-0815"
    )


async def test_a_reported_death_is_recorded_everywhere_once_and_the_survivor_is_paid(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    welfare_server: Server,
    welfare_database_url: str,
    signing_key: bytes,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    welfare_db: RegistryDatabase,
    case_db: RegistryDatabase,
    alerts_db: RegistryDatabase,
) -> None:
    today = dt.datetime.now(VIETNAM).date()
    father, mother, child = await family(registrar, dt.date(2001, 1, 1))
    cid = father.citizen_id
    await record_stay(
        cdc,
        cid,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        today - dt.timedelta(days=6),
        None,
    )
    report = _report(cid, today - dt.timedelta(days=1))
    queue = f"death-{uuid.uuid4().hex}"
    client = time_skipping.client
    async with (
        service_gateways(
            token_issuer,
            registry=registry_server,
            case_status=case_status_server,
            alerts=alerts_server,
            welfare=welfare_server,
        ) as gateways,
        build_worker(client, gateways, queue),
    ):
        # Two reports of the same death at once (a hospital and a ward): one process.
        reported = await asyncio.gather(
            report_death(client, report, queue), report_death(client, report, queue)
        )
        handle = client.get_workflow_handle(workflow_id(cid), result_type=DeathRecorded)
        recorded = await handle.result()
        progress = await handle.query(CovidDeath.progress)
        # The same report again, and a conflicting one, after the process finished: neither
        # starts another; the conflicting one is flagged for review.
        again = await report_death(client, report, queue)
        conflicting = await report_death(client, _report(cid, today - dt.timedelta(days=2)), queue)

        # The wards hear of the death from the DECEASED status change, as the case-status
        # relay hands its outbox row to the propagation (only this row: other tests' rows
        # stay where they are).
        [deceased_row] = [
            row
            for row in await case_db.rows(
                "SELECT event_id::text AS event_id, event_type, aggregate_id, payload,"
                " created_at FROM outbox WHERE aggregate_id = %s AND event_type = %s",
                cid,
                STATUS_CHANGED,
            )
            if row["payload"].get("outcome") == "DECEASED"
        ]
        propagated = await client.execute_workflow(
            StatusChangePropagation.run,
            OutboxEvent(
                deceased_row["event_id"],
                STATUS_CHANGED,
                cid,
                deceased_row["payload"],
                deceased_row["created_at"].isoformat(),
            ),
            id=deceased_row["event_id"],
            task_queue=queue,
        )

        # Officers act through the welfare API, which forwards each act to the case's
        # workflow as an update; the workflow records it in welfare and pays the approval.
        [case_id] = recorded.benefit_cases
        benefit = client.get_workflow_handle(benefit_case_id(case_id), result_type=CaseClosed)
        async with forwarding_welfare(
            welfare_database_url,
            registry_server,
            case_status_server,
            signing_key,
            token_issuer,
            TemporalCaseWorkflows(client),
        ) as forwarding:
            officers = WelfareClients(f"127.0.0.1:{forwarding.port}", token_issuer)
            try:
                await officers.welfare_stub(OFFICER).AssignBenefitCase(
                    wfpb.AssignBenefitCaseRequest(
                        request_id=new_request_id(), case_id=case_id, assignee=CHECKER.subject
                    )
                )
                decided = await officers.welfare_stub(CHECKER).DecideBenefitCase(
                    wfpb.DecideBenefitCaseRequest(
                        request_id=new_request_id(),
                        case_id=case_id,
                        decision=wfpb.DECISION_APPROVE,
                        reason="đủ hồ sơ",
                    )
                )
            finally:
                await officers.close()
        closed = await benefit.result()

    assert list(reported) == [Reported(workflow_id(cid), running=True)] * 2
    assert progress.reports_received == 2
    assert progress.conflicting_reports == []
    assert again == Reported(workflow_id(cid), running=False, conflicts_with_recorded=False)
    assert conflicting == Reported(workflow_id(cid), running=False, conflicts_with_recorded=True)
    assert recorded.outcome == "DONE"
    assert progress.step == "done"
    assert set(progress.survivors) == {mother.citizen_id, child.citizen_id}

    resident = (await registrar.GetResident(GetResidentRequest(citizen_id=cid))).resident
    assert resident.civil_status == rpb.CIVIL_STATUS_DECEASED
    assert resident.death.cause == rpb.DEATH_CAUSE_COVID19
    assert resident.death.death_date.day == report_day(report).day
    status = await cdc.GetCaseStatus(cspb.GetCaseStatusRequest(citizen_id=cid))
    assert status.status.outcome == cpb.OUTCOME_DECEASED
    deceased = [e for e in status.timeline if e.outcome == cpb.OUTCOME_DECEASED]
    assert len(deceased) == 1
    assert deceased[0].source.report_ref == report.report_ref
    assert propagated.wards == [HOAN_KIEM]
    alerted = await alerts_db.rows(
        "SELECT ward_code FROM alerts WHERE event_id::text = %s", deceased_row["event_id"]
    )
    assert [row["ward_code"] for row in alerted] == [HOAN_KIEM]

    # The funeral support goes to one survivor only: one case, paid once under its reference.
    case = (await officer.GetBenefitCase(wfpb.GetBenefitCaseRequest(case_id=case_id))).benefit_case
    assert case.program_code == FUNERAL
    assert case.subject_citizen_id == cid
    assert case.state == wpb.CASE_STATE_PAID
    assert case.payment_reference == f"{benefit_case_id(case_id)}:payment-1"
    assert closed == CaseClosed(case_id, "PAID", case.payment_reference)
    assert decided.benefit_case.state == wpb.CASE_STATE_APPROVED
    assert case.workflow_id == benefit_case_id(case_id)
    assert [h.actor_subject for h in case.history] == [
        case.opened_by,
        OFFICER.subject,
        CHECKER.subject,
        case.opened_by,
    ]
    rows = await welfare_db.rows(
        "SELECT count(*) AS n FROM benefit_cases WHERE subject_id = %s", cid
    )
    assert rows[0]["n"] == 1


def report_day(report: DeathReport) -> dt.date:
    return dt.date.fromisoformat(report.death_date)


class NoServices:
    """The activities of a process that must not get past its first step."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @activity.defn(name="verify_identity")
    async def verify_identity(self, report: DeathReport) -> None:
        self.calls.append("verify_identity")
        raise AssertionError("a conflicting report must hold the process")


async def test_a_conflicting_report_holds_the_process_for_review(
    time_skipping: WorkflowEnvironment,
) -> None:
    services = NoServices()
    queue = f"death-review-{uuid.uuid4().hex}"
    first = _report("001085000009", dt.date(2021, 8, 14))
    other = _report("001085000009", dt.date(2021, 8, 15))
    async with Worker(
        time_skipping.client,
        task_queue=queue,
        workflows=[CovidDeath],
        activities=[services.verify_identity],
    ):
        # Both reports arrive together: the second disagrees on the day of death.
        handle = await time_skipping.client.start_workflow(
            CovidDeath.run,
            first,
            id=f"{workflow_id(first.citizen_id)}-{uuid.uuid4().hex}",
            task_queue=queue,
            start_signal="report",
            start_signal_args=[other],
        )
        held = await _conflict_on_file(handle)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(RESOLVE, Resolution("", False, ""))
        await handle.execute_update(
            RESOLVE, Resolution("civil-hn-01", False, "hai giấy báo tử khác ngày")
        )
        result = await handle.result()
    assert held.step == "awaiting_review"
    assert held.conflicting_reports == [other]
    assert result.outcome == "STOPPED"
    assert services.calls == []


async def test_a_revoked_death_is_retracted_and_its_unpaid_case_withdrawn(
    time_skipping: WorkflowEnvironment,
    token_issuer: TokenIssuer,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    welfare_server: Server,
    registry_database_url: str,
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    registry_db: RegistryDatabase,
) -> None:
    today = dt.datetime.now(VIETNAM).date()
    await registry_db.publish_pending_outbox()
    father, _, _ = await family(registrar, dt.date(2001, 1, 1))
    cid = father.citizen_id
    await record_stay(
        cdc,
        cid,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        today - dt.timedelta(days=6),
        None,
    )
    queue = f"correction-{uuid.uuid4().hex}"
    client = time_skipping.client
    async with (
        outbox_relay(
            client, registry_database_url, registry_outbox, REGISTRY_RELAYED, queue
        ) as relay,
        service_gateways(
            token_issuer,
            registry=registry_server,
            case_status=case_status_server,
            alerts=alerts_server,
            welfare=welfare_server,
        ) as gateways,
        build_worker(client, gateways, queue),
    ):
        await report_death(client, _report(cid, today - dt.timedelta(days=1)), queue)
        death = client.get_workflow_handle(workflow_id(cid), result_type=DeathRecorded)
        [case_id] = (await death.result()).benefit_cases
        # The death was reported against the wrong person: two civil-status officers
        # revoke it in the registry.
        recorded = (await registrar.GetResident(GetResidentRequest(citizen_id=cid))).resident
        proposed = await civil_officer.ProposeCivilStatusCorrection(
            ProposeCivilStatusCorrectionRequest(
                request_id=new_request_id(),
                citizen_id=cid,
                etag=recorded.etag,
                corrected_status=rpb.CIVIL_STATUS_ALIVE,
                reason="giấy báo tử ghi sai số định danh",
            )
        )
        await second_civil_officer.CorrectCivilStatus(
            CorrectCivilStatusRequest(
                request_id=new_request_id(), correction_id=proposed.correction.correction_id
            )
        )
        await relay.relay_once()
        [row] = await registry_db.outbox(cid, DEATH_REVOKED)
        corrected = await client.get_workflow_handle(
            str(row["event_id"]), result_type=DeathCorrected
        ).result()
        closed = await client.get_workflow_handle(
            benefit_case_id(case_id), result_type=CaseClosed
        ).result()

    assert corrected.citizen_id == cid
    assert corrected.benefit_cases == [f"{case_id}: withdrawal sent to its workflow"]
    assert closed.state == "WITHDRAWN"
    case = (await officer.GetBenefitCase(wfpb.GetBenefitCaseRequest(case_id=case_id))).benefit_case
    assert case.state == wpb.CASE_STATE_WITHDRAWN
    assert case.payment_reference == ""
    # Case status: the death is superseded by the retraction, not deleted.
    status = await cdc.GetCaseStatus(cspb.GetCaseStatusRequest(citizen_id=cid))
    assert status.status.outcome == cpb.OUTCOME_UNSPECIFIED
    [death_event] = [e for e in status.timeline if e.outcome == cpb.OUTCOME_DECEASED]
    assert corrected.retraction_event_id
    assert death_event.superseded_by_event_id == corrected.retraction_event_id
    resident = (await registrar.GetResident(GetResidentRequest(citizen_id=cid))).resident
    assert resident.civil_status == rpb.CIVIL_STATUS_ALIVE


async def test_the_report_death_command_starts_then_joins(
    time_skipping: WorkflowEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="dancu report-death")
    report_death_cli.add_arguments(parser)
    queue = f"death-cli-{uuid.uuid4().hex}"
    cid = "001085000077"
    common = ["--cause", "COVID-19", "--agency", "bv-thanh-nhan", "--report-ref", "BV-1"]
    common += ["--task-queue", queue]
    first = parser.parse_args([cid, "--death-date", "2021-08-14", *common])
    other = parser.parse_args([cid, "--death-date", "2021-08-15", *common])
    # No worker polls this queue: the process waits, and each report reaches it.
    codes = [
        await report_death_cli.run(first, time_skipping.client),
        await report_death_cli.run(other, time_skipping.client),
    ]
    handle = time_skipping.client.get_workflow_handle(workflow_id(cid))
    described = await handle.describe()
    await handle.terminate("the test ends the process")
    joined = capsys.readouterr().out
    # After the process ended a report starts nothing; one that disagrees says so.
    codes += [
        await report_death_cli.run(first, time_skipping.client),
        await report_death_cli.run(other, time_skipping.client),
    ]
    after = capsys.readouterr().out
    assert described.workflow_type == "CovidDeath"
    assert codes == [0, 0, 0, report_death_cli.CONFLICT]
    assert joined.count("the report is with the running process") == 2
    assert "finished already with the same death" in after
    assert "disagrees with the recorded death" in after


class StubServices:
    """The death workflow's activities without the services: a resident with one surviving
    spouse eligible for one program."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @activity.defn(name="verify_identity")
    async def verify_identity(self, report: DeathReport) -> CivilStatusSeen:
        self.calls.append("verify_identity")
        return CivilStatusSeen(alive=True)

    @activity.defn(name="record_deceased")
    async def record_deceased(self, death: DeathToRecord) -> str:
        self.calls.append(f"record_deceased {death.report.death_date} {death.request_id}")
        return "event-1"

    @activity.defn(name="register_death")
    async def register_death(self, death: DeathToRecord) -> CivilStatusSeen:
        self.calls.append(f"register_death {death.report.death_date} {death.request_id}")
        return CivilStatusSeen(False, death.report.death_date, "COVID19")

    @activity.defn(name="find_survivors")
    async def find_survivors(self, deceased: str) -> list[Survivor]:
        return [Survivor("001187000031", "SPOUSE", True), Survivor("001940000032", "PARENT", False)]

    @activity.defn(name="check_survivor")
    async def check_survivor(self, check: SurvivorCheck) -> list[str]:
        self.calls.append(f"check_survivor {check.beneficiary_citizen_id}")
        return [FUNERAL]

    @activity.defn(name="open_benefit_case")
    async def open_benefit_case(self, claim: CaseToOpen) -> OpenedCase:
        self.calls.append(f"open_benefit_case {claim.request_id}")
        return OpenedCase(
            "case-1",
            claim.program_code,
            claim.beneficiary_citizen_id,
            claim.subject_citizen_id,
            10_000_000,
            "svc",
            "svc",
        )

    @activity.defn(name="benefit_sla")
    async def benefit_sla(self) -> SlaPolicy:
        return SlaPolicy(3600, 7200)


async def test_an_officer_lets_the_process_go_on_with_the_first_report(
    time_skipping: WorkflowEnvironment,
) -> None:
    services = StubServices()
    queue = f"death-proceed-{uuid.uuid4().hex}"
    cid = "001085000031"
    first = _report(cid, dt.date(2021, 8, 14))
    other = _report(cid, dt.date(2021, 8, 14), cause="ngừng tim")
    wid = f"{workflow_id(cid)}-{uuid.uuid4().hex}"
    async with Worker(
        time_skipping.client,
        task_queue=queue,
        workflows=[CovidDeath],
        activities=[
            services.verify_identity,
            services.record_deceased,
            services.register_death,
            services.find_survivors,
            services.check_survivor,
            services.open_benefit_case,
            services.benefit_sla,
        ],
    ):
        handle = await time_skipping.client.start_workflow(
            CovidDeath.run,
            first,
            id=wid,
            task_queue=queue,
            start_signal="report",
            start_signal_args=[other],
        )
        # The officer resolves the conflict the process shows: not before it is on file.
        await _conflict_on_file(handle)
        await handle.execute_update(
            RESOLVE, Resolution("civil-hn-01", True, "bệnh án ghi nguyên nhân COVID-19")
        )
        result = await handle.result()
        progress = await handle.query(CovidDeath.progress)
        child = await time_skipping.client.get_workflow_handle(benefit_case_id("case-1")).describe()
    # The first report is recorded, the other one stays on file; only the living survivor is
    # checked; request ids derive from the workflow id.
    assert result == DeathRecorded(cid, "DONE", benefit_cases=["case-1"])
    assert services.calls == [
        "verify_identity",
        f"record_deceased 2021-08-14 {wid}:deceased",
        f"register_death 2021-08-14 {wid}:register-death",
        "check_survivor 001187000031",
        f"open_benefit_case {wid}:open-{FUNERAL}-001187000031",
    ]
    assert progress.conflicting_reports == [other]
    assert progress.benefit_cases == ["case-1"]
    assert child.workflow_type == "BenefitCase"


async def _conflict_on_file(handle: WorkflowHandle[Any, Any]) -> DeathProgress:
    """The process's progress once it shows a conflicting report (polled, at most 10 s: the
    report signalled with the start is applied on the workflow's first task)."""
    progress = await handle.query(CovidDeath.progress)
    for _ in range(200):
        if progress.conflicting_reports:
            break
        await asyncio.sleep(0.05)
        progress = await handle.query(CovidDeath.progress)
    return progress
