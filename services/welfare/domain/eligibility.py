"""Eligibility rules in CEL, evaluated clause by clause so that every answer says why.

A program's rule is a list of named clauses, each a CEL boolean expression over the facts
(``domain/facts.py``); the program is eligible when all of them hold. Each clause is
evaluated on its own and reported with the facts it referenced and their values. Before the
program's own clauses comes the built-in ``program_in_force``: the assessment day falls in
the program's validity period.

CEL (cel-python) is side-effect free and total over plain values: a rule cannot loop, call
out or change anything, which is what lets programs be data an official publishes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError
from lark import Token, Tree

from services.kit.errors import FieldViolation, InvalidInput
from services.welfare.domain.facts import FACT_ROOTS, sample_facts
from services.welfare.domain.model import (
    Assessment,
    BenefitKind,
    ClauseResult,
    Entitlement,
    FactValue,
    Program,
)

IN_FORCE = "program_in_force"
MISSING = "<missing>"
_ABSENT = object()
CLAUSE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PROGRAM_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
MAX_CLAUSES = 32
MAX_EXPRESSION_LENGTH = 2000
MAX_AMOUNT_VND = 10_000_000_000

_ENVIRONMENT = celpy.Environment()


class RuleError(Exception):
    """A clause or quantity expression that does not parse or does not evaluate."""


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> tuple[Any, tuple[str, ...]]:
    """The runnable program of an expression and the fact paths it references."""
    try:
        tree = _ENVIRONMENT.compile(expression)
    except CELParseError as error:
        raise RuleError("does not parse as CEL") from error
    return _ENVIRONMENT.program(tree), tuple(dict.fromkeys(_paths(tree)))


def _path(node: Tree[Token] | Token) -> str | None:
    """The dotted name a member expression denotes (``beneficiary.age``), else None."""
    if isinstance(node, Token):
        return None
    if node.data == "member_dot" and isinstance(node.children[1], Token):
        parent = _path(node.children[0])
        return f"{parent}.{node.children[1]}" if parent else None
    if node.data in ("member", "primary") and len(node.children) == 1:
        return _path(node.children[0])
    if node.data == "ident" and isinstance(node.children[0], Token):
        return str(node.children[0])
    return None


def _paths(node: Tree[Token] | Token) -> list[str]:
    """Every outermost dotted name in the expression, in reading order (comprehension
    variables included: callers keep those rooted in the catalogue)."""
    if isinstance(node, Token):
        return []
    if node.data in ("member_dot", "ident"):
        path = _path(node)
        if path is not None:
            return [path]
    return [p for child in node.children for p in _paths(child)]


def fact_paths(expression: str) -> tuple[str, ...]:
    """The catalogue facts an expression reads."""
    _, paths = _compiled(expression)
    return tuple(p for p in paths if p.split(".")[0] in FACT_ROOTS)


def _lookup(facts: Mapping[str, Any], path: str) -> Any:
    value: Any = facts
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _literal(value: Any) -> str:
    if value is _ABSENT:
        return MISSING
    return str(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))


def _evaluate(expression: str, facts: Mapping[str, Any]) -> Any:
    program, _ = _compiled(expression)
    activation = {name: json_to_cel(value) for name, value in facts.items()}
    try:
        return program.evaluate(activation)
    except CELEvalError as error:
        raise RuleError(_eval_problem(error)) from error


MISSING_FACT = "a referenced fact is missing"


def _eval_problem(error: CELEvalError) -> str:
    # Fixed phrases: the library's own message may quote fact values.
    cause = error.args[1] if len(error.args) > 1 else None
    if cause is KeyError:
        return MISSING_FACT
    if cause in (TypeError, ValueError):
        return "a value has the wrong type"
    if cause is ZeroDivisionError:
        return "division by zero"
    return "the expression could not be evaluated"


def evaluate_clause(
    name: str, description: str, expression: str, facts: Mapping[str, Any]
) -> ClauseResult:
    quoted = tuple(FactValue(p, _literal(_lookup(facts, p))) for p in fact_paths(expression))
    try:
        value = _evaluate(expression, facts)
    except RuleError as problem:
        return ClauseResult(name, description, expression, False, str(problem), quoted)
    if not isinstance(value, celpy.celtypes.BoolType):
        return ClauseResult(name, description, expression, False, "is not a boolean", quoted)
    return ClauseResult(name, description, expression, bool(value), "", quoted)


def _in_force(program: Program, on: dt.date) -> ClauseResult:
    period = f"{program.valid_from.isoformat()} .. {_day(program.valid_to) or 'open-ended'}"
    return ClauseResult(
        name=IN_FORCE,
        description=f"the program applies on the assessment day ({period})",
        expression="program.valid_from <= assessment.date && assessment.date <= program.valid_to",
        satisfied=program.in_force_on(on),
        error="",
        facts=(
            FactValue("assessment.date", _literal(on.isoformat())),
            FactValue("program.valid_from", _literal(program.valid_from.isoformat())),
            FactValue("program.valid_to", _literal(_day(program.valid_to))),
        ),
    )


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from the month of ``start`` to the month before ``end``'s."""
    return max((end.year - start.year) * 12 + end.month - start.month, 0)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def entitlement(
    program: Program, facts: Mapping[str, Any], birth_date: dt.date, on: dt.date
) -> Entitlement:
    """What an eligible beneficiary is owed (raises RuleError for a broken quantity)."""
    benefit = program.benefit
    unit = benefit.amount_vnd
    if benefit.kind is BenefitKind.ONE_TIME:
        return Entitlement(unit, unit, 1, 1, f"one payment of {unit:,} VND")
    if benefit.kind is BenefitKind.PER_DAY:
        value = _evaluate(benefit.quantity_expression, facts)
        if not _is_int(value):
            raise RuleError("the quantity is not an integer")
        days = max(int(value), 0)
        paid = min(days, benefit.max_units) if benefit.max_units else days
        capped = f", capped at {benefit.max_units}" if paid < days else ""
        return Entitlement(
            unit * paid, unit, paid, days, f"{paid} days{capped} × {unit:,} VND per day"
        )
    # MONTHLY: from the month after the qualifying event (the subject's death, else the
    # assessment day) to the month the beneficiary reaches the age.
    event = facts["death"]["date"] or on.isoformat()
    start = dt.date.fromisoformat(event)
    first_month = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    end = _add_years(birth_date, benefit.until_age) if benefit.until_age else None
    months = _months_between(first_month, end) if end else benefit.max_units
    paid = min(months, benefit.max_units) if benefit.max_units else months
    until = f" until age {benefit.until_age}" if benefit.until_age else ""
    capped = f", capped at {benefit.max_units}" if paid < months else ""
    return Entitlement(
        unit * paid,
        unit,
        paid,
        months,
        f"{paid} months from {first_month:%Y-%m}{until}{capped} × {unit:,} VND per month",
    )


def assess(
    program: Program,
    facts: Mapping[str, Any],
    beneficiary_id: str,
    subject_id: str,
    beneficiary_birth: dt.date,
    on: dt.date,
    *,
    in_force_on: dt.date | None = None,
) -> Assessment:
    """Every clause with its facts; the entitlement when all hold. ``in_force_on``: the day
    the validity period is checked for, when it is not ``on`` (a payment honours the period
    the case was assessed in)."""
    results = [_in_force(program, in_force_on or on)]
    results += [
        evaluate_clause(c.name, c.description, c.expression, facts) for c in program.clauses
    ]
    eligible = all(r.satisfied for r in results)
    owed = None
    if eligible:
        try:
            owed = entitlement(program, facts, beneficiary_birth, on)
        except RuleError as problem:
            results.append(
                ClauseResult(
                    "entitlement",
                    "the benefit can be computed",
                    program.benefit.quantity_expression,
                    False,
                    str(problem),
                    (),
                )
            )
            eligible = False
    return Assessment(
        program.code,
        program.version,
        beneficiary_id,
        subject_id,
        on,
        eligible,
        tuple(results),
        owed,
    )


def validate_program(program: Program) -> None:
    """Refuses a program whose rule could never be evaluated: every problem at once."""
    violations: list[FieldViolation] = []

    def bad(field: str, reason: str, description: str) -> None:
        violations.append(FieldViolation(field, reason, description))

    if not PROGRAM_CODE.match(program.code):
        bad("program.code", "CODE_INVALID", "is 2 to 64 of A-Z, 0-9 and _, starting with a letter")
    if not program.name.strip():
        bad("program.name", "NAME_REQUIRED", "is required")
    if not program.legal_basis.strip():
        bad("program.legal_basis", "LEGAL_BASIS_REQUIRED", "is required")
    if program.valid_to is not None and program.valid_to < program.valid_from:
        bad("program.valid_to", "PERIOD_INVALID", "is before valid_from")
    if not 0 < program.benefit.amount_vnd <= MAX_AMOUNT_VND:
        bad("program.benefit.amount_vnd", "AMOUNT_INVALID", "is 1 to 10,000,000,000 VND")
    if program.benefit.max_units < 0 or program.benefit.until_age < 0:
        bad("program.benefit", "LIMIT_INVALID", "limits cannot be negative")
    if not 0 < program.review_days <= 365:
        bad("program.review_days", "REVIEW_DAYS_INVALID", "is 1 to 365 days")
    sample = sample_facts()
    kind = program.benefit.kind
    if kind is BenefitKind.PER_DAY:
        _check_expression(
            program.benefit.quantity_expression,
            "program.benefit.quantity_expression",
            sample,
            bad,
            quantity=True,
        )
    if kind is BenefitKind.MONTHLY and not (program.benefit.until_age or program.benefit.max_units):
        bad("program.benefit", "PERIOD_REQUIRED", "a monthly benefit needs until_age or max_units")
    if not 1 <= len(program.clauses) <= MAX_CLAUSES:
        bad("program.clauses", "CLAUSE_COUNT", f"give 1 to {MAX_CLAUSES} clauses")
    names: set[str] = set()
    for i, clause in enumerate(program.clauses[:MAX_CLAUSES]):
        field = f"program.clauses[{i}]"
        if not CLAUSE_NAME.match(clause.name) or clause.name == IN_FORCE:
            bad(f"{field}.name", "CLAUSE_NAME_INVALID", "is lower snake case, unique")
        elif clause.name in names:
            bad(f"{field}.name", "CLAUSE_NAME_DUPLICATE", "is used by another clause")
        names.add(clause.name)
        _check_expression(clause.expression, f"{field}.expression", sample, bad)
    if violations:
        raise InvalidInput(violations)


def _is_int(value: Any) -> bool:
    return isinstance(value, celpy.celtypes.IntType) and not isinstance(
        value, celpy.celtypes.BoolType
    )


def _check_expression(
    expression: str,
    field: str,
    sample: Mapping[str, Any],
    bad: Callable[[str, str, str], None],
    *,
    quantity: bool = False,
) -> None:
    """Parses, names only catalogue facts, and gives a boolean (a clause) or an int (a
    quantity) on a sample of the catalogue."""
    if not expression.strip() or len(expression) > MAX_EXPRESSION_LENGTH:
        bad(field, "EXPRESSION_REQUIRED", f"is 1 to {MAX_EXPRESSION_LENGTH} characters")
        return
    try:
        paths = fact_paths(expression)
    except RuleError:
        bad(field, "EXPRESSION_INVALID", "does not parse as CEL")
        return
    unknown = [p for p in paths if _lookup(sample, p) is _ABSENT]
    if unknown:
        bad(field, "FACT_UNKNOWN", "names a fact the catalogue does not have: " + unknown[0])
        return
    try:
        value = _evaluate(expression, sample)
    except RuleError as problem:
        # A name outside the catalogue (comprehension variables are fine: they are bound).
        # Other failures may depend on the values (an index past an empty list), not the rule.
        if str(problem) == MISSING_FACT:
            bad(field, "FACT_UNKNOWN", "names a fact the catalogue does not have")
        return
    if quantity and not _is_int(value):
        bad(field, "QUANTITY_NOT_INT", "must give a whole number of days")
    elif not quantity and not isinstance(value, celpy.celtypes.BoolType):
        bad(field, "EXPRESSION_NOT_BOOLEAN", "must give true or false")
