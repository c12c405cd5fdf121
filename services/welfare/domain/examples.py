"""Example programs modelled on the 2021 COVID-19 support policies.

EXAMPLES, not the law: the real rules and amounts changed over time and by province
(Resolution 68/NQ-CP, Decision 23/2021/QĐ-TTg and local resolutions). The amounts are
parameters so a deployment can seed its own; the programs are marked ``example``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.welfare.domain.model import (
    BeneficiaryKind,
    Benefit,
    BenefitKind,
    Clause,
    Program,
)

MEAL_SUPPORT = "MEAL_SUPPORT_F0_F1"
CHILD_F0_F1 = "CHILD_F0_F1_ONE_TIME"
FUNERAL = "COVID_FUNERAL_SUPPORT"
ORPHAN_MONTHLY = "ORPHAN_MONTHLY_SUPPORT"

# Resolution 68/NQ-CP was issued on 1 July 2021. The real policies ended; the examples stay
# open-ended so that cases can be opened against them today (a deployment publishes its own
# periods with PublishProgram).
VALID_FROM = dt.date(2021, 7, 1)

_FACILITY_DAYS = 'case.days_in_care["HOSPITAL"] + case.days_in_care["CENTRALISED_QUARANTINE"]'
_ALIVE = Clause("beneficiary_alive", "the beneficiary is alive", "beneficiary.alive")
_COVID_DEATH = Clause(
    "died_of_covid19", "the deceased died of COVID-19", 'death.recorded && death.cause == "COVID19"'
)


@dataclass(frozen=True)
class ExampleAmounts:
    """VND; the defaults are the national 2021 figures the examples imitate."""

    meal_per_day: int = 80_000
    meal_max_days: int = 45
    child_one_time: int = 1_000_000
    funeral_one_time: int = 10_000_000
    orphan_monthly: int = 1_000_000
    orphan_until_age: int = 18


def example_programs(amounts: ExampleAmounts | None = None) -> list[Program]:
    a = amounts or ExampleAmounts()
    return [
        Program(
            code=MEAL_SUPPORT,
            version=0,
            name="Meal support for F0/F1 in treatment or centralised quarantine (example)",
            legal_basis="Example modelled on Resolution 68/NQ-CP (2021), section II.5",
            valid_from=VALID_FROM,
            valid_to=None,
            benefit=Benefit(
                BenefitKind.PER_DAY,
                a.meal_per_day,
                quantity_expression=_FACILITY_DAYS,
                max_units=a.meal_max_days,
            ),
            beneficiary=BeneficiaryKind.SELF,
            clauses=(
                Clause("was_f0_or_f1", "the resident was F0 or F1", "case.ever_f0 || case.ever_f1"),
                Clause(
                    "treated_or_quarantined",
                    "the resident spent days in hospital or centralised quarantine",
                    _FACILITY_DAYS + " > 0",
                ),
                _ALIVE,
            ),
            example=True,
        ),
        Program(
            code=CHILD_F0_F1,
            version=0,
            name="One-time support for children who were F0/F1 (example)",
            legal_basis="Example modelled on Resolution 68/NQ-CP (2021), section II.6",
            valid_from=VALID_FROM,
            valid_to=None,
            benefit=Benefit(BenefitKind.ONE_TIME, a.child_one_time),
            beneficiary=BeneficiaryKind.SELF,
            clauses=(
                Clause("under_16", "the resident is under 16", "beneficiary.age < 16"),
                Clause("was_f0_or_f1", "the resident was F0 or F1", "case.ever_f0 || case.ever_f1"),
                _ALIVE,
            ),
            example=True,
        ),
        Program(
            code=FUNERAL,
            version=0,
            name="Funeral support for a death from COVID-19 (example)",
            legal_basis="Example modelled on provincial resolutions of 2021",
            valid_from=VALID_FROM,
            valid_to=None,
            benefit=Benefit(BenefitKind.ONE_TIME, a.funeral_one_time),
            beneficiary=BeneficiaryKind.SURVIVOR,
            clauses=(
                _COVID_DEATH,
                Clause(
                    "close_family",
                    "the beneficiary is the spouse, a child or a parent of the deceased",
                    'relationship in ["SPOUSE", "CHILD", "PARENT"]',
                ),
                Clause(
                    "first_claim",
                    "no other survivor has claimed it",
                    "other_beneficiaries == 0",
                ),
                _ALIVE,
            ),
            example=True,
        ),
        Program(
            code=ORPHAN_MONTHLY,
            version=0,
            name="Monthly support for a child orphaned by COVID-19 (example)",
            legal_basis="Example modelled on Resolution 68/NQ-CP as amended by Resolution 126",
            valid_from=VALID_FROM,
            valid_to=None,
            benefit=Benefit(BenefitKind.MONTHLY, a.orphan_monthly, until_age=a.orphan_until_age),
            beneficiary=BeneficiaryKind.SURVIVOR,
            clauses=(
                _COVID_DEATH,
                Clause(
                    "child_of_deceased",
                    "the beneficiary is a child of the deceased",
                    'relationship == "CHILD"',
                ),
                Clause("orphaned", "every parent of the child is deceased", "orphan"),
                Clause(
                    "under_age",
                    f"the child is under {a.orphan_until_age}",
                    f"beneficiary.age < {a.orphan_until_age}",
                ),
                _ALIVE,
            ),
            example=True,
        ),
    ]
