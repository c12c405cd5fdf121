"""Which roles may call which welfare RPC. Anything not listed is refused.

Roles:
- welfare_officer: checks eligibility, finds survivors, opens, reads, assigns, decides,
  pays and withdraws benefit cases (ward-scoped officers: their wards' residents and cases;
  the rule is in use_cases). Maker-checker is a rule on the case, not a role: the officer who
  opened or assessed a case cannot decide it.
- welfare_supervisor: everything an officer may do, and publishes programs.
- service: other dancu services and workflows (drive cases by request id). Only they record
  an act a case's workflow accepted (RecordBenefitCaseAct): an officer's acts on such a case go
  through the workflow.
"""

from __future__ import annotations

from services.kit.auth import Policy

_SERVICE = "/dancu.welfare.v1.WelfareService/"

WELFARE_OFFICER = "welfare_officer"
WELFARE_SUPERVISOR = "welfare_supervisor"
SERVICE = "service"

_STAFF = frozenset({WELFARE_OFFICER, WELFARE_SUPERVISOR})
_STAFF_AND_SERVICES = _STAFF | {SERVICE}

POLICY: Policy = {
    _SERVICE + "ListPrograms": _STAFF_AND_SERVICES,
    _SERVICE + "GetProgram": _STAFF_AND_SERVICES,
    _SERVICE + "PublishProgram": frozenset({WELFARE_SUPERVISOR}),
    _SERVICE + "CheckEligibility": _STAFF_AND_SERVICES,
    _SERVICE + "FindSurvivors": _STAFF_AND_SERVICES,
    _SERVICE + "OpenBenefitCase": _STAFF_AND_SERVICES,
    _SERVICE + "GetBenefitCase": _STAFF_AND_SERVICES,
    _SERVICE + "ListBenefitCases": _STAFF,
    _SERVICE + "AssignBenefitCase": _STAFF,
    _SERVICE + "DecideBenefitCase": _STAFF_AND_SERVICES,
    _SERVICE + "RequestBenefitCaseDocuments": _STAFF,
    _SERVICE + "RecordBenefitCaseAct": frozenset({SERVICE}),
    _SERVICE + "RecordPayment": _STAFF_AND_SERVICES,
    _SERVICE + "WithdrawBenefitCase": _STAFF_AND_SERVICES,
}
