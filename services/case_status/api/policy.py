"""Which roles may call which case-status RPC. Anything not listed is refused.

Roles:
- health_agency: records statuses and contacts, reads cases, declares and ends zones
  (nationwide tokens).
- ward_police: reads cases and traces contacts of residents living in their wards, records
  contacts touching their wards (the ward rule is in use_cases).
- service: other dancu services and workflows.

Daily list imports (whole or staged), their results and their review: health agencies and
services for any ward; ward police for lists of their own wards only (the ward rule is in
use_cases).
"""

from __future__ import annotations

from services.kit.auth import Policy

_SERVICE = "/dancu.case_status.v1.CaseStatusService/"

HEALTH_AGENCY = "health_agency"
WARD_POLICE = "ward_police"
SERVICE = "service"

POLICY: Policy = {
    _SERVICE + "RecordStatus": frozenset({HEALTH_AGENCY, SERVICE}),
    _SERVICE + "RecordContacts": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "GetCaseStatus": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "TraceContacts": frozenset({WARD_POLICE, SERVICE}),
    # Ward police: ListCases of one of their wards, CountCases of their wards only.
    _SERVICE + "ListCases": frozenset({HEALTH_AGENCY, WARD_POLICE}),
    _SERVICE + "CountCases": frozenset({HEALTH_AGENCY, WARD_POLICE}),
    _SERVICE + "RefreshResidence": frozenset({SERVICE}),
    _SERVICE + "DeclareZone": frozenset({HEALTH_AGENCY, SERVICE}),
    _SERVICE + "EndZone": frozenset({HEALTH_AGENCY, SERVICE}),
    # Ward police: the zone's wards that are theirs only (the rule is in use_cases).
    _SERVICE + "ListResidentsInZone": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "ImportCaseList": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "ListImportResults": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "ResolveImportRow": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    # Staged imports: staged by whoever may import the list, applied and completed by the
    # ListImport workflow (service) or by the same callers (the ward rule is in use_cases).
    _SERVICE + "StageImport": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "StageImportRows": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "ApplyImportChunk": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
    _SERVICE + "CompleteImport": frozenset({HEALTH_AGENCY, WARD_POLICE, SERVICE}),
}
