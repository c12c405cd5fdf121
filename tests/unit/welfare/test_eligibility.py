"""Rules in CEL: clause by clause, with the facts each read; entitlements; program checks."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from services.kit.errors import InvalidInput
from services.welfare.domain.eligibility import assess, evaluate_clause, validate_program
from services.welfare.domain.examples import ExampleAmounts, example_programs
from services.welfare.domain.facts import CaseHistory, Person, Standing, build_facts
from services.welfare.domain.model import Benefit, BenefitKind, Clause

ON = dt.date(2021, 10, 1)
CHILD = Person("001210000001", "Bé", dt.date(2012, 4, 30), "FEMALE", "00070", "01", "", False)


def _facts(person: Person = CHILD, standing: Standing | None = None) -> dict[str, object]:
    return build_facts(person, person, CaseHistory(), standing or Standing("SELF", False, 0), ON)


def test_a_clause_quotes_the_facts_it_read() -> None:
    result = evaluate_clause(
        "young_girl", "", 'beneficiary.age < 16 && beneficiary.sex == "FEMALE"', _facts()
    )

    assert result.satisfied
    assert [(f.path, f.value) for f in result.facts] == [
        ("beneficiary.age", "9"),
        ("beneficiary.sex", '"FEMALE"'),
    ]


def test_a_clause_that_cannot_be_evaluated_fails_without_quoting_values() -> None:
    missing = evaluate_clause("x", "", "beneficiary.income > 0", _facts())
    not_bool = evaluate_clause("y", "", "beneficiary.age + 1", _facts())

    assert not missing.satisfied
    assert missing.error == "a referenced fact is missing"
    assert [(f.path, f.value) for f in missing.facts] == [("beneficiary.income", "<missing>")]
    assert not not_bool.satisfied
    assert not_bool.error == "is not a boolean"


def test_comprehension_variables_are_not_reported_as_facts() -> None:
    result = evaluate_clause("f0", "", 'case.classifications.exists(c, c.level == "F0")', _facts())

    assert not result.satisfied
    assert not result.error
    assert [f.path for f in result.facts] == ["case.classifications"]


def test_monthly_support_runs_from_the_month_after_the_death_to_the_age() -> None:
    orphan_program = example_programs(ExampleAmounts(orphan_monthly=1_500_000))[3]
    facts = _facts(standing=Standing("CHILD", True, 0))
    facts["death"] = {"recorded": True, "cause": "COVID19", "date": "2021-08-14"}

    result = assess(orphan_program, facts, CHILD.citizen_id, "x", CHILD.birth_date, ON)

    assert result.eligible
    assert result.entitlement is not None
    # September 2021 .. March 2030 (she turns 18 on 30 April 2030): 103 months.
    assert result.entitlement.units == 103
    assert result.entitlement.amount_vnd == 103 * 1_500_000


def test_an_amount_change_is_a_different_program_content() -> None:
    meal = example_programs()[0]
    dearer = dataclasses.replace(meal, benefit=dataclasses.replace(meal.benefit, amount_vnd=1))

    assert meal.same_content(dataclasses.replace(meal, version=7))
    assert not meal.same_content(dearer)


def test_a_program_reports_every_problem_at_once() -> None:
    meal = example_programs()[0]
    broken = dataclasses.replace(
        meal,
        code="meal",
        valid_to=dt.date(2020, 1, 1),
        benefit=Benefit(BenefitKind.PER_DAY, 0, "case.days +", 10),
        clauses=(
            Clause("ok", "", "true"),
            Clause("ok", "", "unknown_root > 1"),
            Clause("age", "", "beneficiary.age"),
        ),
    )

    with pytest.raises(InvalidInput) as info:
        validate_program(broken)

    assert [(v.field, v.reason) for v in info.value.violations] == [
        ("program.code", "CODE_INVALID"),
        ("program.valid_to", "PERIOD_INVALID"),
        ("program.benefit.amount_vnd", "AMOUNT_INVALID"),
        ("program.benefit.quantity_expression", "EXPRESSION_INVALID"),
        ("program.clauses[1].name", "CLAUSE_NAME_DUPLICATE"),
        ("program.clauses[1].expression", "FACT_UNKNOWN"),
        ("program.clauses[2].expression", "EXPRESSION_NOT_BOOLEAN"),
    ]


def test_a_day_count_must_be_a_whole_number() -> None:
    meal = example_programs()[0]
    yes_no = dataclasses.replace(
        meal, benefit=dataclasses.replace(meal.benefit, quantity_expression="case.ever_f0")
    )

    with pytest.raises(InvalidInput) as info:
        validate_program(yes_no)

    assert [(v.field, v.reason) for v in info.value.violations] == [
        ("program.benefit.quantity_expression", "QUANTITY_NOT_INT")
    ]
