"""Benefit cases: opened with an assessment, assigned, decided by another officer, paid after
eligibility is checked again (once, or a monthly case once per period), withdrawn, or a
monthly case stopped with periods left.

Every state change writes its transition, one ``welfare.benefit_case_changed.v1`` outbox row
and an audit row in the same transaction; a later period's payment writes its payment row and
an audit row. Each mutation is idempotent by request id, so a workflow can drive a case by
deriving request ids from its own id and step; RecordPayment is also idempotent by period and
payment reference.

On a case a workflow drives (``workflow_id``), an officer's act goes to that workflow as an
Update first (``CaseWorkflows``), when welfare has Temporal settings: the workflow's refusal is
the officer's, and an accepted act is recorded by the workflow through ``record_act``
(RecordBenefitCaseAct), never forwarded again (docs/decisions/0015).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import (
    AlreadyExists,
    DomainError,
    FieldViolation,
    Forbidden,
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
    Actor,
    Assessment,
    BenefitCase,
    CaseState,
    Transition,
    payment_periods,
    vietnam_date,
)
from services.welfare.ports import ActAccepted, OfficerAct, ResultEncoder, UnitOfWork
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
# The role of dancu's own services and workflows (services/welfare/api/policy.py).
SERVICE_ROLE = "service"
# The Update names of the BenefitCase workflow (workflows/benefit_case/models.py).
ASSIGN = "assign"
DECIDE = "decide"
REQUEST_DOCUMENTS = "request_documents"


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
    driven_by_workflow: bool = False,
) -> Opened | StoredResponse:
    """Assesses the claim under the program's latest version and opens a case for it when
    eligible; an active case of the same claim is returned instead of a second one.
    ``driven_by_workflow``: the caller (a service) hands the case to its workflow, so
    officers' acts on it go there first; an existing case returned is marked too."""
    if driven_by_workflow and SERVICE_ROLE not in identity.roles:
        raise Forbidden(
            "SERVICE_ROLE_REQUIRED", "only a dancu service hands a case to its workflow"
        )
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
            if driven_by_workflow:
                case = replace(case, workflow_id=lifecycle.workflow_id(case.case_id))
            await uow.welfare.add_case(case)
            result = Opened(case, True)
            await uow.complete(key, encode(result))
            await _record(uow, case, method, key.request_id)
            await uow.commit()
            return result
        if driven_by_workflow and not existing.driven_by_workflow:
            # Opened by an officer first; the caller's workflow drives it from now on.
            existing = replace(existing, workflow_id=lifecycle.workflow_id(existing.case_id))
            await uow.welfare.save_case(existing)
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


def update_id(kind: str, agency: str, request_id: str) -> str:
    """The workflow Update that carries an officer's call: the same call retried (same agency
    and request id) is the same Update, which Temporal runs once. Hashed, so that the
    workflow's own request id for recording it (``<workflow id>:<update id>``) fits the
    request-id limit whatever the officer's."""
    digest = hashlib.sha256(f"{agency}\x1f{request_id}".encode()).hexdigest()[:32]
    return f"{kind}-{digest}"


async def _officer_act(
    svc: WelfareService,
    identity: Identity,
    method: str,
    case_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    step: Callable[[BenefitCase, dt.datetime], BenefitCase],
    act: OfficerAct,
    etag: str,
) -> BenefitCase | StoredResponse:
    """An officer's act: recorded here on a case no workflow drives (or without Temporal);
    else forwarded to the case's workflow, which records it through ``record_act``."""
    if svc.workflows is None:
        return await _change(svc, identity, method, case_id, key, encode, step, etag)
    _check_case_id(case_id)
    async with transaction(svc, identity, method, CASE, [case_id], key.request_id) as uow:
        replayed = await replay(uow, method, key, CASE, [case_id])
        if replayed is not None:
            return replayed
        case = await _case(uow, identity, case_id, for_update=True)
        lifecycle.check_etag(case, etag)
        if not case.driven_by_workflow:
            changed = step(case, svc.clock.now())
            await uow.welfare.save_case(changed)
            await uow.complete(key, encode(changed))
            await _record(uow, changed, method, key.request_id)
            await uow.commit()
            return changed
        # Left uncommitted: the claim is rolled back, and no connection is held while the
        # workflow decides; the act's record (or the answer below) completes the request.
    return await _forward(svc, identity, method, case, key, encode, act)


async def _forward(
    svc: WelfareService,
    identity: Identity,
    method: str,
    case: BenefitCase,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    act: OfficerAct,
) -> BenefitCase | StoredResponse:
    assert svc.workflows is not None
    try:
        await svc.workflows.forward(
            case.workflow_id, update_id(act.kind, identity.agency, key.request_id), act
        )
    except DomainError as refusal:
        await _audit_refusal(svc, identity, method, case, key.request_id, refusal)
        raise
    return await _answer(svc, identity, method, case.case_id, key, encode)


async def _answer(
    svc: WelfareService,
    identity: Identity,
    method: str,
    case_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
) -> BenefitCase | StoredResponse:
    """The answer to a forwarded call: the response the act's record stored for it (the case
    right after the act), else the case as it stands, stored for the call's retries."""
    async with transaction(svc, identity, method, CASE, [case_id], key.request_id) as uow:
        claim = await uow.claim(method, key)
        case = await _case(uow, identity, case_id)
        if claim.is_new:
            await uow.complete(key, encode(case))
        await uow.audit(AuditEvent(method, CASE, resource_ids(case), "forwarded", key.request_id))
        await uow.commit()
    if claim.stored_response is not None:
        return StoredResponse(claim.stored_response)
    return case


async def _audit_refusal(
    svc: WelfareService,
    identity: Identity,
    method: str,
    case: BenefitCase,
    request_id: str,
    refusal: DomainError,
) -> None:
    """The workflow refused the act: only the attempt is recorded (who tried what)."""
    async with svc.uow(identity) as uow:
        await uow.audit(
            AuditEvent(method, CASE, resource_ids(case), f"refused:{refusal.reason}", request_id)
        )
        await uow.commit()


async def assign_case(
    svc: WelfareService,
    identity: Identity,
    case_id: str,
    assignee: str,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    etag: str = "",
) -> BenefitCase | StoredResponse:
    who = lifecycle.check_assignee(assignee or identity.subject)
    return await _officer_act(
        svc,
        identity,
        "AssignBenefitCase",
        case_id,
        key,
        encode,
        lambda case, now: lifecycle.assign(case, who, actor(identity), now),
        OfficerAct(ASSIGN, actor(identity), key.request_id, key.fingerprint, assignee=who),
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
    reason = lifecycle.require_reason(reason)
    return await _officer_act(
        svc,
        identity,
        "DecideBenefitCase",
        case_id,
        key,
        encode,
        lambda case, now: lifecycle.decide(case, approve, reason, actor(identity), now),
        OfficerAct(
            DECIDE,
            actor(identity),
            key.request_id,
            key.fingerprint,
            approve=approve,
            reason=reason,
        ),
        etag,
    )


@dataclass(frozen=True)
class DocumentsRequested:
    case: BenefitCase
    # Every document requested on the case so far.
    documents: tuple[str, ...]


async def request_documents(
    svc: WelfareService,
    identity: Identity,
    case_id: str,
    documents: Sequence[str],
    reason: str,
    key: IdempotencyKey,
    encode: ResultEncoder[DocumentsRequested],
) -> DocumentsRequested | StoredResponse:
    """Asks for documents through the case's workflow, whose history is their only record."""
    named = lifecycle.require_documents(documents)
    reason = lifecycle.require_reason(reason)
    _check_case_id(case_id)
    method = "RequestBenefitCaseDocuments"
    async with transaction(svc, identity, method, CASE, [case_id], key.request_id) as uow:
        replayed = await replay(uow, method, key, CASE, [case_id])
        if replayed is not None:
            return replayed
        case = await _case(uow, identity, case_id)
        if svc.workflows is None or not case.driven_by_workflow:
            raise PreconditionFailed(
                "CASE_NOT_WORKFLOW_DRIVEN",
                "documents are requested through the case's workflow; this case has none",
            )
        # Left uncommitted, as for the other acts: the claim goes with the rollback.
    act = OfficerAct(
        REQUEST_DOCUMENTS,
        actor(identity),
        key.request_id,
        key.fingerprint,
        reason=reason,
        documents=named,
    )
    try:
        accepted: ActAccepted = await svc.workflows.forward(
            case.workflow_id, update_id(act.kind, identity.agency, key.request_id), act
        )
    except DomainError as refusal:
        await _audit_refusal(svc, identity, method, case, key.request_id, refusal)
        raise
    async with transaction(svc, identity, method, CASE, [case_id], key.request_id) as uow:
        replayed = await replay(uow, method, key, CASE, [case_id])
        if replayed is not None:
            # A concurrent retry of this call answered first.
            return replayed
        result = DocumentsRequested(
            await _case(uow, identity, case_id), accepted.documents_requested
        )
        await uow.complete(key, encode(result))
        await uow.audit(
            AuditEvent(method, CASE, resource_ids(result.case), "forwarded", key.request_id)
        )
        await uow.commit()
    return result


@dataclass(frozen=True)
class RecordedAct:
    """An officer's act a case's workflow accepted, as it asks welfare to record it."""

    officer: Actor
    assignee: str = ""
    # None: an assignment.
    approve: bool | None = None
    reason: str = ""
    # The officer's call to welfare, when the act came through it: answered from this record.
    officer_method: str = ""
    officer_key: IdempotencyKey | None = None


async def record_act(
    svc: WelfareService,
    identity: Identity,
    case_id: str,
    act: RecordedAct,
    key: IdempotencyKey,
    encode: ResultEncoder[BenefitCase],
    encode_for_officer: ResultEncoder[BenefitCase],
) -> BenefitCase | StoredResponse:
    """Records the act in the officer's name, never forwarding it: the workflow accepted it
    already. Only on a case a workflow drives; the rules of the case apply as to any act."""
    _check_case_id(case_id)
    if not act.officer.subject.strip():
        raise InvalidInput(
            [FieldViolation("officer_subject", "OFFICER_REQUIRED", "name who acted")]
        )
    method = "RecordBenefitCaseAct"
    async with transaction(svc, identity, method, CASE, [case_id], key.request_id) as uow:
        replayed = await replay(uow, method, key, CASE, [case_id])
        if replayed is not None:
            return replayed
        case = await _case(uow, identity, case_id)
        if not case.driven_by_workflow:
            raise PreconditionFailed(
                "CASE_NOT_WORKFLOW_DRIVEN", "no workflow drives this case; act through the API"
            )
        if _shows(case, act):
            # Recorded already, by a welfare process that had no Temporal to forward it to:
            # the record stands and the workflow catches up (nothing is locked or written
            # but the request's own rows).
            await uow.complete(key, encode(case))
            await _answer_officer(uow, act, case, encode_for_officer)
            await uow.audit(
                AuditEvent(method, CASE, resource_ids(case), "already_recorded", key.request_id)
            )
            await uow.commit()
            return case
        case = await _case(uow, identity, case_id, for_update=True)
        now = svc.clock.now()
        if act.approve is None:
            changed = lifecycle.assign(case, act.assignee, act.officer, now)
        else:
            reason = lifecycle.require_reason(act.reason)
            changed = lifecycle.decide(case, act.approve, reason, act.officer, now)
        await uow.welfare.save_case(changed)
        await uow.complete(key, encode(changed))
        await _answer_officer(uow, act, changed, encode_for_officer)
        await _record(uow, changed, method, key.request_id)
        await uow.commit()
        return changed


def _shows(case: BenefitCase, act: RecordedAct) -> bool:
    """The case shows this very act: the same assignee in review, or the same officer's same
    decision."""
    if act.approve is None:
        return case.state is CaseState.IN_REVIEW and case.assignee == act.assignee
    decided = CaseState.APPROVED if act.approve else CaseState.REJECTED
    return case.state is decided and case.decided_by == act.officer.subject


async def _answer_officer(
    uow: UnitOfWork, act: RecordedAct, case: BenefitCase, encode: ResultEncoder[BenefitCase]
) -> None:
    """The officer's retry of the call welfare forwarded is answered from the act's record,
    even if the welfare process that forwarded it is gone. Their request id used for another
    call (refused to them already) does not stop the record."""
    if act.officer_key is None:
        return
    with contextlib.suppress(AlreadyExists):
        claim = await uow.claim(act.officer_method, act.officer_key, act.officer.agency)
        if claim.is_new:
            await uow.complete(act.officer_key, encode(case), act.officer.agency)


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
