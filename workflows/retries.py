"""How activities are timed and retried, shared by every workflow and by the gateways
(temporalio and the standard library only, so that workflow code may import it)."""

from __future__ import annotations

import datetime as dt

from temporalio.common import RetryPolicy

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

# One gRPC call, whose deadline is 10 s (services.kit.channels): an attempt still running at
# 15 s is lost (its worker died) and the retry, idempotent by its request id, takes over.
CALL_TIMEOUT = dt.timedelta(seconds=15)

# Outages (UNAVAILABLE, DEADLINE_EXCEEDED, a worker gone) are retried with backoff until the
# service answers; refusals are final.
SERVICE_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(milliseconds=200),
    maximum_interval=dt.timedelta(seconds=30),
    non_retryable_error_types=list(NON_RETRYABLE),
)

# Vietnam has kept UTC+7 without daylight saving since 1975; a fixed offset keeps workflows
# free of time-zone data.
VIETNAM = dt.timezone(dt.timedelta(hours=7))
