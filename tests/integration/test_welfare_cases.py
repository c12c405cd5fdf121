"""Benefit cases over real gRPC: idempotent open, maker-checker, payment once and only to a
living, still eligible beneficiary, queues, versions that do not rewrite cases."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.registry.v1 import resident_pb2 as rpb
from dancu.registry.v1.registry_service_pb2 import (
    CorrectCivilStatusRequest,
    GetResidentRequest,
    ProposeCivilStatusCorrectionRequest,
)
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.kit.db import create_engine
from services.welfare.adapters.case_metrics import observing_cases_by_state
from services.welfare.api.convert import program_message
from services.welfare.domain.examples import FUNERAL, MEAL_SUPPORT, example_programs
from services.welfare.domain.model import CaseState
from tests.integration.registry_client import (
    HOAN_KIEM,
    RegistryDatabase,
    expect_error,
    name_tag,
    new_request_id,
    register,
    rich_error,
)
from tests.integration.welfare_client import (
    CHECKER,
    HOAN_KIEM_OFFICER,
    OFFICER,
    TAY_HO_OFFICER,
    WelfareClients,
    check,
    family,
    open_request,
    publish_monthly_program,
    record_stay,
    register_covid_death,
)
from tests.support.metrics import points

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub


async def _f0_resident(
    registrar: RegistryServiceAsyncStub, cdc: CaseStatusServiceAsyncStub, **fields: object
) -> str:
    """A resident who spent 10 days in hospital as an F0 in August 2021."""
    resident = await register(registrar, **fields)
    await record_stay(
        cdc,
        resident.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        dt.date(2021, 8, 1),
        dt.date(2021, 8, 11),
    )
    return resident.citizen_id


def _assign(case_id: str, assignee: str = "") -> pb.AssignBenefitCaseRequest:
    return pb.AssignBenefitCaseRequest(
        request_id=new_request_id(), case_id=case_id, assignee=assignee
    )


def _decide(
    case_id: str, approve: bool = True, reason: str = "papers checked"
) -> pb.DecideBenefitCaseRequest:
    return pb.DecideBenefitCaseRequest(
        request_id=new_request_id(),
        case_id=case_id,
        decision=pb.DECISION_APPROVE if approve else pb.DECISION_REJECT,
        reason=reason,
    )


def _pay(
    case_id: str, reference: str, request_id: str | None = None, period: int = 0
) -> pb.RecordPaymentRequest:
    return pb.RecordPaymentRequest(
        request_id=request_id or new_request_id(),
        case_id=case_id,
        payment_reference=reference,
        period=period,
    )


def _withdraw(case_id: str, reason: str) -> pb.WithdrawBenefitCaseRequest:
    return pb.WithdrawBenefitCaseRequest(
        request_id=new_request_id(), case_id=case_id, reason=reason
    )


async def _approved(
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
    citizen_id: str,
    program: str = MEAL_SUPPORT,
) -> str:
    opened = await officer.OpenBenefitCase(open_request(program, citizen_id))
    case_id = opened.benefit_case.case_id
    await officer.AssignBenefitCase(_assign(case_id, CHECKER.subject))
    await checker.DecideBenefitCase(_decide(case_id))
    return case_id


async def test_opening_the_same_case_twice_returns_the_first(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
) -> None:
    citizen_id = await _f0_resident(registrar, cdc)
    request = open_request(MEAL_SUPPORT, citizen_id)

    first = await officer.OpenBenefitCase(request)
    retried = await officer.OpenBenefitCase(request)
    again = await checker.OpenBenefitCase(open_request(MEAL_SUPPORT, citizen_id))
    other = await _f0_resident(registrar, cdc)
    reused = await expect_error(
        officer.OpenBenefitCase(open_request(MEAL_SUPPORT, other, request_id=request.request_id)),
        grpc.StatusCode.ALREADY_EXISTS,
    )

    assert first.created
    assert not again.created
    assert retried == first
    assert reused.reason == "REQUEST_ID_REUSED"
    assert again.benefit_case.case_id == first.benefit_case.case_id
    case = first.benefit_case
    assert case.state == wpb.CASE_STATE_OPEN
    assert (case.amount_vnd, case.opened_by, case.assessed_by) == (
        800_000,
        OFFICER.subject,
        OFFICER.subject,
    )
    assert case.assessment.eligible
    assert case.assessment.clauses[0].name == "program_in_force"


async def test_an_ineligible_claim_opens_no_case(
    registrar: RegistryServiceAsyncStub, officer: WelfareServiceAsyncStub
) -> None:
    never_ill = await register(registrar)

    error = await expect_error(
        officer.OpenBenefitCase(open_request(MEAL_SUPPORT, never_ill.citizen_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )

    assert error.reason == "NOT_ELIGIBLE"
    assert "was_f0_or_f1" in error.message
    assert never_ill.citizen_id not in error.text


async def test_maker_checker_and_one_payment(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
    welfare_db: RegistryDatabase,
) -> None:
    citizen_id = await _f0_resident(registrar, cdc)
    case_id = (
        await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, citizen_id))
    ).benefit_case.case_id

    early = await expect_error(
        checker.DecideBenefitCase(_decide(case_id)), grpc.StatusCode.FAILED_PRECONDITION
    )
    await officer.AssignBenefitCase(_assign(case_id))
    maker = await expect_error(
        officer.DecideBenefitCase(_decide(case_id)), grpc.StatusCode.PERMISSION_DENIED
    )
    unpaid = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-0001")), grpc.StatusCode.FAILED_PRECONDITION
    )
    approved = (await checker.DecideBenefitCase(_decide(case_id))).benefit_case
    paid = (await officer.RecordPayment(_pay(case_id, "KB-0001"))).benefit_case
    same = (await checker.RecordPayment(_pay(case_id, "KB-0001"))).benefit_case
    other = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-0002")), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert (early.reason, maker.reason, unpaid.reason) == (
        "ILLEGAL_TRANSITION",
        "DECIDER_IS_MAKER",
        "ILLEGAL_TRANSITION",
    )
    assert approved.state == wpb.CASE_STATE_APPROVED
    assert approved.decided_by == CHECKER.subject
    assert paid.state == wpb.CASE_STATE_PAID
    assert paid.payment_reference == "KB-0001"
    assert same.history == paid.history
    assert other.reason == "ALREADY_PAID"
    assert [(t.from_state, t.to_state, t.actor_subject) for t in paid.history] == [
        (wpb.CASE_STATE_UNSPECIFIED, wpb.CASE_STATE_OPEN, OFFICER.subject),
        (wpb.CASE_STATE_OPEN, wpb.CASE_STATE_IN_REVIEW, OFFICER.subject),
        (wpb.CASE_STATE_IN_REVIEW, wpb.CASE_STATE_APPROVED, CHECKER.subject),
        (wpb.CASE_STATE_APPROVED, wpb.CASE_STATE_PAID, OFFICER.subject),
    ]
    events = await welfare_db.outbox(case_id, "welfare.benefit_case_changed.v1")
    assert [e["payload"]["to_state"] for e in events] == ["OPEN", "IN_REVIEW", "APPROVED", "PAID"]
    refusals = await welfare_db.audit("DecideBenefitCase", case_id)
    assert [r["outcome"] for r in refusals] == [
        "refused:ILLEGAL_TRANSITION",
        "refused:DECIDER_IS_MAKER",
        "ok",
    ]


async def test_a_monthly_case_is_paid_once_per_period_in_order_and_no_further(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
    welfare_db: RegistryDatabase,
) -> None:
    program = await publish_monthly_program(supervisor, months=3, amount_vnd=1_500_000)
    citizen_id = await _f0_resident(registrar, cdc)
    case_id = await _approved(officer, checker, citizen_id, program)

    # Period unset: the first, as callers paying one-time cases send it.
    first = (await officer.RecordPayment(_pay(case_id, "KB-M-1"))).benefit_case
    early = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-M-3", period=3)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    second = (await officer.RecordPayment(_pay(case_id, "KB-M-2", period=2))).benefit_case
    same = (await checker.RecordPayment(_pay(case_id, "KB-M-2", period=2))).benefit_case
    other = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-M-2-bis", period=2)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    reused = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-M-1", period=3)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    third = (await officer.RecordPayment(_pay(case_id, "KB-M-3", period=3))).benefit_case
    beyond = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-M-4", period=4)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    negative = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-M-0", period=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    in_full = await expect_error(
        officer.WithdrawBenefitCase(_withdraw(case_id, "nothing left")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    shown = (await officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=case_id))).benefit_case
    [queued] = [
        c
        for c in (
            await officer.ListBenefitCases(
                pb.ListBenefitCasesRequest(program_code=program, page_size=5)
            )
        ).benefit_cases
    ]

    assert (first.amount_vnd, first.payment_periods, first.periods_paid) == (4_500_000, 3, 1)
    assert first.state == second.state == third.state == wpb.CASE_STATE_PAID
    assert (early.reason, other.reason, reused.reason, beyond.reason, in_full.reason) == (
        "PERIOD_OUT_OF_ORDER",
        "ALREADY_PAID",
        "PAYMENT_REFERENCE_IN_USE",
        "PERIOD_BEYOND_ENTITLEMENT",
        "ILLEGAL_TRANSITION",
    )
    assert negative.violations == (("period", "PERIOD_INVALID"),)
    assert same == second
    assert [
        (p.period, p.payment_reference, p.amount_vnd, p.recorded_by) for p in shown.payments
    ] == [
        (1, "KB-M-1", 1_500_000, OFFICER.subject),
        (2, "KB-M-2", 1_500_000, OFFICER.subject),
        (3, "KB-M-3", 1_500_000, OFFICER.subject),
    ]
    assert (shown.periods_paid, shown.payment_reference) == (3, "KB-M-3")
    # Only the first payment is a transition (APPROVED -> PAID); the etag moves with each.
    assert [t.to_state for t in shown.history][-1] == wpb.CASE_STATE_PAID
    assert len(shown.history) == 4
    assert (first.etag, second.etag, third.etag) == ('W/"4"', 'W/"5"', 'W/"6"')
    # A queue row shows the periods without the payments.
    assert (queued.periods_paid, queued.payment_periods, len(queued.payments)) == (3, 3, 0)
    rows = await welfare_db.rows(
        "SELECT period, payment_reference FROM case_payments WHERE case_id = %s ORDER BY period",
        case_id,
    )
    assert [(r["period"], r["payment_reference"]) for r in rows] == [
        (1, "KB-M-1"),
        (2, "KB-M-2"),
        (3, "KB-M-3"),
    ]
    audited = await welfare_db.audit("RecordPayment", case_id)
    assert [r["outcome"] for r in audited].count("ok") == 3


async def test_a_monthly_case_being_paid_is_stopped_with_its_payments_kept(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
) -> None:
    program = await publish_monthly_program(supervisor, months=4)
    citizen_id = await _f0_resident(registrar, cdc)
    case_id = await _approved(officer, checker, citizen_id, program)
    await officer.RecordPayment(_pay(case_id, f"KB-S-{case_id}-1", period=1))
    await officer.RecordPayment(_pay(case_id, f"KB-S-{case_id}-2", period=2))

    stopped = (await checker.WithdrawBenefitCase(_withdraw(case_id, "death revoked"))).benefit_case
    after = await expect_error(
        officer.RecordPayment(_pay(case_id, f"KB-S-{case_id}-3", period=3)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    reopened = await officer.OpenBenefitCase(open_request(program, citizen_id))
    one_time = await _approved(officer, checker, await _f0_resident(registrar, cdc))
    await officer.RecordPayment(_pay(one_time, f"KB-S-{one_time}"))
    paid_in_full = await expect_error(
        officer.WithdrawBenefitCase(_withdraw(one_time, "too late")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    # Another case paid under a reference this one used.
    fresh = await _approved(officer, checker, await _f0_resident(registrar, cdc))
    taken = await expect_error(
        officer.RecordPayment(_pay(fresh, f"KB-S-{case_id}-1")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )

    assert stopped.state == wpb.CASE_STATE_STOPPED
    step = stopped.history[-1]
    assert (step.from_state, step.to_state, step.actor_subject, step.reason) == (
        wpb.CASE_STATE_PAID,
        wpb.CASE_STATE_STOPPED,
        CHECKER.subject,
        "death revoked",
    )
    # Nothing paid is undone; nothing more is paid; the claim stays taken.
    assert (stopped.periods_paid, len(stopped.payments)) == (2, 2)
    assert after.reason == "ILLEGAL_TRANSITION"
    assert (reopened.created, reopened.benefit_case.case_id) == (False, case_id)
    assert paid_in_full.reason == "ILLEGAL_TRANSITION"
    assert taken.reason == "PAYMENT_REFERENCE_IN_USE"


async def test_payment_is_blocked_for_a_deceased_beneficiary(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
) -> None:
    citizen_id = await _f0_resident(registrar, cdc)
    case_id = await _approved(officer, checker, citizen_id)
    await register_covid_death(civil_officer, citizen_id, dt.date.today() - dt.timedelta(days=1))

    error = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-DEAD")), grpc.StatusCode.FAILED_PRECONDITION
    )
    case = (await officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=case_id))).benefit_case

    assert error.reason == "BENEFICIARY_DECEASED"
    assert case.state == wpb.CASE_STATE_APPROVED
    assert not case.payment_reference


async def test_a_new_program_version_does_not_change_an_open_case(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
) -> None:
    code = f"MEAL_{name_tag().upper()}"
    meal = program_message(example_programs()[0])
    meal.code = code
    first = await supervisor.PublishProgram(
        pb.PublishProgramRequest(request_id=new_request_id(), program=meal)
    )
    unchanged = await supervisor.PublishProgram(
        pb.PublishProgramRequest(request_id=new_request_id(), program=meal)
    )
    citizen_id = await _f0_resident(registrar, cdc)
    opened = (await officer.OpenBenefitCase(open_request(code, citizen_id))).benefit_case

    meal.benefit.amount_vnd = 100_000
    second = await supervisor.PublishProgram(
        pb.PublishProgramRequest(request_id=new_request_id(), program=meal)
    )
    case = (
        await officer.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=opened.case_id))
    ).benefit_case
    now = await officer.CheckEligibility(check(citizen_id, code))
    old = await officer.GetProgram(pb.GetProgramRequest(code=code, version=1))

    assert (first.created, unchanged.created, second.created) == (True, False, True)
    assert (first.program.version, unchanged.program.version, second.program.version) == (1, 1, 2)
    assert (case.program_version, case.amount_vnd) == (1, 800_000)
    assert case.assessment.entitlement.unit_amount_vnd == 80_000
    assert (now.assessments[0].program_version, now.assessments[0].entitlement.amount_vnd) == (
        2,
        1_000_000,
    )
    assert old.program.benefit.amount_vnd == 80_000


async def test_a_rule_that_is_not_cel_is_refused(supervisor: WelfareServiceAsyncStub) -> None:
    broken = program_message(example_programs()[0])
    broken.code = "BROKEN_RULE"
    broken.clauses[0].expression = "case.ever_f0 ||"
    broken.clauses[1].expression = "beneficiary.agee > 3"

    error = await expect_error(
        supervisor.PublishProgram(
            pb.PublishProgramRequest(request_id=new_request_id(), program=broken)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    assert error.violations == (
        ("program.clauses[0].expression", "EXPRESSION_INVALID"),
        ("program.clauses[1].expression", "FACT_UNKNOWN"),
    )


async def test_officers_cannot_publish_programs(officer: WelfareServiceAsyncStub) -> None:
    meal = program_message(example_programs()[0])

    error = await expect_error(
        officer.PublishProgram(pb.PublishProgramRequest(request_id=new_request_id(), program=meal)),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    assert error.reason == "ROLE_NOT_ALLOWED"


async def test_queue_by_assignee_ward_and_overdue(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    welfare_clients: WelfareClients,
    welfare_db: RegistryDatabase,
) -> None:
    hoan_kiem = welfare_clients.welfare_stub(HOAN_KIEM_OFFICER)
    tay_ho = welfare_clients.welfare_stub(TAY_HO_OFFICER)
    ids = []
    for _ in range(3):
        citizen_id = await _f0_resident(registrar, cdc)
        ids.append(
            (
                await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, citizen_id))
            ).benefit_case.case_id
        )
    await hoan_kiem.AssignBenefitCase(_assign(ids[0]))
    await hoan_kiem.AssignBenefitCase(_assign(ids[1]))
    # Past due: as if opened more than the program's review days ago.
    await welfare_db.conn.execute(
        b"UPDATE benefit_cases SET due_at = now() - interval '1 day' WHERE case_id = %s", (ids[1],)
    )

    mine = []
    request = pb.ListBenefitCasesRequest(assignee="me", page_size=1)
    while True:
        page = await hoan_kiem.ListBenefitCases(request)
        mine += [c.case_id for c in page.benefit_cases]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    overdue = await hoan_kiem.ListBenefitCases(
        pb.ListBenefitCasesRequest(assignee="me", overdue_only=True)
    )
    open_ones = await officer.ListBenefitCases(
        pb.ListBenefitCasesRequest(state=wpb.CASE_STATE_OPEN, page_size=200)
    )
    hidden = await tay_ho.ListBenefitCases(
        pb.ListBenefitCasesRequest(assignee=HOAN_KIEM_OFFICER.subject)
    )
    not_theirs = await expect_error(
        tay_ho.GetBenefitCase(pb.GetBenefitCaseRequest(case_id=ids[0])), grpc.StatusCode.NOT_FOUND
    )
    other_ward = await expect_error(
        tay_ho.ListBenefitCases(pb.ListBenefitCasesRequest(ward_code=HOAN_KIEM)),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    assert mine == ids[:2]
    assert [c.case_id for c in overdue.benefit_cases] == [ids[1]]
    assert ids[2] in [c.case_id for c in open_ones.benefit_cases]
    assert ids[0] not in [c.case_id for c in open_ones.benefit_cases]
    assert not hidden.benefit_cases
    assert not_theirs.reason == "CASE_NOT_FOUND"
    assert other_ward.reason == "OUT_OF_JURISDICTION"


async def test_withdrawn_case_frees_the_claim(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    citizen_id = await _f0_resident(registrar, cdc)
    first = (await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, citizen_id))).benefit_case

    withdrawn = await officer.WithdrawBenefitCase(
        pb.WithdrawBenefitCaseRequest(
            request_id=new_request_id(), case_id=first.case_id, reason="duplicate paper file"
        )
    )
    again = await expect_error(
        officer.WithdrawBenefitCase(
            pb.WithdrawBenefitCaseRequest(
                request_id=new_request_id(), case_id=first.case_id, reason="again"
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    reopened = await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, citizen_id))

    assert withdrawn.benefit_case.state == wpb.CASE_STATE_WITHDRAWN
    assert withdrawn.benefit_case.history[-1].reason == "duplicate paper file"
    assert again.reason == "ILLEGAL_TRANSITION"
    assert reopened.created
    assert reopened.benefit_case.case_id != first.case_id


async def test_a_revoked_death_blocks_the_funeral_payment(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    second_civil_officer: RegistryServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
) -> None:
    father, mother, _ = await family(registrar, dt.date(2001, 1, 1))
    await register_covid_death(civil_officer, father.citizen_id)
    opened = await officer.OpenBenefitCase(
        open_request(FUNERAL, mother.citizen_id, father.citizen_id)
    )
    case_id = opened.benefit_case.case_id
    await checker.AssignBenefitCase(_assign(case_id))
    await checker.DecideBenefitCase(_decide(case_id))
    # The death was registered against the wrong person: revoked, with a second officer.
    recorded = (
        await registrar.GetResident(GetResidentRequest(citizen_id=father.citizen_id))
    ).resident
    proposed = await civil_officer.ProposeCivilStatusCorrection(
        ProposeCivilStatusCorrectionRequest(
            request_id=new_request_id(),
            citizen_id=father.citizen_id,
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

    error = await expect_error(
        officer.RecordPayment(_pay(case_id, "KB-FUNERAL")), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert opened.benefit_case.amount_vnd == 10_000_000
    assert error.reason == "NO_LONGER_ELIGIBLE"
    assert "died_of_covid19" in error.message


async def test_two_survivors_claiming_the_funeral_support_at_once_get_one_case(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
) -> None:
    father, mother, son = await family(registrar, dt.date(1999, 9, 9))
    await register_covid_death(civil_officer, father.citizen_id)

    outcomes = await asyncio.gather(
        officer.OpenBenefitCase(open_request(FUNERAL, mother.citizen_id, father.citizen_id)),
        checker.OpenBenefitCase(open_request(FUNERAL, son.citizen_id, father.citizen_id)),
        return_exceptions=True,
    )

    opened = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(opened) == 1
    assert len(refused) == 1
    assert rich_error(refused[0]).reason == "NOT_ELIGIBLE"


async def test_a_decision_on_a_case_changed_since_it_was_read_is_aborted(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
) -> None:
    citizen_id = await _f0_resident(registrar, cdc)
    read = (await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, citizen_id))).benefit_case
    # Someone takes the case for review after the checker read it.
    assigned = (await officer.AssignBenefitCase(_assign(read.case_id))).benefit_case

    stale = _decide(read.case_id)
    stale.etag = read.etag
    error = await expect_error(checker.DecideBenefitCase(stale), grpc.StatusCode.ABORTED)
    current = _decide(read.case_id)
    current.etag = assigned.etag
    decided = (await checker.DecideBenefitCase(current)).benefit_case

    assert (read.etag, assigned.etag, decided.etag) == ('W/"1"', 'W/"2"', 'W/"3"')
    assert error.reason == "ETAG_MISMATCH"
    assert decided.state == wpb.CASE_STATE_APPROVED


async def test_the_benefit_case_gauge_reports_the_database_counts_by_state(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    welfare_database_url: str,
    welfare_db: RegistryDatabase,
) -> None:
    await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, await _f0_resident(registrar, cdc)))
    reader = InMemoryMetricReader()
    engine = create_engine(welfare_database_url, pool_size=1)
    try:
        async with observing_cases_by_state(engine, MeterProvider(metric_readers=[reader])):
            for _ in range(100):
                reported = points(reader, "dancu.welfare.benefit_cases")
                if reported:
                    break
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()

    counted = await welfare_db.rows("SELECT state, count(*) AS n FROM benefit_cases GROUP BY state")
    expected = {state.name: 0 for state in CaseState}
    expected.update({CaseState(row["state"]).name: row["n"] for row in counted})
    assert {p.attributes["state"]: p.value for p in reported} == expected
    assert expected["OPEN"] >= 1
