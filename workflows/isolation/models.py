"""What goes in and out of the isolation follow-up (dataclasses; evolve by adding defaulted
fields)."""

from __future__ import annotations

from dataclasses import dataclass

WORKFLOW = "IsolationFollowUp"
RESCHEDULE = "reschedule"
STOP = "stop"


def workflow_id(citizen_id: str) -> str:
    """One follow-up per resident: a new period reschedules it instead of starting another."""
    return f"isolation-{citizen_id}"


@dataclass
class IsolationPeriod:
    citizen_id: str
    # The last day of isolation (ISO date, Vietnam), as case status computed it.
    isolation_end: str
    # The status event that set it (for the record).
    event_id: str = ""


@dataclass
class PeriodEnded:
    """The activity's input: the period that ran out, and when (ISO 8601 with offset: the
    start of the day after ``isolation_end`` in Vietnam)."""

    citizen_id: str
    isolation_end: str
    ended_at: str


@dataclass
class FollowUpResult:
    citizen_id: str
    isolation_end: str
    # CLEARED: the contact's quarantine completed and was recorded. AWAITS_DISCHARGE: an F0's
    # isolation ended; recovery is a clinical decision left to the health agency.
    # SUPERSEDED: case status shows another period or an outcome (nothing to do). STOPPED: the
    # period was withdrawn before it ended.
    outcome: str
