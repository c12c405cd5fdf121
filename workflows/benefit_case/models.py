"""What goes in and out of the benefit-case workflow (dataclasses; evolve by adding defaulted
fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

WORKFLOW = "BenefitCase"
ASSIGN = "assign"
DECIDE = "decide"
REQUEST_DOCUMENTS = "request_documents"
# The case is withdrawn (a revoked death): stop waiting, pay nothing more (signal).
WITHDRAW = "withdraw"
# Marks the runs that pay a monthly case month by month (workflow.patched): a run recorded
# before it paid the first period only.
MONTHLY_PAYMENTS = "monthly-payments"
# A monthly case continues as new after this many payments in one run, which bounds the
# history (a sixteen-year support has 192 payments).
PAYMENTS_PER_RUN = 12

# Service level: the assignee is reminded after REMIND_AFTER without a decision, a
# supervisor is told after ESCALATE_AFTER (both from the case's opening).
REMIND_AFTER_SECONDS = 3 * 24 * 3600
ESCALATE_AFTER_SECONDS = 7 * 24 * 3600


def workflow_id(case_id: str) -> str:
    return f"benefit-case-{case_id}"


@dataclass
class CaseOpened:
    case_id: str
    program_code: str
    beneficiary_citizen_id: str
    subject_citizen_id: str
    amount_vnd: int
    # Who opened and assessed the case: neither may decide it (maker-checker).
    opened_by: str
    assessed_by: str
    # Payments the case makes: the months of a monthly benefit, 1 otherwise.
    units: int = 1
    remind_after_seconds: int = REMIND_AFTER_SECONDS
    escalate_after_seconds: int = ESCALATE_AFTER_SECONDS
    payments_per_run: int = PAYMENTS_PER_RUN
    # Set when a run continues as new while paying a monthly case: where the last run was.
    resume: CaseProgress | None = None


@dataclass
class Assignment:
    """An officer's assignment, forwarded by the welfare API (services/welfare/adapters/
    case_workflows.py mirrors these fields)."""

    officer: str
    assignee: str
    # The officer's agency, and their call to welfare as welfare identifies it (request id,
    # fingerprint): the act's record in welfare names the agency and answers the call's
    # retries. Empty when the act did not come through welfare.
    agency: str = ""
    request_id: str = ""
    request_fingerprint: str = ""


@dataclass
class Decision:
    """An officer's approval or rejection, forwarded by the welfare API."""

    officer: str
    approve: bool
    reason: str
    agency: str = ""
    request_id: str = ""
    request_fingerprint: str = ""


@dataclass
class DocumentsRequest:
    officer: str
    documents: list[str]
    reason: str
    agency: str = ""
    request_id: str = ""
    request_fingerprint: str = ""


@dataclass
class ActToRecord:
    """The ``record_act`` activity's input: an officer's act the workflow accepted, recorded
    in welfare in the officer's name (RecordBenefitCaseAct)."""

    case_id: str
    # <workflow id>:<update id>: a retried activity, or a replay, records the act once.
    request_id: str
    officer: str
    agency: str
    # ASSIGN or DECIDE.
    kind: str
    assignee: str = ""
    approve: bool = False
    reason: str = ""
    officer_request_id: str = ""
    officer_request_fingerprint: str = ""


@dataclass
class Expected:
    """The ``confirm_case`` activity's input: what welfare must show after an officer's act."""

    case_id: str
    state: str
    assignee: str = ""
    decided_by: str = ""


@dataclass
class Withdrawal:
    case_id: str
    reason: str
    request_id: str


@dataclass
class Notice:
    """A reminder or an escalation, as the ``notify_officers`` activity hands it on."""

    case_id: str
    kind: str
    recipient: str
    overdue_seconds: int


@dataclass
class Disbursement:
    case_id: str
    program_code: str
    beneficiary_citizen_id: str
    subject_citizen_id: str
    payment_reference: str
    request_id: str
    # 1-based; a one-time case has only 1.
    period: int = 1


@dataclass
class CaseProgress:
    case_id: str
    # OPEN, IN_REVIEW, APPROVED, REJECTED, PAID, PAYMENT_BLOCKED, WITHDRAWN or STOPPED. A
    # monthly case is PAID from its first payment on; `periods_paid` says how far.
    state: str
    assignee: str = ""
    decided_by: str = ""
    reminders: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    documents_requested: list[str] = field(default_factory=list)
    # The latest payment's reference.
    payment_reference: str = ""
    # What happened, in order.
    events: list[str] = field(default_factory=list)
    periods_paid: int = 0
    # When the next monthly payment is due (ISO 8601, Vietnam time); "" when none is.
    next_payment_at: str = ""
    # Runs of the workflow before this one (each continue-as-new adds one).
    earlier_runs: int = 0


@dataclass
class CaseClosed:
    case_id: str
    # REJECTED, PAID, PAYMENT_BLOCKED, WITHDRAWN or STOPPED (a monthly case that stopped
    # paying before its last period: withdrawn, or no longer eligible).
    state: str
    payment_reference: str = ""
    reason: str = ""
