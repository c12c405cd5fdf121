"""The alerts service's one table from domain error to gRPC status."""

from __future__ import annotations

import grpc

from services.alerts.ports import CaseStatusUnavailable, RegistryUnavailable
from services.kit.grpc_errors import DEFAULT_ERROR_TABLE, ErrorTable

# The shared categories, plus the services it asks being down: UNAVAILABLE tells callers (and
# gRPC retry policies, and the workflows delivering events) to send the same request again.
ERROR_TABLE: ErrorTable = {
    **DEFAULT_ERROR_TABLE,
    RegistryUnavailable: grpc.StatusCode.UNAVAILABLE,
    CaseStatusUnavailable: grpc.StatusCode.UNAVAILABLE,
}
ERROR_DOMAIN = "alerts.dancu"
