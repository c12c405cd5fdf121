"""Request ids (AIP-155) accepted for idempotent mutations."""

from __future__ import annotations

import pytest

from services.kit.errors import InvalidInput
from services.kit.request_ids import MAX_REQUEST_ID_LENGTH, validate_request_id


@pytest.mark.parametrize(
    "request_id",
    [
        "a",
        "3f2b9c1e-7d4a-4c1b-9a8e-2b1f0c9d8e7a",
        "covid-death-001089012345:register-death",
        "yêu cầu số 1",
        "x" * MAX_REQUEST_ID_LENGTH,
    ],
)
def test_accepted_request_ids(request_id: str) -> None:
    validate_request_id(request_id)


@pytest.mark.parametrize(
    ("request_id", "why"),
    [
        ("", "empty"),
        ("x" * (MAX_REQUEST_ID_LENGTH + 1), "too long"),
        ("abc\n", "newline"),
        ("abc\x00", "NUL"),
        ("a\tb", "tab"),
    ],
)
def test_refused_request_ids(request_id: str, why: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_request_id(request_id)
    [violation] = exc.value.violations
    assert (violation.field, violation.reason) == ("request_id", "REQUEST_ID_INVALID"), why


def test_the_violation_names_the_field_given() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_request_id("", field="claims[2].request_id")
    assert [v.field for v in exc.value.violations] == ["claims[2].request_id"]
