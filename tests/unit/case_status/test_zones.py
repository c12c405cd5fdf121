"""Zone declarations and endings on their own (pure rules)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.case_status.domain.zones import (
    MAX_WARD_PROBLEMS,
    Zone,
    end_zone,
    validate_declaration,
)
from services.kit.errors import InvalidInput, PreconditionFailed

START = dt.datetime(2021, 9, 3, tzinfo=dt.UTC)
KNOWN = {"00008", "00025"}


def zone(**changes: object) -> Zone:
    fields: dict[str, object] = {
        "zone_id": "z",
        "name": "Ngọc Hà",
        "ward_codes": ("00008", "00025"),
        "start_at": START,
        "end_at": None,
        "reason": "chùm ca bệnh",
    }
    fields.update(changes)
    return Zone(**fields)  # type: ignore[arg-type]


def problems(value: Zone) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as info:
        validate_declaration(value, KNOWN.__contains__)
    return [(v.field, v.reason) for v in info.value.violations]


def test_a_good_zone_passes() -> None:
    validate_declaration(zone(), KNOWN.__contains__)


def test_too_many_wards_is_one_problem_not_two_hundred() -> None:
    assert problems(zone(ward_codes=("00008",) * 201)) == [("zone.ward_codes", "WARD_COUNT")]


def test_bad_wards_are_named_up_to_a_limit() -> None:
    found = problems(zone(ward_codes=("00008",) * 200))
    assert len(found) == MAX_WARD_PROBLEMS
    assert found[0] == ("zone.ward_codes[1]", "WARD_REPEATED")


def test_ending_once_after_the_start_with_a_reason() -> None:
    ended = end_zone(zone(), START + dt.timedelta(days=14), " hết ca ")
    assert ended.end_at == START + dt.timedelta(days=14)
    assert ended.end_reason == "hết ca"
    with pytest.raises(PreconditionFailed):
        end_zone(ended, START + dt.timedelta(days=15), "lại")
    with pytest.raises(InvalidInput):
        end_zone(zone(), START, "")
