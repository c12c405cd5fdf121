"""Welfare's one table from domain error to gRPC status."""

from __future__ import annotations

import grpc

from services.kit.grpc_errors import DEFAULT_ERROR_TABLE, ErrorTable
from services.welfare.ports import CaseWorkflowUnavailable, FactsUnavailable

# The shared categories, plus the registry, case status or Temporal being down: UNAVAILABLE
# tells callers (and gRPC retry policies) that the same request may simply be sent again.
ERROR_TABLE: ErrorTable = {
    **DEFAULT_ERROR_TABLE,
    FactsUnavailable: grpc.StatusCode.UNAVAILABLE,
    CaseWorkflowUnavailable: grpc.StatusCode.UNAVAILABLE,
}
ERROR_DOMAIN = "welfare.dancu"
