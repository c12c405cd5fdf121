"""Which roles may call which alerts RPC. Anything not listed is refused.

Roles:
- checkpoint: a checkpoint's operators; they scan, and learn PASS or WARN only.
- ward_police: register checkpoints in their wards; receive, acknowledge and verify the
  alerts of their wards; trace from scans at their wards' checkpoints (the ward rules are in
  use_cases).
- health_agency: counts, review items, tracing from scans.
- service: other dancu services and workflows (the case-status and
  registry residence events arrive this way).
"""

from __future__ import annotations

from services.kit.auth import Policy

_SERVICE = "/dancu.alerts.v1.AlertsService/"

CHECKPOINT = "checkpoint"
WARD_POLICE = "ward_police"
HEALTH_AGENCY = "health_agency"
SERVICE = "service"

POLICY: Policy = {
    _SERVICE + "RegisterCheckpoint": frozenset({WARD_POLICE, SERVICE}),
    _SERVICE + "Scan": frozenset({CHECKPOINT}),
    _SERVICE + "ApplyStatusChange": frozenset({SERVICE}),
    _SERVICE + "ApplyResidenceChange": frozenset({SERVICE}),
    _SERVICE + "ListAlerts": frozenset({WARD_POLICE, SERVICE}),
    _SERVICE + "WatchAlerts": frozenset({WARD_POLICE, SERVICE}),
    _SERVICE + "AcknowledgeAlert": frozenset({WARD_POLICE}),
    _SERVICE + "VerifyAlert": frozenset({WARD_POLICE}),
    _SERVICE + "ListReviewItems": frozenset({WARD_POLICE, HEALTH_AGENCY, SERVICE}),
    _SERVICE + "SummarizeAlerts": frozenset({WARD_POLICE, HEALTH_AGENCY, SERVICE}),
    _SERVICE + "ListScans": frozenset({WARD_POLICE, HEALTH_AGENCY, SERVICE}),
    _SERVICE + "FindCoPresence": frozenset({WARD_POLICE, HEALTH_AGENCY, SERVICE}),
}
