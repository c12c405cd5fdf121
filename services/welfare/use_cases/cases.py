"""Benefit cases: opened with an assessment, assigned, decided by another officer, paid after
eligibility is checked again (once, or a monthly case once per period), withdrawn, or a
monthly case stopped with periods left.

Every state change writes its transition, one ``welfare.benefit_case_changed.v1`` outbox row
and an audit row in the same transaction; a later period's payment writes its payment row and
an audit row. Each mutation is idempotent by request id, so a workflow can drive a case by
deriving request ids from its own id and step; RecordPayment is also idempotent by period and
payment reference.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import (
    FieldViolation,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Validator,
)
from services.kit.request_ids import IdempotencyKey, StoredResponse
from services.kit.transactions import replay
from services.welfare.domain import cases as lifecycle
from services.welfare.domain.facts import Person
from services.welfare.domain.model import (
    Assessment,
    BenefitCase,
    CaseState,
    Transition,
    payment_periods,
    vietnam_date,
)
from services.welfare.ports import ResultEncoder, UnitOfWork
from services.welfare.use_cases import (
    CASE,
    WelfareService,
    actor,
    assess_claim,
    check_citizen_ids,
    gather,
    subject_for,
    transaction,
)

CASE_CHANGED = "welfare.benefit_case_changed.v1"


def new_case_id() -> str:
    return str(uuid.uuid4())


def resource_ids(case: BenefitCase) -> tuple[str, ...]:
    """What an audit row of a case names: the case and the residents it concerns."""
    return tuple(dict.fromkeys((case.case_id, case.beneficiary_id, case.subject_id)))


def changed_payload(case: BenefitCase, step: Transition) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "program_code": case.program_code,
        "program_version": case.program_version,
        "beneficiary_citizen_id": case.beneficiary_id,
        "subject_citizen_id": case.subject_id,
        "ward_code": case.ward_code,
        "from_state": step.from_state.name if step.from_state else None,
        "to_state": step.to_state.name,
        "actor_subject": step.actor.subject,
        "actor_agency": step.actor.agency,
        "time": step.at.isoformat(),
        "reason": step.reason,
        "amount_vnd": case.amount_vnd,
        "payment_reference": case.payment_reference,
    }


async def _record(uow: UnitOfWork, case: BenefitCase, method: str, request_id: str) -> None:
    """The case's last transition: its outbox row and audit row."""
    await uow.publish(CASE_CHANGED, case.case_id, changed_payload(case, case.history[-1]))
    await uow.audit(AuditEvent(method, CASE, resource_ids(case), "ok", request_id))


def _sees(identity: Identity, case: BenefitCase) -> bool:
    return identity.nationwide or case.ward_code in identity.wards


def _check_case_id(case_id: str) -> None:
    try:
        uuid.UUID(case_id)
    except ValueError:
        raise InvalidInput(
            [FieldViolation("case_id", "CASE_ID_INVALID", "is not a case id")]
        ) from None


async def _case(
    uow: UnitOfWork, identity: Identity, case_id: str, *, for_update: bool = False
) -> BenefitCase:
    case = await uow.welfare.case(case_id, for_update=for_update)
    if case is None or not _sees(identity, case):
        raise NotFound("CASE_NOT_FOUND", "no such benefit case")
    return case


@dataclass(frozen=True)
class Opened:
    case: BenefitCase
    created: bool


async def open_case(
    svc: WelfareService,
    identity: Identity,
    program_code: str,
    beneficiary_id: str,
    subject_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[Opened],
) -> Opened | StoredResponse:
    """Assesses the claim under the program's latest version and opens a case for it when
    eligible; an active case of the same claim is returned instead of a second one."""
    v = Validator()
    v.check(bool(program_code), "program_code", "PROGRAM_CODE_REQUIRED", "is required")
    v.check(bool(beneficiary_id), "beneficiary_citizen_id", "CITIZEN_ID_REQUIRED", "is required")
    check_citizen_ids(
        v, (beneficiary_id, "beneficiary_citizen_id"), (subject_id, "subject_citizen_id")
    )
    v.raise_if_any()
    method = "OpenBenefitCase"
    ids = list(dict.fromkeys([beneficiary_id, *([subject_id] if subject_id else [])]))
    async with transaction(svc, identity, method, CASE, ids, key.request_id) as uow:
        replayed = await replay(uow, method, key, CASE, ids)
        if replayed is not None:
            return replayed
        program = await uow.welfare.latest_program(program_code)
        if program is None:
            raise NotFound("PROGRAM_NOT_FOUND", "no such program")
        subject = subject_for(program, beneficiary_id, subject_id, "subject_citizen_id")
        claim = await gather(svc, identity, beneficiary_id, subject)
        await uow.welfare.lock_claims(program.code, subject)
        existing = await uow.welfare.active_case(program.code, beneficiary_id, subject)
        if existing is None:
            now = svc.clock.now()
            others = await uow.welfare.other_claims(program.code, subject, beneficiary_id)
            assessment = assess_claim(program, claim, others, vietnam_date(now))
            if not assessment.eligible:
                raise PreconditionFailed(
                    "NOT_ELIGIBLE",
                    "not eligible; clauses not satisfied: " + ", ".join(assessment.failed_clauses),
                )
            periods = payment_periods(program.benefit.kind, assessment.entitlement)
            case = _new_case(
                program.review_days, periods, assessment, claim.beneficiary, identity, now
            )
            await uow.welfare.add_case(case)
            result = Opened(case, True)
            await uow.complete(key, encode(result))
            await _record(uow, case, method, key.request_id)
            await uow.commit()
            return result
        result = Opened(existing, False)
        await uow.complete(key, encode(result))
        await uow.audit(
            AuditEvent(method, CASE, resource_ids(existing), "existing", key.request_id)
        )
        await uow.commit()
        return result


def _new_case(
    review_days: int,
    periods: int,
    assessment: Assessment,
    beneficiary: Person,
    identity: Identity,
    now: dt.datetime,
) -> BenefitCase:
    who = actor(identity)
    owed = assessment.entitlement
    return BenefitCase(
        case_id=new_case_id(),
        program_code=assessment.program_code,
        program_version=assessment.program_version,
        beneficiary_id=assessment.beneficiary_id,
        subject_id=assessment.subject_id,
        ward_code=beneficiary.permanent_ward,
        state=CaseState.OPEN,
        assignee="",
        opened_by=who,
        assessed_by=identity.subject,
        decided_by="",
        decision_reason="",
        assessment=assessment,
        amount_vnd=owed.amount_vnd if owed else 0,
        payment_reference="",
        opened_at=now,
        due_at=now + dt.timedelta(days=review_days),
        updated_at=now,
        history=(Transition(None, CaseState.OPEN, who, now, "opened"),),
        payment_periods=periods,
    )


async def get_case(svc: WelfareService, identity: Identity, case_id: str) -> BenefitCase:
    _check_case_id(case_id)
    async with transaction(svc, identity, "GetBenefitCase", CASE, [case_id]) as uow:
        case = await _case(uow, identity, case_id)
        await uow.audit(AuditEvent("GetBenefitCase", CASE, resource_ids(case), "ok"))
        await uow.commit()
    return case


async def _change(
    svc: WelfareService,
    identity: Identity,
    method: str,
    case_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    step: Callable[[BenefitCase, dt.datetime], BenefitCase],
    etag: str = "",
) -> BenefitCase | StoredResponse:
    """Loads the case FOR UPDATE, checks ``etag`` when given, applies ``step(case, now)``,
    stores and records it."""
    _check_case_id(case_id)
    async with transaction(svc, identity, method, CASE, [case_id], key.request_id) as uow:
        replayed = await replay(uow, method, key, CASE, [case_id])
        if replayed is not None:
            return replayed
        case = await _case(uow, identity, case_id, for_update=True)
        lifecycle.check_etag(case, etag)
        changed = step(case, svc.clock.now())
        await uow.welfare.save_case(changed)
        await uow.complete(key, encode(changed))
        await _record(uow, changed, method, key.request_id)
        await uow.commit()
        return changed


async def assign_case(
    svc: WelfareService,
    identity: Identity,
    case_id: str,
    assignee: str,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    etag: str = "",
) -> BenefitCase | StoredResponse:
    who = assignee or identity.subject
    return await _change(
        svc,
        identity,
        "AssignBenefitCase",
        case_id,
        key,
        encode,
        lambda case, now: lifecycle.assign(case, who, actor(identity), now),
        etag,
    )


async def decide_case(
    svc: WelfareService,
    identity: Identity,
    case_id: str,
    approve: bool,
    reason: str,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    etag: str = "",
) -> BenefitCase | StoredResponse:
    lifecycle.require_reason(reason)
    return await _change(
        svc,
        identity,
        "DecideBenefitCase",
        case_id,
        key,
        encode,
        lambda case, now: lifecycle.decide(case, approve, reason, actor(identity), now),
        etag,
    )


async def withdraw_case(
    svc: WelfareService,
    identity: Identity,
    case_id: str,
    reason: str,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    etag: str = "",
) -> BenefitCase | StoredResponse:
    lifecycle.require_reason(reason)
    return await _change(
        svc,
        identity,
        "WithdrawBenefitCase",
        case_id,
        key,
        encode,
        lambda case, now: lifecycle.withdraw(case, reason, actor(identity), now),
        etag,
    )


async def record_payment(
    svc: WelfareService,
    identity: Identity,
    case_id: str,
    reference: str,
    period: int,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
) -> BenefitCase | StoredResponse:
    """Pays one period of an approved case (a one-time case has one). Right before, the claim
    is assessed again with today's facts under the case's program version (its validity
    period as of the case's own assessment): a deceased or no longer eligible beneficiary
    blocks the payment."""
    _check_case_id(case_id)
    reference = lifecycle.require_reference(reference)
    period = lifecycle.require_period(period)
    method = "RecordPayment"
    async with transaction(svc, identity, method, CASE, [case_id], key.request_id) as uow:
        replayed = await replay(uow, method, key, CASE, [case_id])
        if replayed is not None:
            return replayed
        case = await _case(uow, identity, case_id)
        if not lifecycle.already_paid(case, period, reference):
            lifecycle.check_payable(case, period)
            await _recheck(svc, uow, case)
            # Locked only now, after the registry and case status answered; a concurrent
            # payment of the same period may have been recorded meanwhile.
            await uow.welfare.lock_payment_reference(reference)
            case = await _case(uow, identity, case_id, for_update=True)
        if lifecycle.already_paid(case, period, reference):
            await uow.complete(key, encode(case))
            await uow.audit(
                AuditEvent(method, CASE, resource_ids(case), "already_paid", key.request_id)
            )
            await uow.commit()
            return case
        if await uow.welfare.payment_by_reference(reference) is not None:
            raise lifecycle.reference_in_use()
        paid = lifecycle.pay(case, period, reference, actor(identity), svc.clock.now())
        await uow.welfare.save_case(paid)
        await uow.complete(key, encode(paid))
        if paid.state is not case.state:
            await _record(uow, paid, method, key.request_id)
        else:
            # A later period changes no state: no transition, no outbox row; its payment row
            # is the record.
            await uow.audit(AuditEvent(method, CASE, resource_ids(paid), "ok", key.request_id))
        await uow.commit()
        return paid


async def _recheck(svc: WelfareService, uow: UnitOfWork, case: BenefitCase) -> None:
    program = await uow.welfare.program(case.program_code, case.program_version)
    assert program is not None  # versions are never deleted
    # The caller may see the case (its ward); where the beneficiary lives today does not
    # decide whether the payment may go ahead, so the facts are read without ward scope.
    claim = await gather(svc, None, case.beneficiary_id, case.subject_id)
    if claim.beneficiary.deceased:
        raise PreconditionFailed(
            "BENEFICIARY_DECEASED", "the beneficiary is recorded as deceased; payment blocked"
        )
    others = await uow.welfare.other_claims(case.program_code, case.subject_id, case.beneficiary_id)
    again = assess_claim(program, claim, others, svc.today(), in_force_on=case.assessment.on)
    if not again.eligible:
        raise PreconditionFailed(
            "NO_LONGER_ELIGIBLE",
            "payment blocked; clauses no longer satisfied: " + ", ".join(again.failed_clauses),
        )
