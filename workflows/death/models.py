"""What goes in and out of the COVID-19 death workflow (dataclasses; evolve by adding defaulted
fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

WORKFLOW = "CovidDeath"
# A further report of the same death (signal-with-start by the starter).
REPORT = "report"
# An officer's answer to a conflicting report (update).
RESOLVE = "resolve_conflict"


def workflow_id(citizen_id: str) -> str:
    """One process per deceased resident: a second report joins it instead of starting
    another."""
    return f"covid-death-{citizen_id}"


@dataclass
class DeathReport:
    citizen_id: str
    # The day of death (ISO date, Vietnam).
    death_date: str
    # The cause as reported (free text; the registry records the cause COVID-19 with it).
    cause: str
    # Who reported it (a hospital, a health agency) and their reference for the report.
    reporting_agency: str
    report_ref: str
    # Place of death (hospital, facility or address), when reported.
    place: str = ""


@dataclass
class Resolution:
    """An officer's decision on a conflicting report: go on with the first report, or stop."""

    officer: str
    proceed: bool
    reason: str


@dataclass
class Survivor:
    citizen_id: str
    relationship: str
    alive: bool


@dataclass
class SurvivorCheck:
    """The activity's input: one survivor checked against the survivor programs."""

    beneficiary_citizen_id: str
    deceased_citizen_id: str


@dataclass
class CaseToOpen:
    program_code: str
    beneficiary_citizen_id: str
    subject_citizen_id: str
    request_id: str


@dataclass
class OpenedCase:
    case_id: str
    program_code: str
    beneficiary_citizen_id: str
    subject_citizen_id: str
    amount_vnd: int
    opened_by: str
    assessed_by: str
    units: int = 1


@dataclass
class DeathToRecord:
    """The input of the case-status and registry activities."""

    report: DeathReport
    request_id: str
    # When the outcome takes effect (ISO 8601 with offset).
    effective_time: str = ""


@dataclass
class DeathProgress:
    citizen_id: str
    # The step running or the last one: verifying, recording_outcome, registering_death,
    # finding_survivors, checking_survivors, opening_cases, handing_over, awaiting_review,
    # done, stopped.
    step: str
    # What happened, in order (one line per step).
    events: list[str] = field(default_factory=list)
    reports_received: int = 1
    # Reports that disagree with the first one (death date or cause): kept for review.
    conflicting_reports: list[DeathReport] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    benefit_cases: list[str] = field(default_factory=list)


@dataclass
class DeathRecorded:
    citizen_id: str
    # DONE, STOPPED (an officer stopped it over a conflicting report) or REFUSED (a service
    # refused a step for good: the reason is in ``reason``).
    outcome: str
    reason: str = ""
    benefit_cases: list[str] = field(default_factory=list)


@dataclass
class CivilStatusSeen:
    """What the registry holds for the reported resident."""

    alive: bool
    death_date: str = ""
    death_cause: str = ""


@dataclass
class SlaPolicy:
    """The benefit cases' service level, from the worker's configuration."""

    remind_after_seconds: int
    escalate_after_seconds: int
