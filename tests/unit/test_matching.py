"""Identity verification: one claim against the residents it could mean."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from services.registry.domain.commands import IdentityClaim
from services.registry.domain.matching import (
    MAX_CANDIDATES,
    Candidate,
    Outcome,
    claim_problem,
    classify,
)
from services.registry.domain.model import CivilStatus

HOAN_KIEM = "00070"
BA_DINH = "00004"
CUA_NAM = "00082"
BORN = dt.date(1985, 4, 2)

AN = Candidate(
    citizen_id="001085000001",
    full_name="Nguyễn Văn An",
    birth_date=BORN,
    permanent_ward_code=HOAN_KIEM,
    temporary_ward_code=None,
    civil_status=CivilStatus.ALIVE,
)
# A namesake born the same day, living in Ba Đình with a temporary residence in Cửa Nam.
NAMESAKE = Candidate(
    citizen_id="001085000002",
    full_name="Nguyễn Văn An",
    birth_date=BORN,
    permanent_ward_code=BA_DINH,
    temporary_ward_code=CUA_NAM,
    civil_status=CivilStatus.ALIVE,
)


def claim(**overrides: object) -> IdentityClaim:
    base = IdentityClaim(
        client_ref="row-7",
        citizen_id=AN.citizen_id,
        full_name="NGUYEN  VAN AN",
        birth_date=BORN,
        ward_code=HOAN_KIEM,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_known_id_with_every_field_agreeing_is_a_match() -> None:
    result = classify(3, claim(), AN, [])
    assert result.outcome is Outcome.MATCH
    assert result.match == AN
    assert result.differing_fields == ()
    assert (result.index, result.client_ref) == (3, "row-7")


def test_known_id_is_authoritative_over_name_candidates() -> None:
    result = classify(0, claim(), AN, [AN, NAMESAKE])
    assert result.outcome is Outcome.MATCH
    assert result.match == AN
    assert result.candidates == ()


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"full_name": "Nguyễn Văn Anh"}, ("full_name",)),
        ({"birth_date": dt.date(1985, 4, 3)}, ("birth_date",)),
        ({"ward_code": BA_DINH}, ("ward_code",)),
        (
            {"full_name": "Trần Văn An", "birth_date": dt.date(1986, 4, 2), "ward_code": CUA_NAM},
            ("full_name", "birth_date", "ward_code"),
        ),
    ],
)
def test_known_id_with_differing_fields_lists_them(
    overrides: dict[str, object], fields: tuple[str, ...]
) -> None:
    result = classify(0, claim(**overrides), AN, [])
    assert result.outcome is Outcome.MATCH_WITH_DIFFERENCES
    assert result.match == AN
    assert result.differing_fields == fields


def test_fields_left_empty_in_the_claim_do_not_differ() -> None:
    result = classify(0, claim(birth_date=None, ward_code=""), AN, [])
    assert result.outcome is Outcome.MATCH
    assert result.differing_fields == ()


def test_temporary_residence_ward_counts_as_living_there() -> None:
    result = classify(0, claim(citizen_id=NAMESAKE.citizen_id, ward_code=CUA_NAM), NAMESAKE, [])
    assert result.outcome is Outcome.MATCH
    assert result.differing_fields == ()


def test_without_id_a_single_name_and_birth_candidate_is_a_match() -> None:
    result = classify(0, claim(citizen_id=""), None, [AN])
    assert result.outcome is Outcome.MATCH
    assert result.match == AN


def test_unknown_id_with_a_single_candidate_reports_the_id_as_differing() -> None:
    result = classify(0, claim(citizen_id="001085999999"), None, [AN])
    assert result.outcome is Outcome.MATCH_WITH_DIFFERENCES
    assert result.match == AN
    assert result.differing_fields == ("citizen_id",)


def test_single_candidate_in_another_ward_differs_in_ward() -> None:
    result = classify(0, claim(citizen_id="", ward_code=BA_DINH), None, [AN])
    assert result.outcome is Outcome.MATCH_WITH_DIFFERENCES
    assert result.differing_fields == ("ward_code",)


def test_no_candidate_is_no_match() -> None:
    result = classify(5, claim(citizen_id=""), None, [])
    assert result.outcome is Outcome.NO_MATCH
    assert result.match is None
    assert result.candidates == ()


def test_namesakes_without_a_ward_are_ambiguous() -> None:
    result = classify(0, claim(citizen_id="", ward_code=""), None, [AN, NAMESAKE])
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.match is None
    assert result.candidates == (AN, NAMESAKE)


@pytest.mark.parametrize(("ward", "expected"), [(HOAN_KIEM, AN), (CUA_NAM, NAMESAKE)])
def test_ward_narrows_namesakes_to_the_one_living_there(ward: str, expected: Candidate) -> None:
    result = classify(0, claim(citizen_id="", ward_code=ward), None, [AN, NAMESAKE])
    assert result.outcome is Outcome.MATCH
    assert result.match == expected
    assert result.candidates == ()


def test_ward_that_fits_no_namesake_leaves_them_all_ambiguous() -> None:
    result = classify(0, claim(citizen_id="", ward_code="26734"), None, [AN, NAMESAKE])
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.candidates == (AN, NAMESAKE)


def test_ward_that_fits_several_namesakes_stays_ambiguous_among_them() -> None:
    third = replace(NAMESAKE, citizen_id="001085000003", permanent_ward_code=HOAN_KIEM)
    result = classify(0, claim(citizen_id="", ward_code=HOAN_KIEM), None, [AN, NAMESAKE, third])
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.candidates == (AN, third)


def test_ambiguous_candidates_are_capped() -> None:
    many = [replace(AN, citizen_id=f"0010850001{i:02d}") for i in range(MAX_CANDIDATES + 5)]
    result = classify(0, claim(citizen_id="", ward_code=""), None, many)
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.candidates == tuple(many[:MAX_CANDIDATES])


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"citizen_id": "12345"}, "CITIZEN_ID_MALFORMED"),
        ({"citizen_id": "000085000001"}, "CITIZEN_ID_MALFORMED"),
        ({"full_name": "   "}, "FULL_NAME_EMPTY"),
        ({"full_name": ""}, "FULL_NAME_EMPTY"),
        ({"citizen_id": "", "birth_date": None}, "BIRTH_DATE_REQUIRED"),
        ({"birth_date": None, "birth_date_invalid": True}, "BIRTH_DATE_INVALID"),
    ],
)
def test_claims_that_cannot_be_looked_up(overrides: dict[str, object], problem: str) -> None:
    assert claim_problem(claim(**overrides)) == problem


@pytest.mark.parametrize(
    "overrides",
    [{}, {"birth_date": None}, {"citizen_id": ""}, {"ward_code": ""}],
)
def test_claims_that_can_be_looked_up(overrides: dict[str, object]) -> None:
    assert claim_problem(claim(**overrides)) == ""
