"""Domain error categories and the violation collector."""

from __future__ import annotations

import pytest

from services.kit.errors import (
    AlreadyExists,
    ConcurrentChange,
    DomainError,
    FieldViolation,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Validator,
)


def test_validator_without_violations_passes() -> None:
    v = Validator()
    assert v.check(True, "name", "NAME_EMPTY", "is required") is True
    assert v.ok
    v.raise_if_any()


def test_validator_collects_every_violation_in_order() -> None:
    v = Validator()
    assert v.check(False, "name", "NAME_EMPTY", "is required") is False
    v.add("claims[3].citizen_id", "CITIZEN_ID_MALFORMED", "must be 12 digits")
    assert not v.ok

    with pytest.raises(InvalidInput) as exc:
        v.raise_if_any()

    assert exc.value.violations == (
        FieldViolation("name", "NAME_EMPTY", "is required"),
        FieldViolation("claims[3].citizen_id", "CITIZEN_ID_MALFORMED", "must be 12 digits"),
    )
    assert exc.value.reason == "INVALID_INPUT"
    assert str(exc.value) == exc.value.message == "the request has invalid fields"


def test_invalid_input_takes_any_iterable_of_violations() -> None:
    error = InvalidInput(
        (FieldViolation(f"f{i}", "R", "d") for i in range(2)), reason="BATCH_INVALID"
    )
    assert [v.field for v in error.violations] == ["f0", "f1"]
    assert error.reason == "BATCH_INVALID"


@pytest.mark.parametrize(
    "category", [NotFound, AlreadyExists, PreconditionFailed, ConcurrentChange, Forbidden]
)
def test_categories_carry_a_stable_reason_and_a_message(category: type[DomainError]) -> None:
    with pytest.raises(DomainError) as exc:
        raise category("SOME_REASON", "what happened")
    assert type(exc.value) is category
    assert exc.value.reason == "SOME_REASON"
    assert exc.value.message == "what happened"
    assert str(exc.value) == "what happened"
