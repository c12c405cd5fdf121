"""Officers' acts on a workflow-driven benefit case, end to end: officers call welfare's gRPC
API, welfare forwards each act to the case's BenefitCase workflow as an Update, the workflow's
validator refuses what the case's state or maker-checker forbids before it enters the history,
and the accepted act's handler records it in welfare through the worker's own call
(RecordBenefitCaseAct). Real PostgreSQL, real gRPC, the Temporal test server, the worker's own
activities and gateways."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment

from services.cli import welfare as welfare_cli
from services.kit.auth import Identity, TokenIssuer
from services.kit.server import Server
from services.kit.temporal import connect
from services.welfare.adapters.case_workflows import TemporalCaseWorkflows
from services.welfare.domain.examples import MEAL_SUPPORT
from tests.integration.conftest import forwarding_welfare
from tests.integration.registry_client import (
    SERVICE_CALLER,
    RegistryDatabase,
    expect_error,
    new_request_id,
    register,
)
from tests.integration.welfare_client import (
    CHECKER,
    OFFICER,
    WelfareClients,
    open_request,
    record_stay,
)
from tests.integration.workflow_gateways import service_gateways
from workflows.benefit_case.models import ASSIGN, DECIDE, CaseClosed, CaseOpened
from workflows.benefit_case.models import workflow_id as benefit_case_id
from workflows.benefit_case.workflow import BenefitCase
from workflows.worker import build_worker

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub


@dataclass
class Suite:
    """Welfare forwarding to Temporal (the officers' endpoint), the worker running against
    the session's welfare, and the Temporal client tests look through."""

    officer: WelfareServiceAsyncStub
    checker: WelfareServiceAsyncStub
    service: WelfareServiceAsyncStub
    client: Client
    env: WorkflowEnvironment
    queue: str
    # Callers of the forwarding welfare.
    clients: WelfareClients


@pytest.fixture
async def suite(
    time_skipping: WorkflowEnvironment,
    welfare_database_url: str,
    registry_server: Server,
    case_status_server: Server,
    alerts_server: Server,
    welfare_server: Server,
    welfare_clients: WelfareClients,
    signing_key: bytes,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Suite]:
    # As the processes connect: the tracing interceptor in welfare's client and the worker's.
    client = await connect(time_skipping.client.service_client.config.target_host)
    queue = f"officer-acts-{uuid.uuid4().hex}"
    async with (
        forwarding_welfare(
            welfare_database_url,
            registry_server,
            case_status_server,
            signing_key,
            token_issuer,
            TemporalCaseWorkflows(client),
        ) as forwarding,
        service_gateways(
            token_issuer,
            registry=registry_server,
            case_status=case_status_server,
            alerts=alerts_server,
            welfare=welfare_server,
        ) as gateways,
        build_worker(client, gateways, queue),
    ):
        clients = WelfareClients(f"127.0.0.1:{forwarding.port}", token_issuer)
        try:
            yield Suite(
                clients.welfare_stub(OFFICER),
                clients.welfare_stub(CHECKER),
                welfare_clients.welfare_stub(SERVICE_CALLER),
                client,
                time_skipping,
                queue,
                clients,
            )
        finally:
            await clients.close()


async def _f0(registrar: RegistryServiceAsyncStub, cdc: CaseStatusServiceAsyncStub) -> str:
    """A resident 10 days in hospital as an F0: eligible for the meal support."""
    resident = await register(registrar)
    await record_stay(
        cdc,
        resident.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        dt.date(2021, 8, 1),
        dt.date(2021, 8, 11),
    )
    return resident.citizen_id


async def _driven_case(
    suite: Suite, citizen_id: str
) -> tuple[wpb.BenefitCase, WorkflowHandle[BenefitCase, CaseClosed]]:
    """A case a service opened for its workflow, handed over as the death workflow does."""
    request = open_request(MEAL_SUPPORT, citizen_id)
    request.driven_by_workflow = True
    case = (await suite.service.OpenBenefitCase(request)).benefit_case
    handle = await suite.client.start_workflow(
        BenefitCase.run,
        CaseOpened(
            case.case_id,
            case.program_code,
            case.beneficiary_citizen_id,
            case.subject_citizen_id,
            case.amount_vnd,
            case.opened_by,
            case.assessed_by,
        ),
        id=benefit_case_id(case.case_id),
        task_queue=suite.queue,
    )
    return case, handle


def _assign(case_id: str, assignee: str = "", request_id: str = "") -> pb.AssignBenefitCaseRequest:
    return pb.AssignBenefitCaseRequest(
        request_id=request_id or new_request_id(), case_id=case_id, assignee=assignee
    )


def _decide(
    case_id: str, reason: str = "đủ hồ sơ", approve: bool = True
) -> pb.DecideBenefitCaseRequest:
    return pb.DecideBenefitCaseRequest(
        request_id=new_request_id(),
        case_id=case_id,
        decision=pb.DECISION_APPROVE if approve else pb.DECISION_REJECT,
        reason=reason,
    )


async def _accepted_updates(handle: WorkflowHandle[BenefitCase, CaseClosed]) -> list[str]:
    history = await handle.fetch_history()
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]


async def _transitions(welfare_db: RegistryDatabase, case_id: str) -> list[tuple[int, str]]:
    rows = await welfare_db.rows(
        "SELECT to_state, actor_subject FROM case_transitions WHERE case_id::text = %s"
        " ORDER BY seq",
        case_id,
    )
    return [(row["to_state"], row["actor_subject"]) for row in rows]


async def test_assign_then_decide_through_welfare_and_the_workflow_pays(
    suite: Suite,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    welfare_clients: WelfareClients,
    welfare_db: RegistryDatabase,
) -> None:
    citizen_id = await _f0(registrar, cdc)
    case, handle = await _driven_case(suite, citizen_id)
    assign = _assign(case.case_id, CHECKER.subject)
    # Sent twice at once (a client retrying): one Update, one transition, one answer.
    assigned, assigned_again = await asyncio.gather(
        suite.officer.AssignBenefitCase(assign), suite.officer.AssignBenefitCase(assign)
    )
    progress = await handle.query(BenefitCase.progress)
    decide = _decide(case.case_id)
    decided = await suite.checker.DecideBenefitCase(decide)
    closed = await suite.env.client.get_workflow_handle(handle.id, result_type=CaseClosed).result()
    retried = await suite.checker.DecideBenefitCase(decide)
    # A retry reaching a welfare process that forwards nothing is answered from the record
    # the worker made in the officer's name.
    elsewhere = await welfare_clients.welfare_stub(CHECKER).DecideBenefitCase(decide)
    paid = (
        await suite.officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=case.case_id))
    ).benefit_case

    assert case.workflow_id == handle.id
    assert assigned == assigned_again
    assert assigned.benefit_case.state == wpb.CASE_STATE_IN_REVIEW
    assert assigned.benefit_case.assignee == CHECKER.subject
    assert (progress.state, progress.assignee) == ("IN_REVIEW", CHECKER.subject)
    # The call returns the case as recorded right after the act, before the payment.
    assert decided.benefit_case.state == wpb.CASE_STATE_APPROVED
    assert decided.benefit_case.decided_by == CHECKER.subject
    assert retried == decided
    assert elsewhere == decided
    assert closed == CaseClosed(case.case_id, "PAID", f"{handle.id}:payment-1")
    assert paid.state == wpb.CASE_STATE_PAID
    assert paid.payment_reference == f"{handle.id}:payment-1"
    assert await _accepted_updates(handle) == [ASSIGN, DECIDE]
    # Each act in the officer's name (and agency), recorded once; the payment by the worker.
    assert [(h.to_state, h.actor_subject, h.actor_agency) for h in paid.history] == [
        (wpb.CASE_STATE_OPEN, SERVICE_CALLER.subject, SERVICE_CALLER.agency),
        (wpb.CASE_STATE_IN_REVIEW, OFFICER.subject, OFFICER.agency),
        (wpb.CASE_STATE_APPROVED, CHECKER.subject, CHECKER.agency),
        (wpb.CASE_STATE_PAID, SERVICE_CALLER.subject, SERVICE_CALLER.agency),
    ]


async def test_refused_acts_reach_the_officer_and_neither_the_history_nor_welfare(
    suite: Suite,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    welfare_db: RegistryDatabase,
) -> None:
    citizen_id = await _f0(registrar, cdc)
    # Opened by an officer by hand, then claimed by a service for its workflow: the case is
    # marked, and the officer who opened it stays its maker.
    by_hand = (await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, citizen_id))).benefit_case
    assert by_hand.workflow_id == ""
    case, handle = await _driven_case(suite, citizen_id)
    assert (case.case_id, case.opened_by) == (by_hand.case_id, OFFICER.subject)

    too_early = await expect_error(
        suite.checker.DecideBenefitCase(_decide(case.case_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    await suite.officer.AssignBenefitCase(_assign(case.case_id, CHECKER.subject))
    by_maker = await expect_error(
        suite.officer.DecideBenefitCase(_decide(case.case_id)), grpc.StatusCode.PERMISSION_DENIED
    )
    no_reason = await expect_error(
        suite.checker.DecideBenefitCase(_decide(case.case_id, reason=" ")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    transitions = await _transitions(welfare_db, case.case_id)
    accepted = await _accepted_updates(handle)
    progress = await handle.query(BenefitCase.progress)
    audited = await welfare_db.rows(
        "SELECT action, outcome FROM audit_log WHERE %s = ANY(resource_ids)"
        " AND outcome LIKE 'refused:%%' ORDER BY id",
        case.case_id,
    )
    await suite.checker.DecideBenefitCase(_decide(case.case_id, approve=False))
    rejected = await suite.env.client.get_workflow_handle(
        handle.id, result_type=CaseClosed
    ).result()
    after_close = await expect_error(
        suite.checker.AssignBenefitCase(_assign(case.case_id)), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert (too_early.reason, too_early.domain) == ("CASE_NOT_IN_REVIEW", "welfare.dancu")
    assert by_maker.reason == "DECIDER_IS_MAKER"
    assert no_reason.reason == "INVALID_INPUT"
    assert no_reason.violations == (("reason", "REASON_REQUIRED"),)
    # Only the assignment entered the history and welfare's record.
    assert accepted == [ASSIGN]
    assert transitions == [
        (int(wpb.CASE_STATE_OPEN), OFFICER.subject),
        (int(wpb.CASE_STATE_IN_REVIEW), OFFICER.subject),
    ]
    assert (progress.state, progress.decided_by) == ("IN_REVIEW", "")
    # The attempts are audited as refused, with the workflow's reasons.
    assert [(row["action"], row["outcome"]) for row in audited] == [
        ("DecideBenefitCase", "refused:CASE_NOT_IN_REVIEW"),
        ("DecideBenefitCase", "refused:DECIDER_IS_MAKER"),
    ]
    assert rejected == CaseClosed(case.case_id, "REJECTED")
    assert after_close.reason == "CASE_WORKFLOW_CLOSED"


async def test_documents_are_requested_through_the_workflow_only(
    suite: Suite,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    case, handle = await _driven_case(suite, await _f0(registrar, cdc))
    request = pb.RequestBenefitCaseDocumentsRequest(
        request_id=new_request_id(),
        case_id=case.case_id,
        documents=["giấy ra viện"],
        reason="thiếu giấy ra viện",
    )
    requested = await suite.officer.RequestBenefitCaseDocuments(request)
    again = await suite.officer.RequestBenefitCaseDocuments(request)
    progress = await handle.query(BenefitCase.progress)
    by_hand = (
        await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, await _f0(registrar, cdc)))
    ).benefit_case
    no_workflow = await expect_error(
        suite.officer.RequestBenefitCaseDocuments(
            pb.RequestBenefitCaseDocumentsRequest(
                request_id=new_request_id(),
                case_id=by_hand.case_id,
                documents=["giấy ra viện"],
                reason="thiếu",
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    unnamed = await expect_error(
        suite.officer.RequestBenefitCaseDocuments(
            pb.RequestBenefitCaseDocumentsRequest(request_id=new_request_id(), case_id=case.case_id)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    # Services do not ask beneficiaries for documents: officers do.
    await expect_error(
        suite.clients.welfare_stub(SERVICE_CALLER).RequestBenefitCaseDocuments(request),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    assert list(requested.documents_requested) == ["giấy ra viện"]
    assert again == requested
    assert progress.documents_requested == ["giấy ra viện"]
    assert await _accepted_updates(handle) == ["request_documents"]
    assert requested.benefit_case.state == wpb.CASE_STATE_OPEN
    assert no_workflow.reason == "CASE_NOT_WORKFLOW_DRIVEN"
    assert {field for field, _ in unnamed.violations} >= {"documents"}


async def test_officers_cannot_record_acts_past_the_workflow(
    suite: Suite,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    welfare_db: RegistryDatabase,
) -> None:
    citizen_id = await _f0(registrar, cdc)
    flagged = open_request(MEAL_SUPPORT, citizen_id)
    flagged.driven_by_workflow = True
    officer_flag = await expect_error(
        officer.OpenBenefitCase(flagged), grpc.StatusCode.PERMISSION_DENIED
    )
    case, handle = await _driven_case(suite, citizen_id)
    record = pb.RecordBenefitCaseActRequest(
        request_id=new_request_id(),
        case_id=case.case_id,
        officer_subject=OFFICER.subject,
        officer_agency=OFFICER.agency,
        assignment=pb.AssignmentAct(assignee=OFFICER.subject),
    )
    by_officer = await expect_error(
        officer.RecordBenefitCaseAct(record), grpc.StatusCode.PERMISSION_DENIED
    )
    by_hand = (
        await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, await _f0(registrar, cdc)))
    ).benefit_case
    record.request_id, record.case_id = new_request_id(), by_hand.case_id
    not_driven = await expect_error(
        suite.service.RecordBenefitCaseAct(record), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert officer_flag.reason == "SERVICE_ROLE_REQUIRED"
    assert by_officer.reason == "ROLE_NOT_ALLOWED"
    assert not_driven.reason == "CASE_NOT_WORKFLOW_DRIVEN"
    assert await _transitions(welfare_db, case.case_id) == [
        (int(wpb.CASE_STATE_OPEN), SERVICE_CALLER.subject)
    ]
    assert await _accepted_updates(handle) == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_without_temporal_or_before_the_workflow_starts_nothing_is_recorded(
    welfare_database_url: str,
    registry_server: Server,
    case_status_server: Server,
    signing_key: bytes,
    token_issuer: TokenIssuer,
    welfare_clients: WelfareClients,
    time_skipping: WorkflowEnvironment,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    welfare_db: RegistryDatabase,
) -> None:
    service = welfare_clients.welfare_stub(SERVICE_CALLER)
    cases = []
    for _ in range(2):
        request = open_request(MEAL_SUPPORT, await _f0(registrar, cdc))
        request.driven_by_workflow = True
        cases.append((await service.OpenBenefitCase(request)).benefit_case)
    away = await connect(f"127.0.0.1:{_closed_port()}", lazy=True)
    async with (
        forwarding_welfare(
            welfare_database_url,
            registry_server,
            case_status_server,
            signing_key,
            token_issuer,
            TemporalCaseWorkflows(away, dt.timedelta(seconds=2)),
        ) as unreachable,
        forwarding_welfare(
            welfare_database_url,
            registry_server,
            case_status_server,
            signing_key,
            token_issuer,
            TemporalCaseWorkflows(time_skipping.client),
        ) as reachable,
    ):
        clients = WelfareClients(f"127.0.0.1:{unreachable.port}", token_issuer)
        others = WelfareClients(f"127.0.0.1:{reachable.port}", token_issuer)
        try:
            temporal_away = await expect_error(
                clients.welfare_stub(OFFICER).AssignBenefitCase(_assign(cases[0].case_id)),
                grpc.StatusCode.UNAVAILABLE,
            )
            # Opened for a workflow that has not started yet (the opener hands it over next).
            not_started = await expect_error(
                others.welfare_stub(OFFICER).AssignBenefitCase(_assign(cases[1].case_id)),
                grpc.StatusCode.UNAVAILABLE,
            )
            # A case no workflow drives is still recorded directly by the same process.
            by_hand = (
                await clients.welfare_stub(OFFICER).OpenBenefitCase(
                    open_request(MEAL_SUPPORT, await _f0(registrar, cdc))
                )
            ).benefit_case
            direct = await clients.welfare_stub(OFFICER).AssignBenefitCase(_assign(by_hand.case_id))
        finally:
            await clients.close()
            await others.close()

    assert temporal_away.reason == "CASE_WORKFLOW_UNAVAILABLE"
    assert not_started.reason == "CASE_WORKFLOW_NOT_STARTED"
    for case in cases:
        assert await _transitions(welfare_db, case.case_id) == [
            (int(wpb.CASE_STATE_OPEN), SERVICE_CALLER.subject)
        ]
    assert direct.benefit_case.state == wpb.CASE_STATE_IN_REVIEW


async def test_an_act_welfare_recorded_without_temporal_is_not_recorded_twice(
    suite: Suite,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    welfare_db: RegistryDatabase,
) -> None:
    case, handle = await _driven_case(suite, await _f0(registrar, cdc))
    # A welfare process without Temporal records the act itself (as before acts were
    # forwarded); the same act reaching the workflow later is recorded once.
    await officer.AssignBenefitCase(_assign(case.case_id, CHECKER.subject))
    forwarded = await suite.officer.AssignBenefitCase(_assign(case.case_id, CHECKER.subject))
    progress = await handle.query(BenefitCase.progress)

    assert forwarded.benefit_case.state == wpb.CASE_STATE_IN_REVIEW
    assert (progress.state, progress.assignee) == ("IN_REVIEW", CHECKER.subject)
    assert await _accepted_updates(handle) == [ASSIGN]
    assert await _transitions(welfare_db, case.case_id) == [
        (int(wpb.CASE_STATE_OPEN), SERVICE_CALLER.subject),
        (int(wpb.CASE_STATE_IN_REVIEW), OFFICER.subject),
    ]


async def test_the_welfare_commands_act_on_a_workflow_driven_case_and_explain_refusals(
    suite: Suite,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    token_issuer: TokenIssuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    case, handle = await _driven_case(suite, await _f0(registrar, cdc))
    server = ["--server", suite.clients.target]

    def token(identity: Identity) -> list[str]:
        path = tmp_path / f"{identity.subject}.jwt"
        path.write_text(token_issuer.issue(identity))
        return ["--token-file", str(path)]

    async def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="dancu welfare")
        welfare_cli.add_arguments(parser)
        code = await welfare_cli.run(parser.parse_args([*argv, *server]))
        printed = capsys.readouterr()
        return code, printed.out, printed.err

    early = await run("decide", case.case_id, "--approve", "--reason", "đủ", *token(CHECKER))
    documents = await run(
        "documents",
        case.case_id,
        "--document",
        "giấy ra viện",
        "--document",
        "sổ hộ khẩu",
        "--reason",
        "thiếu giấy tờ",
        *token(OFFICER),
    )
    assigned = await run("assign", case.case_id, "--to", CHECKER.subject, *token(OFFICER))
    decided = await run("decide", case.case_id, "--approve", "--reason", "đủ", *token(CHECKER))
    closed = await suite.env.client.get_workflow_handle(handle.id, result_type=CaseClosed).result()

    assert early[0] == 1
    assert "FAILED_PRECONDITION CASE_NOT_IN_REVIEW" in early[2]
    assert "assign it first" in early[2]
    assert documents[0] == 0
    assert "giấy ra viện, sổ hộ khẩu" in documents[1]
    assert assigned[0] == 0
    assert f"assigned to {CHECKER.subject}" in assigned[1]
    assert f"recorded by its workflow {handle.id}" in assigned[1]
    assert decided[0] == 0
    assert "pays it next" in decided[1]
    assert closed.state == "PAID"
    assert await _accepted_updates(handle) == ["request_documents", ASSIGN, DECIDE]


# --- tracing --------------------------------------------------------------------------------


def _spans() -> InMemorySpanExporter:
    """Spans of this process from now on. The global provider is set once per process: the
    first test to need it sets it; the interceptors created before resolve to it then."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_one_trace_spans_the_api_call_the_update_and_the_record(
    suite: Suite,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
) -> None:
    citizen_id = await _f0(registrar, cdc)
    case, _ = await _driven_case(suite, citizen_id)
    exporter = _spans()
    await suite.officer.AssignBenefitCase(_assign(case.case_id, CHECKER.subject))
    spans = exporter.get_finished_spans()
    exporter.shutdown()

    def named(name: str) -> ReadableSpan:
        [span] = [s for s in spans if s.name == name]
        return span

    api_call = named("/dancu.welfare.v1.WelfareService/AssignBenefitCase")
    chain = [
        api_call,
        named("StartWorkflowUpdate:assign"),
        named("HandleUpdate:assign"),
        named("StartActivity:record_act"),
        named("RunActivity:record_act"),
    ]
    # The worker's call back into welfare: its client span and welfare's server span.
    recorded = [
        s for s in spans if s.name == "/dancu.welfare.v1.WelfareService/RecordBenefitCaseAct"
    ]
    assert len(recorded) == 2
    chain += recorded
    assert {s.context.trace_id for s in chain} == {api_call.context.trace_id}
    # The API call is where the trace starts here; each step is within the one before.
    assert api_call.parent is None
    ids = {s.context.span_id for s in spans}
    assert all(s.parent is not None and s.parent.span_id in ids for s in chain[1:])
    # The client welfare acts through, and the worker's, carry the tracing interceptor.
    assert any(isinstance(i, TracingInterceptor) for i in suite.client.config()["interceptors"])


async def test_an_officer_of_other_wards_cannot_reach_the_workflow(
    suite: Suite, registrar: RegistryServiceAsyncStub, cdc: CaseStatusServiceAsyncStub
) -> None:
    case, handle = await _driven_case(suite, await _f0(registrar, cdc))
    tay_ho = Identity(
        "welfare-th-09", "ubnd-tay-ho", frozenset({"welfare_officer"}), frozenset({"00103"})
    )
    unseen = await expect_error(
        suite.clients.welfare_stub(tay_ho).AssignBenefitCase(_assign(case.case_id)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert unseen.reason == "CASE_NOT_FOUND"
    assert await _accepted_updates(handle) == []
