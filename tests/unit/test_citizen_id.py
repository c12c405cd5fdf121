"""The 12-digit citizen id: shape, province code, and the sex/century/year digits."""

from __future__ import annotations

import datetime as dt

import pytest

from services.registry.domain import citizen_id as ids
from services.registry.domain.model import Sex

# Digit 4 of the id: (sex, first year of the century) for each value 0-9.
CENTURY_DIGITS = {
    0: (Sex.MALE, 1900),
    1: (Sex.FEMALE, 1900),
    2: (Sex.MALE, 2000),
    3: (Sex.FEMALE, 2000),
    4: (Sex.MALE, 2100),
    5: (Sex.FEMALE, 2100),
    6: (Sex.MALE, 2200),
    7: (Sex.FEMALE, 2200),
    8: (Sex.MALE, 2300),
    9: (Sex.FEMALE, 2300),
}


def other(sex: Sex) -> Sex:
    return Sex.FEMALE if sex is Sex.MALE else Sex.MALE


@pytest.mark.parametrize(
    "citizen_id",
    ["001089012345", "001190000001", "079203123456", "096399999999", "048000000000"],
)
def test_well_formed_ids(citizen_id: str) -> None:
    assert ids.is_well_formed(citizen_id)


@pytest.mark.parametrize(
    ("citizen_id", "why"),
    [
        ("", "empty"),
        ("00108901234", "11 digits"),
        ("0010890123456", "13 digits"),
        ("000089012345", "province 000"),
        ("097089012345", "province 097"),
        ("999089012345", "province 999"),
        ("00108901234a", "a letter"),
        ("001 89012345", "a space"),
        ("٠٠١٠٨٩٠١٢٣٤٥", "Arabic-Indic digits"),
        ("００１０８９０１２３４５", "full-width digits"),
    ],
)
def test_malformed_ids(citizen_id: str, why: str) -> None:
    assert not ids.is_well_formed(citizen_id), why


def test_birth_province_code_of_a_ha_noi_id() -> None:
    assert ids.birth_province_code("001089012345") == "001"
    assert ids.birth_province_code("079203123456") == "079"


def test_ha_noi_examples_consistent_with_their_facts() -> None:
    # 001 Hà Nội; digit 0 = male born 1900-1999, "89" = 1989.
    assert ids.consistency_problems("001089012345", Sex.MALE, dt.date(1989, 3, 14)) == []
    # digit 1 = female born 1900-1999, "90" = 1990.
    assert ids.consistency_problems("001190000001", Sex.FEMALE, dt.date(1990, 12, 31)) == []
    # digit 3 = female born 2000-2099, "05" = 2005.
    assert ids.consistency_problems("001305000123", Sex.FEMALE, dt.date(2005, 1, 1)) == []


def test_ha_noi_example_contradicting_sex_and_year() -> None:
    assert ids.consistency_problems("001089012345", Sex.FEMALE, dt.date(1989, 3, 14)) == ["sex"]
    assert ids.consistency_problems("001089012345", Sex.MALE, dt.date(1988, 3, 14)) == [
        "birth_date"
    ]
    assert ids.consistency_problems("001089012345", Sex.FEMALE, dt.date(2089, 3, 14)) == [
        "sex",
        "birth_date",
    ]


@pytest.mark.parametrize("digit", sorted(CENTURY_DIGITS))
def test_each_century_digit_is_consistent_with_its_sex_and_century(digit: int) -> None:
    sex, century = CENTURY_DIGITS[digit]
    for year in (century, century + 42, century + 99):
        citizen_id = f"001{digit}{year % 100:02d}000777"
        born = dt.date(year, 6, 15)
        assert ids.consistency_problems(citizen_id, sex, born) == [], (digit, year)
        assert ids.sex_century_digit(sex, year) == digit
        assert ids.consistency_problems(citizen_id, other(sex), born) == ["sex"]
        # Same two year digits, neighbouring centuries: the century digit contradicts them.
        for wrong_century in (year - 100, year + 100):
            if 1900 <= wrong_century < 2400:
                problems = ids.consistency_problems(citizen_id, sex, dt.date(wrong_century, 6, 15))
                assert problems == ["birth_date"], (digit, wrong_century)


@pytest.mark.parametrize("year", [1899, 1000, 2400, 2999])
def test_birth_years_outside_the_five_centuries_contradict_every_id(year: int) -> None:
    assert ids.consistency_problems("001099012345", Sex.MALE, dt.date(year, 1, 1)) == ["birth_date"]


@pytest.mark.parametrize("digit", sorted(CENTURY_DIGITS))
def test_compose_builds_a_well_formed_consistent_id(digit: int) -> None:
    sex, century = CENTURY_DIGITS[digit]
    year = century + 7
    composed = ids.compose(79, sex, year, 42)
    assert composed == f"079{digit}07000042"
    assert ids.is_well_formed(composed)
    assert ids.consistency_problems(composed, sex, dt.date(year, 2, 28)) == []
