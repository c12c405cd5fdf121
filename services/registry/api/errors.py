"""The registry's one table from domain error to gRPC status."""

from __future__ import annotations

from services.kit.grpc_errors import DEFAULT_ERROR_TABLE, ErrorTable

# The registry raises only the shared categories; each maps to its AIP-193 status.
ERROR_TABLE: ErrorTable = DEFAULT_ERROR_TABLE
ERROR_DOMAIN = "registry.dancu"
