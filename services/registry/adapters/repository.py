"""Every query of the registry database lives here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    Text,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import array_parameter
from services.registry.adapters.tables import (
    civil_status_corrections,
    civil_status_history,
    households,
    residence_history,
    residents,
)
from services.registry.domain import names
from services.registry.domain.commands import SearchQuery
from services.registry.domain.matching import Candidate
from services.registry.domain.model import (
    Actor,
    Address,
    CivilStatus,
    CivilStatusCorrection,
    CivilStatusRecord,
    CorrectionState,
    DeathCause,
    DeathRecord,
    HouseholdMember,
    Relationship,
    ResidenceKind,
    ResidenceRecord,
    Resident,
    Sex,
    TemporaryResidence,
)

r = residents.c


def resident_from_row(row: Any) -> Resident:
    """The resident a ``residents`` row (any row with its columns by name) holds."""
    temporary = None
    if row.temp_ward_code is not None:
        temporary = TemporaryResidence(
            Address(row.temp_ward_code, row.temp_street or ""),
            row.temp_valid_from,
            row.temp_valid_to,
        )
    return Resident(
        citizen_id=row.citizen_id,
        full_name=row.full_name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        permanent_residence=Address(row.perm_ward_code, row.perm_street),
        household_id=str(row.household_id),
        relationship_to_head=Relationship(row.relationship_to_head),
        civil_status=CivilStatus(row.civil_status),
        temporary_residence=temporary,
        death=_death(row),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _death(row: Any) -> DeathRecord | None:
    if row.death_date is None:
        return None
    return DeathRecord(
        death_date=row.death_date,
        cause=DeathCause(row.death_cause),
        place=row.death_place or "",
        cause_detail=row.death_cause_detail or "",
        registration_ref=row.death_registration_ref or "",
        death_time=row.death_time,
    )


def _death_columns(death: DeathRecord | None) -> dict[str, Any]:
    return {
        "death_date": death.death_date if death else None,
        "death_time": death.death_time if death else None,
        "death_place": death.place if death else None,
        "death_cause": int(death.cause) if death else None,
        "death_cause_detail": death.cause_detail if death else None,
        "death_registration_ref": death.registration_ref if death else None,
    }


def _resident_columns(resident: Resident) -> dict[str, Any]:
    temporary = resident.temporary_residence
    return {
        "citizen_id": resident.citizen_id,
        "full_name": resident.full_name,
        "name_key": names.fold(resident.full_name),
        "birth_date": resident.birth_date,
        "sex": int(resident.sex),
        "household_id": resident.household_id,
        "relationship_to_head": int(resident.relationship_to_head),
        "perm_ward_code": resident.permanent_residence.ward_code,
        "perm_street": resident.permanent_residence.street,
        "temp_ward_code": temporary.address.ward_code if temporary else None,
        "temp_street": temporary.address.street if temporary else None,
        "temp_valid_from": temporary.valid_from if temporary else None,
        "temp_valid_to": temporary.valid_to if temporary else None,
        "civil_status": int(resident.civil_status),
        "version": resident.version,
        **_death_columns(resident.death),
    }


def _candidate(row: Any) -> Candidate:
    return Candidate(
        citizen_id=row.citizen_id,
        full_name=row.full_name,
        birth_date=row.birth_date,
        permanent_ward_code=row.perm_ward_code,
        temporary_ward_code=row.temp_ward_code,
        civil_status=CivilStatus(row.civil_status),
    )


def _candidate_columns(today: dt.date) -> tuple[ColumnElement[Any], ...]:
    """A candidate's columns; the temporary ward only while that residence is active."""
    active_temp_ward = case((_temporary_active(today), r.temp_ward_code), else_=None)
    return (
        r.citizen_id,
        r.full_name,
        r.birth_date,
        r.perm_ward_code,
        active_temp_ward.label("temp_ward_code"),
        r.civil_status,
    )


_MEMBER_COLUMNS = (
    r.citizen_id,
    r.full_name,
    r.birth_date,
    r.sex,
    r.relationship_to_head,
    r.civil_status,
)
# Head first, then by age: the order every household view shows its members in.
_MEMBER_ORDER = (r.relationship_to_head, r.birth_date, r.citizen_id)


def _member(row: Any) -> HouseholdMember:
    return HouseholdMember(
        citizen_id=row.citizen_id,
        full_name=row.full_name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        relationship_to_head=Relationship(row.relationship_to_head),
        civil_status=CivilStatus(row.civil_status),
    )


def _actor(subject: str | None, agency: str | None) -> Actor | None:
    return Actor(subject, agency or "") if subject is not None else None


class SqlResidentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, citizen_id: str, *, for_update: bool = False) -> Resident | None:
        query = select(residents).where(r.citizen_id == citizen_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return resident_from_row(row) if row is not None else None

    async def get_many(self, citizen_ids: Sequence[str]) -> Mapping[str, Resident]:
        if not citizen_ids:
            return {}
        # One array parameter: the members of a batch of households have no fixed bound.
        wanted = array_parameter(sorted(set(citizen_ids)), String())
        rows = await self._conn.execute(select(residents).where(r.citizen_id == func.any(wanted)))
        return {row.citizen_id: resident_from_row(row) for row in rows}

    async def add(self, resident: Resident) -> Resident | None:
        # ON CONFLICT waits for a concurrent insert of the same id to commit or roll back, so
        # of two racing registrations exactly one gets the row and the other None.
        row = (
            await self._conn.execute(
                insert(residents)
                .values(**_resident_columns(resident))
                .on_conflict_do_nothing(index_elements=[r.citizen_id])
                .returning(residents)
            )
        ).first()
        return resident_from_row(row) if row is not None else None

    async def update(self, resident: Resident) -> Resident:
        columns = _resident_columns(resident)
        del columns["citizen_id"]
        row = (
            await self._conn.execute(
                residents.update()
                .where(r.citizen_id == resident.citizen_id, r.version == resident.version - 1)
                .values(**columns, updated_at=func.now())
                .returning(residents)
            )
        ).first()
        if row is None:
            raise LookupError("resident changed concurrently despite the row lock")
        return resident_from_row(row)

    async def lock_household(self, household_id: str) -> bool:
        # The row lock serialises changes to one household's membership (a new head), so two
        # concurrent registrations cannot both see "no living head".
        found = await self._conn.scalar(
            select(literal(True)).where(households.c.household_id == household_id).with_for_update()
        )
        return bool(found)

    async def household_head(self, household_id: str) -> str | None:
        head: str | None = await self._conn.scalar(
            select(r.citizen_id).where(
                r.household_id == household_id,
                r.relationship_to_head == int(Relationship.HEAD),
                r.civil_status == int(CivilStatus.ALIVE),
            )
        )
        return head

    async def add_household(self, household_id: str) -> None:
        await self._conn.execute(
            insert(households).values(household_id=household_id).on_conflict_do_nothing()
        )

    async def household_members(self, household_id: str) -> Sequence[HouseholdMember]:
        rows = await self._conn.execute(
            select(*_MEMBER_COLUMNS).where(r.household_id == household_id).order_by(*_MEMBER_ORDER)
        )
        return [_member(row) for row in rows]

    async def household_ids(self, citizen_ids: Sequence[str]) -> Mapping[str, str]:
        if not citizen_ids:
            return {}
        wanted = array_parameter(sorted(set(citizen_ids)), String())
        rows = await self._conn.execute(
            select(r.citizen_id, r.household_id).where(r.citizen_id == func.any(wanted))
        )
        return {row.citizen_id: str(row.household_id) for row in rows}

    async def members_of_households(
        self, household_ids: Sequence[str]
    ) -> Mapping[str, Sequence[HouseholdMember]]:
        if not household_ids:
            return {}
        wanted = array_parameter(sorted(set(household_ids)), UUID(as_uuid=False))
        rows = await self._conn.execute(
            select(r.household_id, *_MEMBER_COLUMNS)
            .where(r.household_id == func.any(wanted))
            .order_by(r.household_id, *_MEMBER_ORDER)
        )
        found: dict[str, list[HouseholdMember]] = {}
        for row in rows:
            found.setdefault(str(row.household_id), []).append(_member(row))
        return found

    async def search(
        self,
        query: SearchQuery,
        wards: frozenset[str] | None,
        today: dt.date,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> Sequence[Resident]:
        conditions: list[ColumnElement[bool]] = []
        if query.name.strip():
            key = names.fold(query.name)
            # LIKE with the prefix index; escape the pattern characters a name cannot contain
            # anyway, so a stray "%" never turns into a table scan.
            escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(r.name_key.like(f"{escaped}%"))
        if query.birth_date is not None:
            conditions.append(r.birth_date == query.birth_date)
        if query.birth_year is not None:
            conditions.append(
                r.birth_date.between(
                    dt.date(query.birth_year, 1, 1), dt.date(query.birth_year, 12, 31)
                )
            )
        if query.ward_code:
            conditions.append(_lives_in({query.ward_code}, today))
        if wards is not None:
            conditions.append(_lives_in(wards, today))
        if after is not None:
            conditions.append(tuple_(r.name_key, r.citizen_id) > tuple_(*after))
        rows = await self._conn.execute(
            select(residents)
            .where(and_(*conditions))
            .order_by(r.name_key, r.citizen_id)
            .limit(limit)
        )
        return [resident_from_row(row) for row in rows]

    async def candidates_by_id(
        self, citizen_ids: Sequence[str], wards: frozenset[str] | None, today: dt.date
    ) -> Mapping[str, Candidate]:
        if not citizen_ids:
            return {}
        # One array parameter, whatever the batch size: citizen_id = ANY($1) uses the key.
        wanted = array_parameter(sorted(set(citizen_ids)), String())
        query = select(*_candidate_columns(today)).where(r.citizen_id == func.any(wanted))
        if wards is not None:
            query = query.where(_lives_in(wards, today))
        rows = await self._conn.execute(query)
        return {row.citizen_id: _candidate(row) for row in rows}

    async def candidates_by_name_and_birth(
        self, keys: Sequence[tuple[str, dt.date]], wards: frozenset[str] | None, today: dt.date
    ) -> Mapping[tuple[str, dt.date], Sequence[Candidate]]:
        if not keys:
            return {}
        unique = sorted(set(keys))
        wanted = (
            func.unnest(
                array_parameter([k for k, _ in unique], Text()),
                array_parameter([d for _, d in unique], Date()),
            )
            .table_valued("name_key", "birth_date")
            .render_derived(name="wanted")
        )
        query = select(*_candidate_columns(today), r.name_key).join(
            wanted,
            and_(r.name_key == wanted.c.name_key, r.birth_date == wanted.c.birth_date),
        )
        if wards is not None:
            query = query.where(_lives_in(wards, today))
        rows = await self._conn.execute(query.order_by(r.citizen_id))
        found: dict[tuple[str, dt.date], list[Candidate]] = {}
        for row in rows:
            found.setdefault((row.name_key, row.birth_date), []).append(_candidate(row))
        return found

    async def add_residence_record(self, citizen_id: str, record: ResidenceRecord) -> None:
        await self._conn.execute(
            residence_history.insert().values(
                citizen_id=citizen_id,
                kind=int(record.kind),
                ward_code=record.address.ward_code,
                street=record.address.street,
                valid_from=record.valid_from,
                valid_to=record.valid_to,
                recorded_by=record.recorded_by.subject,
                recorded_agency=record.recorded_by.agency,
                reason=record.reason,
            )
        )

    async def close_residence_record(self, citizen_id: str, kind: int, valid_to: dt.date) -> None:
        # Every record of the kind still running past ``valid_to`` ends then. One that began
        # after it (registered and moved on the same day, or a backdated move) is left with an
        # empty period: superseded before it took effect, yet kept as history.
        h = residence_history.c
        await self._conn.execute(
            residence_history.update()
            .where(
                h.citizen_id == citizen_id,
                h.kind == kind,
                or_(h.valid_to.is_(None), h.valid_to > valid_to),
            )
            .values(valid_to=valid_to)
        )

    async def residence_history(
        self, citizen_id: str, after: tuple[Any, ...] | None, limit: int
    ) -> Sequence[tuple[int, ResidenceRecord]]:
        h = residence_history.c
        query = select(residence_history).where(h.citizen_id == citizen_id)
        if after is not None:
            query = query.where(h.id < after[0])
        rows = await self._conn.execute(query.order_by(h.id.desc()).limit(limit))
        return [
            (
                row.id,
                ResidenceRecord(
                    kind=ResidenceKind(row.kind),
                    address=Address(row.ward_code, row.street),
                    valid_from=row.valid_from,
                    valid_to=row.valid_to,
                    recorded_by=Actor(row.recorded_by, row.recorded_agency),
                    reason=row.reason,
                    recorded_at=row.recorded_at,
                ),
            )
            for row in rows
        ]

    async def add_civil_status_record(self, citizen_id: str, record: CivilStatusRecord) -> None:
        await self._conn.execute(
            civil_status_history.insert().values(
                citizen_id=citizen_id,
                civil_status=int(record.civil_status),
                recorded_by=record.recorded_by.subject,
                recorded_agency=record.recorded_by.agency,
                reason=record.reason,
                correction_id=record.correction_id,
                approved_by=record.approved_by.subject if record.approved_by else None,
                approved_agency=record.approved_by.agency if record.approved_by else None,
                **_death_columns(record.death),
            )
        )

    async def civil_status_history(self, citizen_id: str) -> Sequence[CivilStatusRecord]:
        h = civil_status_history.c
        rows = await self._conn.execute(
            select(civil_status_history).where(h.citizen_id == citizen_id).order_by(h.id.desc())
        )
        return [
            CivilStatusRecord(
                civil_status=CivilStatus(row.civil_status),
                death=_death(row),
                recorded_by=Actor(row.recorded_by, row.recorded_agency),
                reason=row.reason,
                recorded_at=row.recorded_at,
                correction_id=str(row.correction_id) if row.correction_id else None,
                approved_by=_actor(row.approved_by, row.approved_agency),
            )
            for row in rows
        ]

    async def add_correction(self, correction: CivilStatusCorrection) -> None:
        await self._conn.execute(
            civil_status_corrections.insert().values(
                correction_id=correction.correction_id,
                citizen_id=correction.citizen_id,
                corrected_status=int(correction.corrected_status),
                reason=correction.reason,
                state=int(correction.state),
                resident_version=correction.resident_version,
                proposed_by=correction.proposed_by.subject,
                proposed_agency=correction.proposed_by.agency,
                proposed_at=correction.proposed_at,
            )
        )

    async def get_correction(
        self, correction_id: str, *, for_update: bool = False
    ) -> CivilStatusCorrection | None:
        c = civil_status_corrections.c
        query = select(civil_status_corrections).where(c.correction_id == correction_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _correction(row) if row is not None else None

    async def mark_correction_applied(
        self, correction_id: str, approved_by: Actor, applied_at: dt.datetime
    ) -> CivilStatusCorrection:
        c = civil_status_corrections.c
        row = (
            await self._conn.execute(
                civil_status_corrections.update()
                .where(c.correction_id == correction_id)
                .values(
                    state=int(CorrectionState.APPLIED),
                    approved_by=approved_by.subject,
                    approved_agency=approved_by.agency,
                    applied_at=applied_at,
                )
                .returning(civil_status_corrections)
            )
        ).one()
        return _correction(row)


def _temporary_active(today: dt.date) -> ColumnElement[bool]:
    return and_(
        r.temp_valid_from <= today,
        or_(r.temp_valid_to.is_(None), r.temp_valid_to >= today),
    )


def _lives_in(wards: set[str] | frozenset[str], today: dt.date) -> ColumnElement[bool]:
    ward_list = sorted(wards)
    return or_(
        r.perm_ward_code.in_(ward_list),
        and_(r.temp_ward_code.in_(ward_list), _temporary_active(today)),
    )


def _correction(row: Any) -> CivilStatusCorrection:
    return CivilStatusCorrection(
        correction_id=str(row.correction_id),
        citizen_id=row.citizen_id,
        corrected_status=CivilStatus(row.corrected_status),
        reason=row.reason,
        state=CorrectionState(row.state),
        proposed_by=Actor(row.proposed_by, row.proposed_agency),
        proposed_at=row.proposed_at,
        resident_version=row.resident_version,
        approved_by=_actor(row.approved_by, row.approved_agency),
        applied_at=row.applied_at,
    )
