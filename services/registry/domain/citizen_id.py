"""The 12-digit personal identification number (số định danh cá nhân).

Digits 1-3: province code of birth registration (001-096, pre-2025 codes); digit 4: sex and
century (even = male, odd = female; 0/1 = 1900s, 2/3 = 2000s, ... 8/9 = 2300s); digits 5-6: last
two digits of the birth year; digits 7-12: a serial.
"""

from __future__ import annotations

import datetime as dt

from services.kit.citizen_ids import is_well_formed as is_well_formed
from services.registry.domain.model import Sex

FIRST_CENTURY = 1900


def birth_province_code(citizen_id: str) -> str:
    return citizen_id[:3]


def sex_century_digit(sex: Sex, birth_year: int) -> int:
    century_index = (birth_year - FIRST_CENTURY) // 100
    return century_index * 2 + (0 if sex is Sex.MALE else 1)


def consistency_problems(citizen_id: str, sex: Sex, birth_date: dt.date) -> list[str]:
    """Which recorded facts the id contradicts: "sex", "birth_date" (century or year)."""
    problems = []
    if not FIRST_CENTURY <= birth_date.year < FIRST_CENTURY + 500:
        return ["birth_date"]
    digit = int(citizen_id[3])
    expected = sex_century_digit(sex, birth_date.year)
    if digit % 2 != expected % 2:
        problems.append("sex")
    if digit // 2 != expected // 2 or citizen_id[4:6] != f"{birth_date.year % 100:02d}":
        problems.append("birth_date")
    return problems


def compose(province_code: int, sex: Sex, birth_year: int, serial: int) -> str:
    """A citizen id consistent with the given facts (used by the demo population)."""
    digit = sex_century_digit(sex, birth_year)
    return f"{province_code:03d}{digit}{birth_year % 100:02d}{serial:06d}"
