"""The example programs' amounts come from settings, checked before anything starts."""

from __future__ import annotations

import pytest

from services.cli.welfare_examples import AmountInvalid, amounts_from
from services.welfare.domain.examples import ExampleAmounts, example_programs


def test_settings_change_only_the_amounts_they_name() -> None:
    amounts = amounts_from({"DANCU_WELFARE_EXAMPLE_MEAL_PER_DAY": "100_000", "OTHER": "x"})
    meal = example_programs(amounts)[0]

    assert amounts == ExampleAmounts(meal_per_day=100_000)
    assert (meal.benefit.amount_vnd, meal.benefit.max_units) == (100_000, 45)
    assert all(p.example for p in example_programs(amounts))


@pytest.mark.parametrize("value", ["0", "-5", "80.000,5", "tám mươi"])
def test_a_setting_that_is_not_a_positive_whole_number_is_refused(value: str) -> None:
    with pytest.raises(AmountInvalid, match="DANCU_WELFARE_EXAMPLE_FUNERAL_ONE_TIME"):
        amounts_from({"DANCU_WELFARE_EXAMPLE_FUNERAL_ONE_TIME": value})
