"""The registry's rules: what a valid registration, move, death or correction is."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import replace

from services.kit.errors import (
    ConcurrentChange,
    Forbidden,
    PreconditionFailed,
    Validator,
)
from services.registry.domain import citizen_id as ids
from services.registry.domain import names
from services.registry.domain.commands import (
    EndTemporaryResidence,
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
    Address,
    CivilStatus,
    CivilStatusCorrection,
    CorrectionState,
    DeathRecord,
    Relationship,
    Resident,
    TemporaryResidence,
)

WardExists = Callable[[str], bool]

MAX_STREET_LENGTH = 300
MAX_REASON_LENGTH = 1000
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)


def check_citizen_id(v: Validator, citizen_id: str, field: str = "citizen_id") -> bool:
    return v.check(
        ids.is_well_formed(citizen_id),
        field,
        "CITIZEN_ID_MALFORMED",
        "must be 12 digits starting with a province code 001-096",
    )


def check_address(v: Validator, address: Address, field: str, ward_exists: WardExists) -> None:
    if v.check(bool(address.ward_code), f"{field}.ward_code", "WARD_REQUIRED", "is required"):
        v.check(
            ward_exists(address.ward_code),
            f"{field}.ward_code",
            "WARD_UNKNOWN",
            "is not a ward code of the official list",
        )
    v.check(
        len(address.street) <= MAX_STREET_LENGTH,
        f"{field}.street",
        "STREET_TOO_LONG",
        f"must be at most {MAX_STREET_LENGTH} characters",
    )


def check_temporary(
    v: Validator, residence: TemporaryResidence, field: str, ward_exists: WardExists
) -> None:
    check_address(v, residence.address, f"{field}.address", ward_exists)
    if residence.valid_to is not None:
        v.check(
            residence.valid_to >= residence.valid_from,
            f"{field}.valid_to",
            "PERIOD_REVERSED",
            "must not be before valid_from",
        )


def check_reason(v: Validator, reason: str, *, required: bool) -> None:
    if required:
        v.check(bool(reason.strip()), "reason", "REASON_REQUIRED", "is required")
    v.check(
        len(reason) <= MAX_REASON_LENGTH,
        "reason",
        "REASON_TOO_LONG",
        f"must be at most {MAX_REASON_LENGTH} characters",
    )


def validate_registration(cmd: RegisterResident, ward_exists: WardExists, today: dt.date) -> None:
    v = Validator()
    id_ok = check_citizen_id(v, cmd.citizen_id)
    v.check(
        names.is_acceptable(names.normalise(cmd.full_name)),
        "full_name",
        "FULL_NAME_INVALID",
        f"must be 1 to {names.MAX_NAME_LENGTH} letters and spaces",
    )
    birth_ok = v.check(
        cmd.birth_date is not None, "birth_date", "BIRTH_DATE_REQUIRED", "is required"
    )
    if cmd.birth_date is not None:
        birth_ok = v.check(
            EARLIEST_BIRTH_DATE <= cmd.birth_date <= today,
            "birth_date",
            "BIRTH_DATE_OUT_OF_RANGE",
            "must be between 1900-01-01 and today",
        )
    sex_ok = v.check(cmd.sex is not None, "sex", "SEX_REQUIRED", "is required")
    if id_ok and birth_ok and sex_ok and cmd.birth_date is not None and cmd.sex is not None:
        for problem in ids.consistency_problems(cmd.citizen_id, cmd.sex, cmd.birth_date):
            v.add(
                "citizen_id",
                "CITIZEN_ID_INCONSISTENT",
                f"sex/century/year digits contradict the recorded {problem}",
            )
    check_address(v, cmd.permanent_residence, "permanent_residence", ward_exists)
    if cmd.temporary_residence is not None:
        check_temporary(v, cmd.temporary_residence, "temporary_residence", ward_exists)
        v.check(
            cmd.temporary_residence.address.ward_code != cmd.permanent_residence.ward_code
            or cmd.temporary_residence.address.street != cmd.permanent_residence.street,
            "temporary_residence.address",
            "TEMPORARY_EQUALS_PERMANENT",
            "must differ from the permanent residence",
        )
    v.check(
        cmd.relationship_to_head is not None,
        "relationship_to_head",
        "RELATIONSHIP_REQUIRED",
        "is required",
    )
    if cmd.household_id:
        v.check(is_uuid(cmd.household_id), "household_id", "HOUSEHOLD_ID_MALFORMED", "is not an id")
    if cmd.relationship_to_head is not None and cmd.relationship_to_head is not Relationship.HEAD:
        v.check(
            bool(cmd.household_id),
            "household_id",
            "HOUSEHOLD_REQUIRED",
            "is required unless the resident is the head of a new household",
        )
    v.raise_if_any()


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_etag(resident: Resident, etag: str) -> None:
    if etag and etag != resident.etag:
        raise ConcurrentChange("ETAG_MISMATCH", "the resident changed since it was read")


def validate_residence_update(cmd: UpdateResidence, ward_exists: WardExists) -> None:
    v = Validator()
    check_citizen_id(v, cmd.citizen_id)
    v.check(bool(cmd.etag), "etag", "ETAG_REQUIRED", "is required")
    check_reason(v, cmd.reason, required=True)
    change = cmd.change
    if change is None:
        v.add("change", "CHANGE_REQUIRED", "one of the changes is required")
    elif isinstance(change, PermanentMove):
        check_address(v, change.address, "permanent_move.address", ward_exists)
        v.check(
            change.effective_date is not None,
            "permanent_move.effective_date",
            "DATE_REQUIRED",
            "is required",
        )
    elif isinstance(change, TemporaryRegistration):
        check_temporary(v, change.residence, "temporary_registration", ward_exists)
    elif isinstance(change, EndTemporaryResidence):
        v.check(
            change.end_date is not None,
            "end_temporary_residence.end_date",
            "DATE_REQUIRED",
            "is required",
        )
    v.raise_if_any()


def ensure_alive(resident: Resident, action: str) -> None:
    if resident.civil_status is CivilStatus.DECEASED:
        raise PreconditionFailed("RESIDENT_DECEASED", f"cannot {action}: the resident is deceased")


def apply_residence_change(resident: Resident, cmd: UpdateResidence, today: dt.date) -> Resident:
    """The resident after the change; raises when the change does not fit the current state."""
    ensure_alive(resident, "change the residence")
    change = cmd.change
    if isinstance(change, PermanentMove):
        assert change.effective_date is not None  # validated
        if change.effective_date > today:
            # The registry holds where people live now; a move is recorded once it happened.
            raise PreconditionFailed("MOVE_IN_FUTURE", "a permanent move cannot take effect later")
        if change.address == resident.permanent_residence:
            raise PreconditionFailed("SAME_ADDRESS", "the resident already lives at that address")
        temporary = resident.temporary_residence
        # A temporary residence in the ward one moves to permanently has no purpose left.
        if temporary is not None and temporary.address.ward_code == change.address.ward_code:
            temporary = None
        return _changed(resident, permanent_residence=change.address, temporary_residence=temporary)
    if isinstance(change, TemporaryRegistration):
        if change.residence.address == resident.permanent_residence:
            raise PreconditionFailed(
                "TEMPORARY_EQUALS_PERMANENT", "a temporary residence must differ from the permanent"
            )
        return _changed(resident, temporary_residence=change.residence)
    if isinstance(change, EndTemporaryResidence):
        current = resident.temporary_residence
        if current is None:
            raise PreconditionFailed("NO_TEMPORARY_RESIDENCE", "no temporary residence to end")
        assert change.end_date is not None  # validated
        if change.end_date < current.valid_from:
            raise PreconditionFailed(
                "END_BEFORE_START", "the end date is before the temporary residence began"
            )
        if change.end_date >= today:
            # Ending later keeps it active until then: the ward still sees the resident.
            return _changed(
                resident, temporary_residence=replace(current, valid_to=change.end_date)
            )
        return _changed(resident, temporary_residence=None)
    raise AssertionError("validated change kinds only")


def _changed(resident: Resident, **changes: object) -> Resident:
    return replace(resident, version=resident.version + 1, **changes)  # type: ignore[arg-type]


def validate_death(cmd: RegisterDeath, today: dt.date) -> DeathRecord:
    v = Validator()
    check_citizen_id(v, cmd.citizen_id)
    death = cmd.death
    if death is None:
        v.add("death", "DEATH_REQUIRED", "is required")
        v.raise_if_any()
        raise AssertionError("unreachable")
    v.check(
        death.death_date <= today, "death.death_date", "DATE_IN_FUTURE", "must not be in the future"
    )
    for name, value in (
        ("place", death.place),
        ("cause_detail", death.cause_detail),
        ("registration_ref", death.registration_ref),
    ):
        v.check(
            len(value) <= MAX_STREET_LENGTH,
            f"death.{name}",
            "TOO_LONG",
            f"must be at most {MAX_STREET_LENGTH} characters",
        )
    if death.death_time is not None:
        v.check(
            death.death_time.astimezone(VIETNAM_TIME).date() == death.death_date,
            "death.death_time",
            "TIME_DATE_MISMATCH",
            "must fall on death_date (Vietnam time)",
        )
    v.raise_if_any()
    return death


def apply_death(resident: Resident, death: DeathRecord) -> Resident | None:
    """The deceased resident, or ``None`` when the same death is already registered."""
    if death.death_date < resident.birth_date:
        raise PreconditionFailed("DEATH_BEFORE_BIRTH", "the death date is before the birth date")
    if resident.civil_status is CivilStatus.DECEASED:
        if resident.death == death:
            return None
        raise PreconditionFailed(
            "DEATH_ALREADY_REGISTERED",
            "a different death is already registered; correct it with a civil-status correction",
        )
    return _changed(resident, civil_status=CivilStatus.DECEASED, death=death)


def validate_correction(cmd: ProposeCorrection) -> None:
    v = Validator()
    check_citizen_id(v, cmd.citizen_id)
    v.check(bool(cmd.etag), "etag", "ETAG_REQUIRED", "is required")
    check_reason(v, cmd.reason, required=True)
    v.check(
        cmd.corrected_status is CivilStatus.ALIVE,
        "corrected_status",
        "CORRECTION_UNSUPPORTED",
        "only ALIVE (revoking an erroneous death) is supported",
    )
    v.raise_if_any()


def ensure_correctable(resident: Resident, cmd: ProposeCorrection) -> None:
    check_etag(resident, cmd.etag)
    if resident.civil_status is not CivilStatus.DECEASED:
        raise PreconditionFailed("NOT_DECEASED", "only a registered death can be revoked")


def approve_correction(
    correction: CivilStatusCorrection, resident: Resident, approver: Actor
) -> Resident:
    """The resident after the correction; the approver must be someone else than the proposer."""
    if correction.state is not CorrectionState.PROPOSED:
        raise PreconditionFailed("CORRECTION_NOT_PROPOSED", "the correction was already applied")
    if approver.subject == correction.proposed_by.subject:
        raise Forbidden("APPROVER_IS_PROPOSER", "a correction must be approved by another officer")
    if resident.version != correction.resident_version:
        raise PreconditionFailed(
            "RESIDENT_CHANGED", "the resident changed after the correction was proposed"
        )
    return _changed(resident, civil_status=correction.corrected_status, death=None)


def validate_search(query: SearchQuery) -> None:
    v = Validator()
    if not (query.name.strip() or query.birth_date or query.birth_year or query.ward_code):
        v.add("name", "FILTER_REQUIRED", "give at least one of name, birth date, year or ward")
    if query.name.strip() and len(names.fold(query.name)) < 2:
        v.check(False, "name", "NAME_TOO_SHORT", "give at least two letters")
    if query.birth_year is not None:
        v.check(
            1900 <= query.birth_year <= 2400, "birth_year", "YEAR_OUT_OF_RANGE", "must be 1900-2400"
        )
    v.raise_if_any()
