"""The services, as activities call them: over gRPC with the worker's service token.

Errors are mapped once, here: a refusal that a retry cannot change (INVALID_ARGUMENT,
NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS, PERMISSION_DENIED, UNAUTHENTICATED) becomes a
non-retryable ``ApplicationError`` whose type is the status code's name (the names workflows'
retry policies list) and whose message and details are the service's stable reason; anything else
(UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED...) is raised as it is and retried by Temporal.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2
from temporalio.exceptions import ApplicationError

from workflows.retries import NON_RETRYABLE

FINAL = frozenset(grpc.StatusCode[name] for name in NON_RETRYABLE)


def reason_of(error: grpc.aio.AioRpcError) -> str:
    """The stable reason of the service's ErrorInfo, else the status code's name."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return str(info.reason)
    return error.code().name


def final_or_retry(error: grpc.aio.AioRpcError) -> Exception:
    """What an activity raises for ``error``."""
    if error.code() in FINAL:
        return ApplicationError(
            reason_of(error), reason_of(error), type=error.code().name, non_retryable=True
        )
    return error
