"""Case status's one table from domain error to gRPC status."""

from __future__ import annotations

import grpc

from services.case_status.ports import RegistryUnavailable
from services.kit.grpc_errors import DEFAULT_ERROR_TABLE, ErrorTable

# The shared categories, plus the registry being down: UNAVAILABLE tells callers (and gRPC
# retry policies) that the same request may simply be sent again.
ERROR_TABLE: ErrorTable = {
    **DEFAULT_ERROR_TABLE,
    RegistryUnavailable: grpc.StatusCode.UNAVAILABLE,
}
ERROR_DOMAIN = "case-status.dancu"
