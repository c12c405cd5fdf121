"""What goes in and out of the death correction."""

from __future__ import annotations

from dataclasses import dataclass, field

WORKFLOW = "DeathCorrection"


@dataclass
class Retraction:
    """The ``retract_deceased`` activity's input."""

    citizen_id: str
    reason: str
    request_id: str


@dataclass
class CaseWithdrawal:
    """The ``withdraw_benefit_case`` activity's input."""

    case_id: str
    reason: str
    # Used when welfare is called directly (no workflow runs the case any more).
    request_id: str


@dataclass
class DeathCorrected:
    citizen_id: str
    correction_id: str
    # The case-status event that retracted DECEASED ("" when none was recorded).
    retraction_event_id: str
    # "<case id>: <what happened>" per benefit case the death opened.
    benefit_cases: list[str] = field(default_factory=list)
