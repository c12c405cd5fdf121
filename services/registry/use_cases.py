"""The registry's use cases: one async function each, owning its transaction.

Each function checks the caller may touch the records (ward jurisdiction), applies the domain
rules, writes history, audit rows and outbox events in the same transaction, and commits once.
Mutations are idempotent by request id: a replay returns the stored first result.
GetResident, the hottest read, is the exception to "a unit of work each": its read, ward check
and audit row go to one port (``AuditedResidentReads``) that commits them together, in one
statement shared with the GetResident calls running at the same time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import Forbidden, NotFound, PreconditionFailed, Validator
from services.kit.pagination import PageRequest
from services.kit.request_ids import IdempotencyKey, StoredResponse
from services.kit.transactions import audited, replay
from services.registry.domain import matching, names, rules
from services.registry.domain.commands import (
    EndTemporaryResidence,
    IdentityClaim,
    PermanentMove,
    ProposeCorrection,
    RegisterDeath,
    RegisterResident,
    SearchQuery,
    TemporaryRegistration,
    UpdateResidence,
)
from services.registry.domain.model import (
    VIETNAM_TIME,
    Actor,
    CivilStatusCorrection,
    CivilStatusRecord,
    CorrectionState,
    Household,
    HouseholdMember,
    Relationship,
    ResidenceKind,
    ResidenceRecord,
    Resident,
    TemporaryResidence,
)
from services.registry.ports import (
    AuditedResidentReads,
    Clock,
    ResultEncoder,
    UnitOfWork,
    UnitOfWorkFactory,
    WardDirectory,
)

RESIDENT = "resident"
HOUSEHOLD = "household"
DEATH_REGISTERED = "registry.death_registered.v1"
DEATH_REVOKED = "registry.death_revoked.v1"
RESIDENCE_CHANGED = "registry.residence_changed.v1"


@dataclass(frozen=True)
class Registry:
    """What every use case needs; built once by the composition root."""

    uow: UnitOfWorkFactory
    # GetResident's reads, each committed with its audit row (batched with concurrent ones).
    reads: AuditedResidentReads
    wards: WardDirectory
    clock: Clock

    def today(self) -> dt.date:
        return self.clock.now().astimezone(VIETNAM_TIME).date()


def _actor(identity: Identity) -> Actor:
    return Actor(identity.subject, identity.agency)


def _visible(identity: Identity, resident: Resident, today: dt.date) -> bool:
    return identity.nationwide or bool(resident.residence_wards(today) & identity.wards)


async def _visible_resident(
    reg: Registry, uow: UnitOfWork, identity: Identity, citizen_id: str, *, for_update: bool = False
) -> Resident:
    """The resident, or NotFound when absent or outside the caller's wards (same answer, so
    a ward-scoped caller cannot probe who is registered elsewhere)."""
    resident = await uow.residents.get(citizen_id, for_update=for_update)
    if resident is None or not _visible(identity, resident, reg.today()):
        raise NotFound("RESIDENT_NOT_FOUND", "no such resident")
    return resident


def _transaction(
    reg: Registry,
    identity: Identity,
    action: str,
    resource_ids: Sequence[str],
    request_id: str | None = None,
    resource_type: str = RESIDENT,
) -> AbstractAsyncContextManager[UnitOfWork]:
    return audited(lambda: reg.uow(identity), action, resource_type, resource_ids, request_id)


async def _replay(
    uow: UnitOfWork, method: str, key: IdempotencyKey, ids: Sequence[str]
) -> StoredResponse | None:
    return await replay(uow, method, key, RESIDENT, ids)


async def register_resident(
    reg: Registry,
    identity: Identity,
    cmd: RegisterResident,
    key: IdempotencyKey,
    encode: ResultEncoder[Resident],
) -> Resident | StoredResponse:
    today = reg.today()
    rules.validate_registration(cmd, reg.wards.exists, today)
    assert cmd.birth_date is not None
    assert cmd.sex is not None
    assert cmd.relationship_to_head is not None
    if not identity.sees_ward(cmd.permanent_residence.ward_code):
        raise Forbidden("OUT_OF_JURISDICTION", "the permanent residence is outside your wards")
    method = "RegisterResident"
    async with _transaction(reg, identity, method, [cmd.citizen_id], key.request_id) as uow:
        replayed = await _replay(uow, method, key, [cmd.citizen_id])
        if replayed is not None:
            return replayed
        household_id = await _household_for(uow, cmd)
        added = await uow.residents.add(
            Resident(
                citizen_id=cmd.citizen_id,
                full_name=names.normalise(cmd.full_name),
                birth_date=cmd.birth_date,
                sex=cmd.sex,
                permanent_residence=cmd.permanent_residence,
                household_id=household_id,
                relationship_to_head=cmd.relationship_to_head,
                temporary_residence=cmd.temporary_residence,
            )
        )
        if added is None:
            raise PreconditionFailed(
                "CITIZEN_ID_TAKEN", "a resident with this citizen id is already registered"
            )
        resident = added
        actor = _actor(identity)
        await uow.residents.add_residence_record(
            resident.citizen_id,
            ResidenceRecord(
                ResidenceKind.PERMANENT,
                cmd.permanent_residence,
                today,
                None,
                actor,
                "registration",
                reg.clock.now(),
            ),
        )
        if cmd.temporary_residence is not None:
            await _record_temporary(uow, resident.citizen_id, cmd.temporary_residence, actor, reg)
        await uow.residents.add_civil_status_record(
            resident.citizen_id,
            CivilStatusRecord(resident.civil_status, None, actor, "registration", reg.clock.now()),
        )
        await uow.complete(key, encode(resident))
        await uow.audit(AuditEvent(method, RESIDENT, (resident.citizen_id,), "ok", key.request_id))
        await uow.commit()
        return resident


async def _household_for(uow: UnitOfWork, cmd: RegisterResident) -> str:
    if not cmd.household_id:
        household_id = str(uuid.uuid4())
        await uow.residents.add_household(household_id)
        return household_id
    if not await uow.residents.lock_household(cmd.household_id):
        raise NotFound("HOUSEHOLD_NOT_FOUND", "no such household")
    if cmd.relationship_to_head is Relationship.HEAD and await uow.residents.household_head(
        cmd.household_id
    ):
        raise PreconditionFailed("HOUSEHOLD_HAS_HEAD", "the household already has a head")
    return cmd.household_id


async def _record_temporary(
    uow: UnitOfWork, citizen_id: str, residence: TemporaryResidence, actor: Actor, reg: Registry
) -> None:
    await uow.residents.add_residence_record(
        citizen_id,
        ResidenceRecord(
            ResidenceKind.TEMPORARY,
            residence.address,
            residence.valid_from,
            residence.valid_to,
            actor,
            "temporary residence registration",
            reg.clock.now(),
        ),
    )


async def get_resident(reg: Registry, identity: Identity, citizen_id: str) -> Resident:
    v = Validator()
    rules.check_citizen_id(v, citizen_id)
    v.raise_if_any()
    # The hottest read: no unit of work. The read and its audit row ("ok" or "not_found")
    # commit together before we answer; ward visibility is the rule of ``_visible``.
    resident = await reg.reads.get(identity, citizen_id, reg.today())
    if resident is None:
        raise NotFound("RESIDENT_NOT_FOUND", "no such resident")
    return resident


MAX_BATCH_GET = 1000


def _check_batch_ids(citizen_ids: Sequence[str]) -> None:
    v = Validator()
    v.check(
        1 <= len(citizen_ids) <= MAX_BATCH_GET,
        "citizen_ids",
        "BATCH_SIZE",
        f"give 1 to {MAX_BATCH_GET} ids",
    )
    for i, citizen_id in enumerate(citizen_ids[:MAX_BATCH_GET]):
        rules.check_citizen_id(v, citizen_id, f"citizen_ids[{i}]")
    v.raise_if_any()


async def batch_get_residents(
    reg: Registry, identity: Identity, citizen_ids: Sequence[str]
) -> tuple[list[Resident], list[str]]:
    _check_batch_ids(citizen_ids)
    today = reg.today()
    async with reg.uow(identity) as uow:
        found = await uow.residents.get_many(citizen_ids)
        visible = {cid: res for cid, res in found.items() if _visible(identity, res, today)}
        await uow.audit(AuditEvent("BatchGetResidents", RESIDENT, tuple(sorted(visible)), "ok"))
        await uow.commit()
    residents = [visible[cid] for cid in dict.fromkeys(citizen_ids) if cid in visible]
    missing = [cid for cid in dict.fromkeys(citizen_ids) if cid not in visible]
    return residents, missing


async def search_residents(
    reg: Registry, identity: Identity, query: SearchQuery, page: PageRequest
) -> tuple[list[Resident], tuple[Any, ...] | None]:
    """A page of matches and the sort key to continue after (None on the last page)."""
    rules.validate_search(query)
    if query.ward_code and not identity.sees_ward(query.ward_code):
        raise Forbidden("OUT_OF_JURISDICTION", "the ward is outside your wards")
    async with reg.uow(identity) as uow:
        found = await uow.residents.search(
            query,
            None if identity.nationwide else identity.wards,
            reg.today(),
            page.after,
            page.size + 1,
        )
        results = list(found[: page.size])
        await uow.audit(
            AuditEvent("SearchResidents", RESIDENT, tuple(r.citizen_id for r in results), "ok")
        )
        await uow.commit()
    more = len(found) > page.size
    last = results[-1] if more else None
    return results, (names.fold(last.full_name), last.citizen_id) if last else None


MAX_VERIFY_BATCH = 5000


async def verify_identities(
    reg: Registry, identity: Identity, claims: Sequence[IdentityClaim]
) -> list[matching.Verification]:
    """Decides every claim with two set-based queries, whatever the batch size."""
    v = Validator()
    v.check(
        1 <= len(claims) <= MAX_VERIFY_BATCH,
        "claims",
        "BATCH_SIZE",
        f"give 1 to {MAX_VERIFY_BATCH} claims",
    )
    v.raise_if_any()
    problems = [matching.claim_problem(claim) for claim in claims]
    valid = [claim for claim, problem in zip(claims, problems, strict=True) if not problem]
    # A ward-scoped caller verifies against its own wards' residents only: anyone else is
    # NO_MATCH, as GetResident would answer NOT_FOUND.
    wards = None if identity.nationwide else identity.wards
    today = reg.today()
    async with reg.uow(identity) as uow:
        by_id = await uow.residents.candidates_by_id(
            [claim.citizen_id for claim in valid if claim.citizen_id], wards, today
        )
        name_keys = [
            (names.fold(c.full_name), c.birth_date)
            for c in valid
            if c.birth_date is not None and (not c.citizen_id or c.citizen_id not in by_id)
        ]
        by_name = await uow.residents.candidates_by_name_and_birth(name_keys, wards, today)
        results = []
        for index, (claim, problem) in enumerate(zip(claims, problems, strict=True)):
            if problem:
                results.append(
                    matching.Verification(
                        index, claim.client_ref, matching.Outcome.INVALID, problem=problem
                    )
                )
                continue
            key = (names.fold(claim.full_name), claim.birth_date)
            results.append(
                matching.classify(
                    index,
                    claim,
                    by_id.get(claim.citizen_id) if claim.citizen_id else None,
                    by_name.get(key, ()) if claim.birth_date is not None else (),  # type: ignore[arg-type]
                )
            )
        matched = sorted(
            {r.match.citizen_id for r in results if r.match is not None}
            | {c.citizen_id for r in results for c in r.candidates}
        )
        await uow.audit(AuditEvent("VerifyIdentities", RESIDENT, tuple(matched), "ok"))
        await uow.commit()
    return results


async def update_residence(
    reg: Registry,
    identity: Identity,
    cmd: UpdateResidence,
    key: IdempotencyKey,
    encode: ResultEncoder[Resident],
) -> Resident | StoredResponse:
    rules.validate_residence_update(cmd, reg.wards.exists)
    method = "UpdateResidence"
    today = reg.today()
    async with _transaction(reg, identity, method, [cmd.citizen_id], key.request_id) as uow:
        replayed = await _replay(uow, method, key, [cmd.citizen_id])
        if replayed is not None:
            return replayed
        resident = await uow.residents.get(cmd.citizen_id, for_update=True)
        target_ward = _target_ward(cmd)
        if resident is None or not (
            _visible(identity, resident, today) or identity.sees_ward(target_ward)
        ):
            raise NotFound("RESIDENT_NOT_FOUND", "no such resident")
        rules.check_etag(resident, cmd.etag)
        changed = rules.apply_residence_change(resident, cmd, today)
        await _record_residence_change(uow, resident, changed, cmd, _actor(identity), reg)
        saved = await uow.residents.update(changed)
        await uow.publish(
            RESIDENCE_CHANGED,
            saved.citizen_id,
            {"citizen_id": saved.citizen_id, "wards": sorted(saved.residence_wards(today))},
        )
        await uow.complete(key, encode(saved))
        await uow.audit(AuditEvent(method, RESIDENT, (saved.citizen_id,), "ok", key.request_id))
        await uow.commit()
        return saved


def _target_ward(cmd: UpdateResidence) -> str | None:
    change = cmd.change
    if isinstance(change, PermanentMove):
        return change.address.ward_code
    if isinstance(change, TemporaryRegistration):
        return change.residence.address.ward_code
    return None


async def _record_residence_change(
    uow: UnitOfWork,
    before: Resident,
    after: Resident,
    cmd: UpdateResidence,
    actor: Actor,
    reg: Registry,
) -> None:
    """Closes the records the change ends and opens the ones it starts."""
    change = cmd.change
    now = reg.clock.now()
    if isinstance(change, PermanentMove):
        assert change.effective_date is not None
        last_day = change.effective_date - dt.timedelta(days=1)
        await uow.residents.close_residence_record(
            before.citizen_id, int(ResidenceKind.PERMANENT), last_day
        )
        await uow.residents.add_residence_record(
            before.citizen_id,
            ResidenceRecord(
                ResidenceKind.PERMANENT,
                change.address,
                change.effective_date,
                None,
                actor,
                cmd.reason,
                now,
            ),
        )
        if before.temporary_residence is not None and after.temporary_residence is None:
            await uow.residents.close_residence_record(
                before.citizen_id, int(ResidenceKind.TEMPORARY), last_day
            )
    elif isinstance(change, TemporaryRegistration):
        if before.temporary_residence is not None:
            await uow.residents.close_residence_record(
                before.citizen_id,
                int(ResidenceKind.TEMPORARY),
                change.residence.valid_from - dt.timedelta(days=1),
            )
        await uow.residents.add_residence_record(
            before.citizen_id,
            ResidenceRecord(
                ResidenceKind.TEMPORARY,
                change.residence.address,
                change.residence.valid_from,
                change.residence.valid_to,
                actor,
                cmd.reason,
                now,
            ),
        )
    elif isinstance(change, EndTemporaryResidence):
        assert change.end_date is not None
        await uow.residents.close_residence_record(
            before.citizen_id, int(ResidenceKind.TEMPORARY), change.end_date
        )


async def list_residence_history(
    reg: Registry, identity: Identity, citizen_id: str, page: PageRequest
) -> tuple[list[ResidenceRecord], tuple[Any, ...] | None]:
    v = Validator()
    rules.check_citizen_id(v, citizen_id)
    v.raise_if_any()
    async with _transaction(reg, identity, "ListResidenceHistory", [citizen_id]) as uow:
        await _visible_resident(reg, uow, identity, citizen_id)
        rows = await uow.residents.residence_history(citizen_id, page.after, page.size + 1)
        await uow.audit(AuditEvent("ListResidenceHistory", RESIDENT, (citizen_id,), "ok"))
        await uow.commit()
    records = [record for _, record in rows[: page.size]]
    after = (rows[page.size - 1][0],) if len(rows) > page.size else None
    return records, after


async def get_household(
    reg: Registry, identity: Identity, household_id: str, citizen_id: str
) -> Household:
    v = Validator()
    if citizen_id:
        rules.check_citizen_id(v, citizen_id)
    else:
        v.check(
            rules.is_uuid(household_id), "household_id", "HOUSEHOLD_ID_MALFORMED", "is not an id"
        )
    v.raise_if_any()
    today = reg.today()
    async with _transaction(
        reg,
        identity,
        "GetHousehold",
        [citizen_id or household_id],
        resource_type=RESIDENT if citizen_id else HOUSEHOLD,
    ) as uow:
        if citizen_id:
            household_id = (await _visible_resident(reg, uow, identity, citizen_id)).household_id
        everyone = await uow.residents.household_members(household_id)
        residents = await uow.residents.get_many([m.citizen_id for m in everyone])
        # A ward-scoped caller sees the members living in its wards, not relatives elsewhere.
        members = [m for m in everyone if _visible(identity, residents[m.citizen_id], today)]
        if not members:
            raise NotFound("HOUSEHOLD_NOT_FOUND", "no such household")
        await uow.audit(
            AuditEvent("GetHousehold", HOUSEHOLD, tuple(m.citizen_id for m in members), "ok")
        )
        await uow.commit()
    return Household(household_id, tuple(members))


async def batch_get_households(
    reg: Registry, identity: Identity, citizen_ids: Sequence[str]
) -> tuple[list[Household], list[str]]:
    """The households of ``citizen_ids``, each once, in the order of its first requested
    member, and the requested ids not found. Three queries, whatever the batch size."""
    _check_batch_ids(citizen_ids)
    requested = list(dict.fromkeys(citizen_ids))
    today = reg.today()
    async with reg.uow(identity) as uow:
        household_of = await uow.residents.household_ids(requested)
        everyone = await uow.residents.members_of_households(sorted(set(household_of.values())))
        residents = await uow.residents.get_many(
            [m.citizen_id for members in everyone.values() for m in members]
        )
        # As in GetHousehold, a ward-scoped caller sees the members living in its wards; a
        # requested resident it cannot see is not found, like an unregistered one.
        seen: dict[str, tuple[HouseholdMember, ...]] = {
            household_id: tuple(
                m
                for m in members
                if m.citizen_id in residents and _visible(identity, residents[m.citizen_id], today)
            )
            for household_id, members in everyone.items()
        }
        found: dict[str, Household] = {}
        missing: list[str] = []
        for citizen_id in requested:
            household_id = household_of.get(citizen_id, "")
            members = seen.get(household_id, ())
            if any(m.citizen_id == citizen_id for m in members):
                found.setdefault(household_id, Household(household_id, members))
            else:
                missing.append(citizen_id)
        households = list(found.values())
        await uow.audit(
            AuditEvent(
                "BatchGetHouseholds",
                HOUSEHOLD,
                tuple(m.citizen_id for h in households for m in h.members),
                "ok",
            )
        )
        await uow.commit()
    return households, missing


async def register_death(
    reg: Registry,
    identity: Identity,
    cmd: RegisterDeath,
    key: IdempotencyKey,
    encode: ResultEncoder[Resident],
) -> Resident | StoredResponse:
    death = rules.validate_death(cmd, reg.today())
    method = "RegisterDeath"
    async with _transaction(reg, identity, method, [cmd.citizen_id], key.request_id) as uow:
        replayed = await _replay(uow, method, key, [cmd.citizen_id])
        if replayed is not None:
            return replayed
        resident = await _visible_resident(reg, uow, identity, cmd.citizen_id, for_update=True)
        deceased = rules.apply_death(resident, death)
        if deceased is None:
            # The same death again (a second report of it): nothing changes, nothing is sent.
            result = resident
        else:
            result = await uow.residents.update(deceased)
            await uow.residents.add_civil_status_record(
                result.citizen_id,
                CivilStatusRecord(
                    result.civil_status,
                    death,
                    _actor(identity),
                    "death registration",
                    reg.clock.now(),
                ),
            )
            await uow.publish(
                DEATH_REGISTERED,
                result.citizen_id,
                {
                    "citizen_id": result.citizen_id,
                    "death_date": death.death_date.isoformat(),
                    "cause": death.cause.name,
                    "registration_ref": death.registration_ref,
                },
            )
        await uow.complete(key, encode(result))
        await uow.audit(AuditEvent(method, RESIDENT, (result.citizen_id,), "ok", key.request_id))
        await uow.commit()
        return result


async def propose_correction(
    reg: Registry,
    identity: Identity,
    cmd: ProposeCorrection,
    key: IdempotencyKey,
    encode: ResultEncoder[CivilStatusCorrection],
) -> CivilStatusCorrection | StoredResponse:
    rules.validate_correction(cmd)
    assert cmd.corrected_status is not None
    method = "ProposeCivilStatusCorrection"
    async with _transaction(reg, identity, method, [cmd.citizen_id], key.request_id) as uow:
        replayed = await _replay(uow, method, key, [cmd.citizen_id])
        if replayed is not None:
            return replayed
        resident = await _visible_resident(reg, uow, identity, cmd.citizen_id, for_update=True)
        rules.ensure_correctable(resident, cmd)
        correction = CivilStatusCorrection(
            correction_id=str(uuid.uuid4()),
            citizen_id=resident.citizen_id,
            corrected_status=cmd.corrected_status,
            reason=cmd.reason.strip(),
            state=CorrectionState.PROPOSED,
            proposed_by=_actor(identity),
            proposed_at=reg.clock.now(),
            resident_version=resident.version,
        )
        await uow.residents.add_correction(correction)
        await uow.complete(key, encode(correction))
        await uow.audit(AuditEvent(method, RESIDENT, (resident.citizen_id,), "ok", key.request_id))
        await uow.commit()
        return correction


async def correct_civil_status(
    reg: Registry,
    identity: Identity,
    correction_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[tuple[Resident, CivilStatusCorrection]],
) -> tuple[Resident, CivilStatusCorrection] | StoredResponse:
    v = Validator()
    v.check(
        rules.is_uuid(correction_id), "correction_id", "CORRECTION_ID_MALFORMED", "is not an id"
    )
    v.raise_if_any()
    method = "CorrectCivilStatus"
    concerned: list[str] = []
    async with _transaction(reg, identity, method, concerned, key.request_id) as uow:
        proposal = await uow.residents.get_correction(correction_id)
        if proposal is not None:
            concerned.append(proposal.citizen_id)
        replayed = await _replay(uow, method, key, concerned)
        if replayed is not None:
            return replayed
        correction = await uow.residents.get_correction(correction_id, for_update=True)
        if correction is None:
            raise NotFound("CORRECTION_NOT_FOUND", "no such correction")
        resident = await _visible_resident(
            reg, uow, identity, correction.citizen_id, for_update=True
        )
        approver = _actor(identity)
        corrected = rules.approve_correction(correction, resident, approver)
        saved = await uow.residents.update(corrected)
        now = reg.clock.now()
        applied = await uow.residents.mark_correction_applied(correction_id, approver, now)
        await uow.residents.add_civil_status_record(
            saved.citizen_id,
            CivilStatusRecord(
                saved.civil_status,
                None,
                correction.proposed_by,
                correction.reason,
                now,
                correction_id=correction_id,
                approved_by=approver,
            ),
        )
        await uow.publish(
            DEATH_REVOKED,
            saved.citizen_id,
            {"citizen_id": saved.citizen_id, "correction_id": correction_id},
        )
        await uow.complete(key, encode((saved, applied)))
        await uow.audit(AuditEvent(method, RESIDENT, (saved.citizen_id,), "ok", key.request_id))
        await uow.commit()
        return saved, applied


async def list_civil_status_history(
    reg: Registry, identity: Identity, citizen_id: str
) -> list[CivilStatusRecord]:
    v = Validator()
    rules.check_citizen_id(v, citizen_id)
    v.raise_if_any()
    async with _transaction(reg, identity, "ListCivilStatusHistory", [citizen_id]) as uow:
        await _visible_resident(reg, uow, identity, citizen_id)
        records = list(await uow.residents.civil_status_history(citizen_id))
        await uow.audit(AuditEvent("ListCivilStatusHistory", RESIDENT, (citizen_id,), "ok"))
        await uow.commit()
    return records
