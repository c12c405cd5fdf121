"""The form of the 12-digit personal identification number (số định danh cá nhân), which every
service checks before asking anything about a person. What the digits mean beyond their form
(sex, century, birth year) is the registry's domain."""

from __future__ import annotations

MIN_PROVINCE_CODE = 1
MAX_PROVINCE_CODE = 96


def is_well_formed(citizen_id: str) -> bool:
    """12 ASCII digits starting with a birth-registration province code 001-096."""
    if len(citizen_id) != 12 or not citizen_id.isascii() or not citizen_id.isdigit():
        return False
    return MIN_PROVINCE_CODE <= int(citizen_id[:3]) <= MAX_PROVINCE_CODE
