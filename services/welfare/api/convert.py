"""Protobuf messages to domain values and domain values to messages."""

from __future__ import annotations

import enum
from typing import Any

from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb

from services.kit.protoconv import date_to_proto, timestamp_to_proto
from services.kit.request_reading import FieldReader
from services.welfare.domain.model import (
    DEFAULT_REVIEW_DAYS,
    Assessment,
    BeneficiaryKind,
    Benefit,
    BenefitCase,
    BenefitKind,
    CaseState,
    Clause,
    ClauseResult,
    Entitlement,
    Payment,
    Program,
    Survivor,
    Transition,
)
from services.welfare.use_cases.cases import Opened


def _wire(value: enum.IntEnum | None) -> Any:
    """The proto enum number of a domain enum (numbered alike); 0 (UNSPECIFIED) for None."""
    return 0 if value is None else int(value)


def program_draft(message: wpb.Program) -> Program:
    """A program to publish; version and publication are the server's."""
    read = FieldReader()
    valid_from = read.date(message.valid_from, "program.valid_from", required=True)
    valid_to = read.date(message.valid_to, "program.valid_to", required=False)
    kind = read.enum(message.benefit.kind, BenefitKind, "program.benefit.kind")
    read.violations.check(
        message.benefit.kind != 0, "program.benefit.kind", "KIND_REQUIRED", "is required"
    )
    beneficiary = read.enum(message.beneficiary, BeneficiaryKind, "program.beneficiary")
    read.violations.check(
        message.beneficiary != 0, "program.beneficiary", "BENEFICIARY_REQUIRED", "is required"
    )
    read.done()
    # read.done() raised when any of them was missing or unknown.
    assert valid_from is not None
    assert kind is not None
    assert beneficiary is not None
    benefit = message.benefit
    return Program(
        code=message.code.strip(),
        version=0,
        name=message.name.strip(),
        legal_basis=message.legal_basis.strip(),
        valid_from=valid_from,
        valid_to=valid_to,
        benefit=Benefit(
            kind,
            benefit.amount_vnd,
            benefit.quantity_expression.strip(),
            benefit.max_units,
            benefit.until_age,
        ),
        beneficiary=beneficiary,
        clauses=tuple(
            Clause(c.name.strip(), c.description.strip(), c.expression.strip())
            for c in message.clauses
        ),
        review_days=message.review_days or DEFAULT_REVIEW_DAYS,
        example=message.example,
    )


def program_message(program: Program) -> wpb.Program:
    b = program.benefit
    return wpb.Program(
        code=program.code,
        version=program.version,
        name=program.name,
        legal_basis=program.legal_basis,
        valid_from=date_to_proto(program.valid_from),
        valid_to=date_to_proto(program.valid_to),
        benefit=wpb.Benefit(
            kind=_wire(b.kind),
            amount_vnd=b.amount_vnd,
            quantity_expression=b.quantity_expression,
            max_units=b.max_units,
            until_age=b.until_age,
        ),
        beneficiary=_wire(program.beneficiary),
        clauses=[
            wpb.Clause(name=c.name, description=c.description, expression=c.expression)
            for c in program.clauses
        ],
        review_days=program.review_days,
        example=program.example,
        publish_time=timestamp_to_proto(program.published_at),
        published_by=program.published_by,
    )


def _clause(result: ClauseResult) -> wpb.ClauseResult:
    return wpb.ClauseResult(
        name=result.name,
        description=result.description,
        expression=result.expression,
        satisfied=result.satisfied,
        error=result.error,
        facts=[wpb.Fact(path=f.path, value=f.value) for f in result.facts],
    )


def _entitlement(owed: Entitlement) -> wpb.Entitlement:
    return wpb.Entitlement(
        amount_vnd=owed.amount_vnd,
        unit_amount_vnd=owed.unit_amount_vnd,
        units=owed.units,
        uncapped_units=owed.uncapped_units,
        explanation=owed.explanation,
    )


def assessment_message(a: Assessment) -> wpb.Assessment:
    message = wpb.Assessment(
        program_code=a.program_code,
        program_version=a.program_version,
        beneficiary_citizen_id=a.beneficiary_id,
        subject_citizen_id=a.subject_id,
        assessment_date=date_to_proto(a.on),
        eligible=a.eligible,
        clauses=[_clause(c) for c in a.clauses],
    )
    if a.entitlement is not None:
        message.entitlement.CopyFrom(_entitlement(a.entitlement))
    return message


def _transition(step: Transition) -> wpb.Transition:
    return wpb.Transition(
        from_state=_wire(step.from_state),
        to_state=_wire(step.to_state),
        actor_subject=step.actor.subject,
        actor_agency=step.actor.agency,
        time=timestamp_to_proto(step.at),
        reason=step.reason,
    )


def case_message(case: BenefitCase, *, full: bool = True) -> wpb.BenefitCase:
    """``full``: with the assessment's clauses and the history (a queue row has neither)."""
    message = wpb.BenefitCase(
        case_id=case.case_id,
        program_code=case.program_code,
        program_version=case.program_version,
        beneficiary_citizen_id=case.beneficiary_id,
        subject_citizen_id=case.subject_id,
        ward_code=case.ward_code,
        state=_wire(case.state),
        assignee=case.assignee,
        opened_by=case.opened_by.subject,
        assessed_by=case.assessed_by,
        decided_by=case.decided_by,
        decision_reason=case.decision_reason,
        amount_vnd=case.amount_vnd,
        payment_reference=case.payment_reference,
        open_time=timestamp_to_proto(case.opened_at),
        due_time=timestamp_to_proto(case.due_at),
        update_time=timestamp_to_proto(case.updated_at),
        etag=case.etag,
        payment_periods=case.payment_periods,
        periods_paid=case.periods_paid,
        workflow_id=case.workflow_id,
    )
    if full:
        message.assessment.CopyFrom(assessment_message(case.assessment))
        message.history.extend(_transition(s) for s in case.history)
        message.payments.extend(_payment(p) for p in case.payments)
    return message


def _payment(payment: Payment) -> wpb.Payment:
    return wpb.Payment(
        period=payment.period,
        payment_reference=payment.reference,
        amount_vnd=payment.amount_vnd,
        record_time=timestamp_to_proto(payment.recorded_at),
        recorded_by=payment.recorded_by.subject,
    )


def opened_response(result: Opened) -> pb.OpenBenefitCaseResponse:
    return pb.OpenBenefitCaseResponse(
        benefit_case=case_message(result.case), created=result.created
    )


def survivor_message(survivor: Survivor) -> wpb.Survivor:
    return wpb.Survivor(
        citizen_id=survivor.citizen_id,
        full_name=survivor.full_name,
        birth_date=date_to_proto(survivor.birth_date),
        relationship=_wire(survivor.relationship),
        alive=survivor.alive,
        orphan=survivor.orphan,
    )


def case_state(value: int) -> CaseState | None:
    read = FieldReader()
    state = read.enum(value, CaseState, "state")
    read.done()
    return state
