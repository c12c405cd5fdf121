"""The welfare use cases: one async function each, owning its transaction.

Facts come from the registry and case status over gRPC at the time of the call, after the
request-id claim (a replay never asks again) and before any case row is locked; the
programs, cases, audit rows, request log and outbox rows of one call commit together.

Ward scoping: nationwide callers see every resident and case. A ward-scoped officer sees
residents whose permanent or temporary residence is in one of their wards, and the cases
whose beneficiary lived there when the case was opened; anything else answers as if it did
not exist (NOT_FOUND), so scoped officers cannot probe other wards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.citizen_ids import is_well_formed
from services.kit.errors import (
    FieldViolation,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Validator,
)
from services.kit.transactions import audited
from services.welfare.domain.eligibility import assess
from services.welfare.domain.facts import (
    CaseHistory,
    Member,
    Person,
    Standing,
    build_facts,
    relationship_name,
)
from services.welfare.domain.model import (
    Actor,
    Assessment,
    BeneficiaryKind,
    Program,
    Survivor,
    SurvivorRelationship,
    vietnam_date,
)
from services.welfare.domain.survivors import find_survivors as survivors_in
from services.welfare.domain.survivors import is_orphan, relationship
from services.welfare.ports import (
    CaseStatus,
    CaseWorkflows,
    Clock,
    Registry,
    UnitOfWork,
    UnitOfWorkFactory,
)

CASE = "benefit_case"
RESIDENT = "resident"
PROGRAM = "program"


@dataclass(frozen=True)
class WelfareService:
    """What every use case needs; built once by the composition root."""

    uow: UnitOfWorkFactory
    registry: Registry
    case_status: CaseStatus
    clock: Clock
    # Where officers' acts on workflow-driven cases go; None (Temporal not configured):
    # welfare records every act directly.
    workflows: CaseWorkflows | None = None

    def today(self) -> dt.date:
        return vietnam_date(self.clock.now())


def actor(identity: Identity) -> Actor:
    return Actor(identity.subject, identity.agency)


def transaction(
    svc: WelfareService,
    identity: Identity,
    action: str,
    resource_type: str,
    resource_ids: Sequence[str],
    request_id: str | None = None,
) -> AbstractAsyncContextManager[UnitOfWork]:
    return audited(lambda: svc.uow(identity), action, resource_type, resource_ids, request_id)


def check_citizen_ids(v: Validator, *pairs: tuple[str, str]) -> None:
    for value, field in pairs:
        if value:
            v.check(is_well_formed(value), field, "CITIZEN_ID_INVALID", "is 12 digits")


def _not_found() -> NotFound:
    return NotFound("RESIDENT_NOT_FOUND", "no such resident")


def visible(identity: Identity | None, person: Person | None) -> Person:
    """The person, when the caller may see them (None: anyone may); else as if unknown."""
    if person is None:
        raise _not_found()
    if identity is not None and not (identity.nationwide or person.wards & identity.wards):
        raise _not_found()
    return person


@dataclass(frozen=True)
class Claim:
    """Whose benefit, about whom: the facts for one program's rule."""

    beneficiary: Person
    subject: Person
    # The subject's household, for survivor programs (empty for self programs).
    household: Sequence[Member]
    history: CaseHistory


async def gather(
    svc: WelfareService, identity: Identity | None, beneficiary_id: str, subject_id: str
) -> Claim:
    """The people of a claim from the registry, then (once the caller may see the
    beneficiary) the subject's case history and, for a survivor's claim, the subject's
    household; calls that do not depend on each other are made concurrently. ``subject_id``
    equals ``beneficiary_id`` for self programs. ``identity`` None: no ward scope."""
    if subject_id == beneficiary_id:
        beneficiary = visible(identity, await svc.registry.person(beneficiary_id))
        return Claim(beneficiary, beneficiary, (), await svc.case_status.history(subject_id))
    found, subject = await asyncio.gather(
        svc.registry.person(beneficiary_id), svc.registry.person(subject_id)
    )
    beneficiary = visible(identity, found)
    if subject is None:
        raise _not_found()
    history, household = await asyncio.gather(
        svc.case_status.history(subject_id), svc.registry.household(subject_id)
    )
    return Claim(beneficiary, subject, household, history)


def _member(person: Person, household: Sequence[Member]) -> Member | None:
    return next((m for m in household if m.citizen_id == person.citizen_id), None)


def standing(claim: Claim, other_beneficiaries: int) -> Standing:
    """The beneficiary's relationship to the subject (SELF when they are the same person)."""
    if claim.beneficiary is claim.subject:
        return Standing("SELF", False, other_beneficiaries)
    deceased = _member(claim.subject, claim.household)
    survivor = _member(claim.beneficiary, claim.household)
    if deceased is None or survivor is None:
        return Standing("NONE", False, other_beneficiaries)
    relation = relationship(deceased, survivor)
    orphan = relation is SurvivorRelationship.CHILD and is_orphan(survivor, claim.household)
    return Standing(relationship_name(relation), orphan, other_beneficiaries)


def assess_claim(
    program: Program,
    claim: Claim,
    other_beneficiaries: int,
    on: dt.date,
    *,
    in_force_on: dt.date | None = None,
) -> Assessment:
    facts = build_facts(
        claim.beneficiary, claim.subject, claim.history, standing(claim, other_beneficiaries), on
    )
    return assess(
        program,
        facts,
        claim.beneficiary.citizen_id,
        claim.subject.citizen_id,
        claim.beneficiary.birth_date,
        on,
        in_force_on=in_force_on,
    )


def subject_for(program: Program, beneficiary_id: str, subject_id: str, field: str) -> str:
    """The subject of a claim: the beneficiary for self programs, the named deceased for
    survivor programs."""
    if program.beneficiary is BeneficiaryKind.SELF:
        if subject_id and subject_id != beneficiary_id:
            raise InvalidInput(
                [FieldViolation(field, "SUBJECT_NOT_ALLOWED", "self programs have no subject")]
            )
        return beneficiary_id
    if not subject_id:
        raise InvalidInput(
            [FieldViolation(field, "SUBJECT_REQUIRED", "survivor programs name the deceased")]
        )
    return subject_id


async def check_eligibility(
    svc: WelfareService,
    identity: Identity,
    beneficiary_id: str,
    subject_id: str,
    program_code: str,
    on: dt.date | None,
) -> list[Assessment]:
    """One program, or every program in force of the fitting kind (survivor programs when a
    subject is named, self programs otherwise)."""
    v = Validator()
    v.check(bool(beneficiary_id), "beneficiary_citizen_id", "CITIZEN_ID_REQUIRED", "is required")
    check_citizen_ids(
        v,
        (beneficiary_id, "beneficiary_citizen_id"),
        (subject_id, "subject_citizen_id"),
    )
    v.raise_if_any()
    day = on or svc.today()
    ids = [beneficiary_id, *([subject_id] if subject_id else [])]
    async with transaction(svc, identity, "CheckEligibility", RESIDENT, ids) as uow:
        if program_code:
            program = await uow.welfare.latest_program(program_code)
            if program is None:
                raise NotFound("PROGRAM_NOT_FOUND", "no such program")
            programs = [program]
        else:
            kind = BeneficiaryKind.SURVIVOR if subject_id else BeneficiaryKind.SELF
            programs = [
                p
                for p in await uow.welfare.latest_programs()
                if p.beneficiary is kind and p.in_force_on(day)
            ]
        subjects = {
            subject_for(p, beneficiary_id, subject_id, "subject_citizen_id") for p in programs
        }
        subject = subjects.pop() if subjects else beneficiary_id
        claim = await gather(svc, identity, beneficiary_id, subject)
        results = []
        for program in programs:
            others = await uow.welfare.other_claims(program.code, subject, beneficiary_id)
            results.append(assess_claim(program, claim, others, day))
        await uow.audit(AuditEvent("CheckEligibility", RESIDENT, tuple(dict.fromkeys(ids)), "ok"))
        await uow.commit()
    return results


async def find_survivors(
    svc: WelfareService, identity: Identity, deceased_id: str
) -> list[Survivor]:
    v = Validator()
    v.check(bool(deceased_id), "deceased_citizen_id", "CITIZEN_ID_REQUIRED", "is required")
    check_citizen_ids(v, (deceased_id, "deceased_citizen_id"))
    v.raise_if_any()
    async with transaction(svc, identity, "FindSurvivors", RESIDENT, [deceased_id]) as uow:
        person = visible(identity, await svc.registry.person(deceased_id))
        if not person.deceased:
            raise PreconditionFailed("RESIDENT_NOT_DECEASED", "the resident is not deceased")
        household = await svc.registry.household(deceased_id)
        deceased = _member(person, household)
        survivors = survivors_in(deceased, household) if deceased is not None else []
        ids = (deceased_id, *(s.citizen_id for s in survivors))
        await uow.audit(AuditEvent("FindSurvivors", RESIDENT, ids, "ok"))
        await uow.commit()
    return survivors
