"""Retry vocabulary shared by workflows and gateways (standard library only, so that
workflow code may import it)."""

from __future__ import annotations

# gRPC status codes whose refusal no retry can change: gateways raise them as non-retryable
# ApplicationErrors of this type, and every activity's retry policy names them.
NON_RETRYABLE = (
    "ALREADY_EXISTS",
    "FAILED_PRECONDITION",
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
)
