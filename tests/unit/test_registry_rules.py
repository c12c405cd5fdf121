"""The registry's rules: registrations, residence changes, deaths, corrections, searches."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from services.kit.errors import ConcurrentChange, Forbidden, InvalidInput, PreconditionFailed
from services.registry.domain import rules
from services.registry.domain.commands import (
    EndTemporaryResidence,
    PermanentMove,
    ProposeCorrection,
    RegisterDeath,
    RegisterResident,
    ResidenceChange,
    SearchQuery,
    TemporaryRegistration,
    UpdateResidence,
)
from services.registry.domain.model import (
    Actor,
    Address,
    CivilStatus,
    CivilStatusCorrection,
    CorrectionState,
    DeathCause,
    DeathRecord,
    Relationship,
    Resident,
    Sex,
    TemporaryResidence,
)

TODAY = dt.date(2021, 9, 18)
HOAN_KIEM = "00070"
BA_DINH = "00004"
CUA_NAM = "00073"
KNOWN_WARDS = frozenset({HOAN_KIEM, BA_DINH, CUA_NAM})
HOME = Address(HOAN_KIEM, "12 Hàng Bồ")
LODGING = Address(CUA_NAM, "5 Trần Hưng Đạo")
OFFICER = Actor("officer-1", "ca-hoan-kiem")
OTHER_OFFICER = Actor("officer-2", "ca-hoan-kiem")


def ward_exists(code: str) -> bool:
    return code in KNOWN_WARDS


def violations(exc: pytest.ExceptionInfo[InvalidInput]) -> set[tuple[str, str]]:
    return {(v.field, v.reason) for v in exc.value.violations}


def registration(**overrides: object) -> RegisterResident:
    base = RegisterResident(
        citizen_id="001089012345",
        full_name="Nguyễn Văn An",
        birth_date=dt.date(1989, 3, 14),
        sex=Sex.MALE,
        permanent_residence=HOME,
        temporary_residence=None,
        household_id="",
        relationship_to_head=Relationship.HEAD,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def resident(**overrides: object) -> Resident:
    base = Resident(
        citizen_id="001089012345",
        full_name="Nguyễn Văn An",
        birth_date=dt.date(1989, 3, 14),
        sex=Sex.MALE,
        permanent_residence=HOME,
        household_id="3f1c2a9e-0000-4000-8000-000000000001",
        relationship_to_head=Relationship.HEAD,
        version=3,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def covid_death(day: dt.date = dt.date(2021, 8, 20)) -> DeathRecord:
    return DeathRecord(death_date=day, cause=DeathCause.COVID19, place="Bệnh viện Thanh Nhàn")


# --- registration -------------------------------------------------------------------------


def test_valid_registration_passes() -> None:
    rules.validate_registration(registration(), ward_exists, TODAY)
    rules.validate_registration(
        registration(
            temporary_residence=TemporaryResidence(LODGING, dt.date(2021, 1, 1)),
            household_id="3f1c2a9e-0000-4000-8000-000000000001",
            relationship_to_head=Relationship.CHILD,
        ),
        ward_exists,
        TODAY,
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"citizen_id": "00108901234"}, ("citizen_id", "CITIZEN_ID_MALFORMED")),
        ({"citizen_id": "097089012345"}, ("citizen_id", "CITIZEN_ID_MALFORMED")),
        ({"sex": Sex.FEMALE}, ("citizen_id", "CITIZEN_ID_INCONSISTENT")),
        ({"birth_date": dt.date(1988, 3, 14)}, ("citizen_id", "CITIZEN_ID_INCONSISTENT")),
        ({"full_name": "Nguyễn Văn 2"}, ("full_name", "FULL_NAME_INVALID")),
        ({"full_name": "   "}, ("full_name", "FULL_NAME_INVALID")),
        ({"birth_date": None}, ("birth_date", "BIRTH_DATE_REQUIRED")),
        ({"birth_date": TODAY + dt.timedelta(days=1)}, ("birth_date", "BIRTH_DATE_OUT_OF_RANGE")),
        ({"birth_date": dt.date(1899, 12, 31)}, ("birth_date", "BIRTH_DATE_OUT_OF_RANGE")),
        ({"sex": None}, ("sex", "SEX_REQUIRED")),
        (
            {"permanent_residence": Address("", "12 Hàng Bồ")},
            ("permanent_residence.ward_code", "WARD_REQUIRED"),
        ),
        (
            {"permanent_residence": Address("99999", "12 Hàng Bồ")},
            ("permanent_residence.ward_code", "WARD_UNKNOWN"),
        ),
        (
            {"permanent_residence": Address(HOAN_KIEM, "x" * (rules.MAX_STREET_LENGTH + 1))},
            ("permanent_residence.street", "STREET_TOO_LONG"),
        ),
        (
            {"temporary_residence": TemporaryResidence(HOME, dt.date(2021, 1, 1))},
            ("temporary_residence.address", "TEMPORARY_EQUALS_PERMANENT"),
        ),
        (
            {
                "temporary_residence": TemporaryResidence(
                    LODGING, dt.date(2021, 5, 1), dt.date(2021, 4, 30)
                )
            },
            ("temporary_residence.valid_to", "PERIOD_REVERSED"),
        ),
        (
            {"temporary_residence": TemporaryResidence(Address("99999", ""), dt.date(2021, 1, 1))},
            ("temporary_residence.address.ward_code", "WARD_UNKNOWN"),
        ),
        ({"relationship_to_head": None}, ("relationship_to_head", "RELATIONSHIP_REQUIRED")),
        ({"relationship_to_head": Relationship.SPOUSE}, ("household_id", "HOUSEHOLD_REQUIRED")),
        ({"household_id": "hh-1"}, ("household_id", "HOUSEHOLD_ID_MALFORMED")),
    ],
)
def test_registration_violation_names_the_field(
    overrides: dict[str, object], expected: tuple[str, str]
) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.validate_registration(registration(**overrides), ward_exists, TODAY)
    assert violations(exc) == {expected}


def test_registration_reports_every_problem_at_once() -> None:
    command = registration(
        citizen_id="bad",
        full_name="",
        birth_date=None,
        sex=None,
        permanent_residence=Address("99999", ""),
        relationship_to_head=None,
    )
    with pytest.raises(InvalidInput) as exc:
        rules.validate_registration(command, ward_exists, TODAY)
    assert violations(exc) == {
        ("citizen_id", "CITIZEN_ID_MALFORMED"),
        ("full_name", "FULL_NAME_INVALID"),
        ("birth_date", "BIRTH_DATE_REQUIRED"),
        ("sex", "SEX_REQUIRED"),
        ("permanent_residence.ward_code", "WARD_UNKNOWN"),
        ("relationship_to_head", "RELATIONSHIP_REQUIRED"),
    }


def test_id_contradicting_sex_and_birth_year_is_reported_for_each() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.validate_registration(
            registration(sex=Sex.FEMALE, birth_date=dt.date(1979, 1, 1)), ward_exists, TODAY
        )
    reasons = [(v.field, v.reason) for v in exc.value.violations]
    assert reasons == [("citizen_id", "CITIZEN_ID_INCONSISTENT")] * 2
    assert not any("Nguyễn" in v.description for v in exc.value.violations)


def test_registration_born_today_is_accepted() -> None:
    rules.validate_registration(
        registration(citizen_id="001221000001", birth_date=TODAY), ward_exists, TODAY
    )


# --- residence ----------------------------------------------------------------------------


def update(change: ResidenceChange | None, **overrides: object) -> UpdateResidence:
    base = UpdateResidence(
        citizen_id="001089012345", etag='W/"3"', change=change, reason="chuyển đến"
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_valid_residence_updates_pass() -> None:
    for change in (
        PermanentMove(Address(BA_DINH, "1 Điện Biên Phủ"), dt.date(2021, 9, 1)),
        TemporaryRegistration(TemporaryResidence(LODGING, dt.date(2021, 9, 1))),
        EndTemporaryResidence(dt.date(2021, 9, 1)),
    ):
        rules.validate_residence_update(update(change), ward_exists)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (update(None), ("change", "CHANGE_REQUIRED")),
        (
            update(EndTemporaryResidence(dt.date(2021, 9, 1)), etag=""),
            ("etag", "ETAG_REQUIRED"),
        ),
        (
            update(EndTemporaryResidence(dt.date(2021, 9, 1)), reason="  "),
            ("reason", "REASON_REQUIRED"),
        ),
        (
            update(EndTemporaryResidence(dt.date(2021, 9, 1)), reason="x" * 1001),
            ("reason", "REASON_TOO_LONG"),
        ),
        (
            update(PermanentMove(Address(BA_DINH, ""), None)),
            ("permanent_move.effective_date", "DATE_REQUIRED"),
        ),
        (
            update(PermanentMove(Address("99999", ""), dt.date(2021, 9, 1))),
            ("permanent_move.address.ward_code", "WARD_UNKNOWN"),
        ),
        (
            update(
                TemporaryRegistration(
                    TemporaryResidence(LODGING, dt.date(2021, 9, 2), dt.date(2021, 9, 1))
                )
            ),
            ("temporary_registration.valid_to", "PERIOD_REVERSED"),
        ),
        (
            update(EndTemporaryResidence(None)),
            ("end_temporary_residence.end_date", "DATE_REQUIRED"),
        ),
    ],
)
def test_residence_update_violations(command: UpdateResidence, expected: tuple[str, str]) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.validate_residence_update(command, ward_exists)
    assert violations(exc) == {expected}


def apply_change(before: Resident, cmd: UpdateResidence) -> Resident:
    return rules.apply_residence_change(before, cmd, TODAY)


def test_permanent_move_changes_address_and_version() -> None:
    new_home = Address(BA_DINH, "1 Điện Biên Phủ")
    lodging = TemporaryResidence(LODGING, dt.date(2021, 1, 1))
    before = resident(temporary_residence=lodging)

    after = apply_change(before, update(PermanentMove(new_home, TODAY)))

    assert after.permanent_residence == new_home
    assert after.temporary_residence == lodging
    assert after.version == before.version + 1
    assert after.etag != before.etag
    assert before.permanent_residence == HOME  # the input is not mutated


def test_permanent_move_into_the_temporary_ward_ends_the_temporary_residence() -> None:
    before = resident(temporary_residence=TemporaryResidence(LODGING, dt.date(2021, 1, 1)))
    after = apply_change(before, update(PermanentMove(Address(CUA_NAM, "9 Lý Thường Kiệt"), TODAY)))
    assert after.temporary_residence is None
    assert after.residence_wards(TODAY) == frozenset({CUA_NAM})


def test_permanent_move_to_the_same_address_is_refused() -> None:
    with pytest.raises(PreconditionFailed) as exc:
        apply_change(resident(), update(PermanentMove(HOME, TODAY)))
    assert exc.value.reason == "SAME_ADDRESS"


def test_temporary_registration_replaces_the_temporary_residence() -> None:
    lodging = TemporaryResidence(LODGING, dt.date(2021, 9, 1), dt.date(2021, 12, 31))
    after = apply_change(resident(), update(TemporaryRegistration(lodging)))
    assert after.temporary_residence == lodging
    assert after.residence_wards(TODAY) == frozenset({HOAN_KIEM, CUA_NAM})
    assert after.version == 4


def test_temporary_registration_at_the_permanent_address_is_refused() -> None:
    with pytest.raises(PreconditionFailed) as exc:
        apply_change(resident(), update(TemporaryRegistration(TemporaryResidence(HOME, TODAY))))
    assert exc.value.reason == "TEMPORARY_EQUALS_PERMANENT"


def test_ending_the_temporary_residence_in_the_past_removes_it() -> None:
    before = resident(temporary_residence=TemporaryResidence(LODGING, dt.date(2021, 1, 1)))
    after = apply_change(before, update(EndTemporaryResidence(TODAY - dt.timedelta(days=1))))
    assert after.temporary_residence is None
    assert after.version == before.version + 1


def test_ending_the_temporary_residence_today_or_later_keeps_it_until_then() -> None:
    before = resident(temporary_residence=TemporaryResidence(LODGING, dt.date(2021, 1, 1)))
    after = apply_change(before, update(EndTemporaryResidence(TODAY)))
    assert after.temporary_residence == TemporaryResidence(LODGING, dt.date(2021, 1, 1), TODAY)
    assert after.residence_wards(TODAY) == frozenset({HOAN_KIEM, CUA_NAM})
    assert after.residence_wards(TODAY + dt.timedelta(days=1)) == frozenset({HOAN_KIEM})


def test_a_permanent_move_cannot_take_effect_in_the_future() -> None:
    tomorrow = TODAY + dt.timedelta(days=1)
    with pytest.raises(PreconditionFailed) as exc:
        apply_change(resident(), update(PermanentMove(Address(BA_DINH, "1 Phố"), tomorrow)))
    assert exc.value.reason == "MOVE_IN_FUTURE"


@pytest.mark.parametrize(
    ("temporary", "end", "reason"),
    [
        (None, TODAY, "NO_TEMPORARY_RESIDENCE"),
        (TemporaryResidence(LODGING, TODAY), TODAY - dt.timedelta(days=1), "END_BEFORE_START"),
    ],
)
def test_ending_a_temporary_residence_that_does_not_fit(
    temporary: TemporaryResidence | None, end: dt.date, reason: str
) -> None:
    with pytest.raises(PreconditionFailed) as exc:
        apply_change(resident(temporary_residence=temporary), update(EndTemporaryResidence(end)))
    assert exc.value.reason == reason


def test_residence_of_a_deceased_resident_cannot_change() -> None:
    deceased = resident(civil_status=CivilStatus.DECEASED, death=covid_death())
    with pytest.raises(PreconditionFailed) as exc:
        apply_change(deceased, update(PermanentMove(Address(BA_DINH, "1 Điện Biên Phủ"), TODAY)))
    assert exc.value.reason == "RESIDENT_DECEASED"


def test_stale_etag_is_a_concurrent_change() -> None:
    rules.check_etag(resident(version=3), 'W/"3"')
    with pytest.raises(ConcurrentChange):
        rules.check_etag(resident(version=4), 'W/"3"')


# --- deaths -------------------------------------------------------------------------------


def test_valid_death_is_returned() -> None:
    death = covid_death()
    assert rules.validate_death(RegisterDeath("001089012345", death), TODAY) == death


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (RegisterDeath("001089012345", None), ("death", "DEATH_REQUIRED")),
        (
            RegisterDeath("001089012345", covid_death(TODAY + dt.timedelta(days=1))),
            ("death.death_date", "DATE_IN_FUTURE"),
        ),
        (
            RegisterDeath("001089012345", replace(covid_death(), place="x" * 301)),
            ("death.place", "TOO_LONG"),
        ),
        (
            RegisterDeath(
                "001089012345",
                replace(covid_death(), death_time=dt.datetime(2021, 8, 21, 10, 0)),
            ),
            ("death.death_time", "TIME_DATE_MISMATCH"),
        ),
        (RegisterDeath("1", covid_death()), ("citizen_id", "CITIZEN_ID_MALFORMED")),
    ],
)
def test_death_violations(command: RegisterDeath, expected: tuple[str, str]) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.validate_death(command, TODAY)
    assert expected in violations(exc)


VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")


def test_death_time_given_in_vietnam_time_on_the_death_date_passes() -> None:
    at_3am = dt.datetime(2021, 8, 20, 3, 0, tzinfo=VIETNAM)
    death = replace(covid_death(dt.date(2021, 8, 20)), death_time=at_3am)
    assert rules.validate_death(RegisterDeath("001089012345", death), TODAY) == death


def test_death_time_in_utc_before_7am_vietnam_time_matches_the_local_death_date() -> None:
    # 03:00 on 20 Aug in Hà Nội is 20:00 UTC on 19 Aug: what the API hands the domain.
    at_3am_as_utc = dt.datetime(2021, 8, 20, 3, 0, tzinfo=VIETNAM).astimezone(dt.UTC)
    death = replace(covid_death(dt.date(2021, 8, 20)), death_time=at_3am_as_utc)
    assert rules.validate_death(RegisterDeath("001089012345", death), TODAY) == death


def test_death_marks_the_resident_deceased() -> None:
    before = resident()
    after = rules.apply_death(before, covid_death())
    assert after is not None
    assert after.civil_status is CivilStatus.DECEASED
    assert after.death == covid_death()
    assert after.version == before.version + 1


def test_repeating_the_same_death_is_idempotent() -> None:
    deceased = rules.apply_death(resident(), covid_death())
    assert deceased is not None
    assert rules.apply_death(deceased, covid_death()) is None


@pytest.mark.parametrize(
    "different",
    [
        covid_death(dt.date(2021, 8, 21)),
        replace(covid_death(), cause=DeathCause.OTHER),
        replace(covid_death(), place="Bệnh viện Bạch Mai"),
    ],
)
def test_a_different_death_for_a_deceased_resident_is_refused(different: DeathRecord) -> None:
    deceased = rules.apply_death(resident(), covid_death())
    assert deceased is not None
    with pytest.raises(PreconditionFailed) as exc:
        rules.apply_death(deceased, different)
    assert exc.value.reason == "DEATH_ALREADY_REGISTERED"


def test_death_before_birth_is_refused() -> None:
    with pytest.raises(PreconditionFailed) as exc:
        rules.apply_death(resident(), covid_death(dt.date(1989, 3, 13)))
    assert exc.value.reason == "DEATH_BEFORE_BIRTH"


# --- corrections (maker-checker) ----------------------------------------------------------


def deceased_resident() -> Resident:
    return resident(civil_status=CivilStatus.DECEASED, death=covid_death(), version=5)


def proposal(**overrides: object) -> CivilStatusCorrection:
    base = CivilStatusCorrection(
        correction_id="corr-1",
        citizen_id="001089012345",
        corrected_status=CivilStatus.ALIVE,
        reason="death recorded for the wrong person",
        state=CorrectionState.PROPOSED,
        proposed_by=OFFICER,
        proposed_at=dt.datetime(2021, 9, 1, 8, 0, tzinfo=dt.UTC),
        resident_version=5,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def propose(**overrides: object) -> ProposeCorrection:
    base = ProposeCorrection(
        citizen_id="001089012345",
        etag='W/"5"',
        corrected_status=CivilStatus.ALIVE,
        reason="death recorded for the wrong person",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_valid_proposal_passes() -> None:
    rules.validate_correction(propose())
    rules.ensure_correctable(deceased_resident(), propose())


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"corrected_status": CivilStatus.DECEASED},
            ("corrected_status", "CORRECTION_UNSUPPORTED"),
        ),
        ({"corrected_status": None}, ("corrected_status", "CORRECTION_UNSUPPORTED")),
        ({"etag": ""}, ("etag", "ETAG_REQUIRED")),
        ({"reason": ""}, ("reason", "REASON_REQUIRED")),
    ],
)
def test_proposal_violations(overrides: dict[str, object], expected: tuple[str, str]) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.validate_correction(propose(**overrides))
    assert violations(exc) == {expected}


def test_only_a_registered_death_can_be_corrected() -> None:
    with pytest.raises(PreconditionFailed) as exc:
        rules.ensure_correctable(resident(version=5), propose())
    assert exc.value.reason == "NOT_DECEASED"
    with pytest.raises(ConcurrentChange):
        rules.ensure_correctable(deceased_resident(), propose(etag='W/"4"'))


def test_another_officer_approves_and_the_resident_is_alive_again() -> None:
    before = deceased_resident()
    after = rules.approve_correction(proposal(), before, OTHER_OFFICER)
    assert after.civil_status is CivilStatus.ALIVE
    assert after.death is None
    assert after.version == before.version + 1


def test_the_proposer_cannot_approve_their_own_correction() -> None:
    with pytest.raises(Forbidden) as exc:
        rules.approve_correction(proposal(), deceased_resident(), Actor("officer-1", "other"))
    assert exc.value.reason == "APPROVER_IS_PROPOSER"


def test_an_applied_correction_cannot_be_approved_again() -> None:
    applied = proposal(state=CorrectionState.APPLIED, approved_by=OTHER_OFFICER)
    with pytest.raises(PreconditionFailed) as exc:
        rules.approve_correction(applied, deceased_resident(), OTHER_OFFICER)
    assert exc.value.reason == "CORRECTION_NOT_PROPOSED"


def test_a_resident_changed_since_the_proposal_is_not_corrected() -> None:
    changed = replace(deceased_resident(), version=6)
    with pytest.raises(PreconditionFailed) as exc:
        rules.approve_correction(proposal(), changed, OTHER_OFFICER)
    assert exc.value.reason == "RESIDENT_CHANGED"


# --- search -------------------------------------------------------------------------------


def search(**overrides: object) -> SearchQuery:
    base = SearchQuery(name="", birth_date=None, birth_year=None, ward_code=None)
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query",
    [
        search(name="Nguyễn Văn An"),
        search(name="an"),
        search(birth_date=dt.date(1989, 3, 14)),
        search(birth_year=1989),
        search(ward_code=HOAN_KIEM),
    ],
)
def test_valid_searches(query: SearchQuery) -> None:
    rules.validate_search(query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (search(), ("name", "FILTER_REQUIRED")),
        (search(name="Đ"), ("name", "NAME_TOO_SHORT")),
        (search(birth_year=1899), ("birth_year", "YEAR_OUT_OF_RANGE")),
        (search(birth_year=2401), ("birth_year", "YEAR_OUT_OF_RANGE")),
    ],
)
def test_search_violations(query: SearchQuery, expected: tuple[str, str]) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.validate_search(query)
    assert violations(exc) == {expected}
