"""Domain errors to gRPC statuses with ``google.rpc`` details (AIP-193).

Every handler runs inside ``ErrorInterceptor``: a ``DomainError`` becomes its mapped status
with an ``ErrorInfo`` (stable reason) and, for bad input, a ``BadRequest`` listing each field
violation. Anything unexpected becomes INTERNAL with a fixed message and is logged with its
trace id, so no stack trace or personal data ever reaches the caller.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.kit.errors import (
    AlreadyExists,
    ConcurrentChange,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from services.kit.grpc_types import Context, Continuation, MethodHandler
from services.kit.handler_wrapping import inner_behaviours, rebuild

logger = logging.getLogger(__name__)

ErrorTable = Mapping[type[DomainError], grpc.StatusCode]

# The categories every service shares; a service's api/errors.py may extend it with its own
# subclasses when one needs a different status.
DEFAULT_ERROR_TABLE: ErrorTable = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    PreconditionFailed: grpc.StatusCode.FAILED_PRECONDITION,
    ConcurrentChange: grpc.StatusCode.ABORTED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
}


def status_for(error: DomainError, code: grpc.StatusCode, domain: str) -> grpc.Status:
    """The rich status for ``error``: ErrorInfo always, BadRequest for invalid input."""
    details = []
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=domain))
    details.append(info)
    if isinstance(error, InvalidInput):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description, reason=v.reason
                )
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=_code_number(code), message=error.message, details=details)
    )
    return status


def _code_number(code: grpc.StatusCode) -> int:
    value: int = code.value[0]
    return value


def _lookup(table: ErrorTable, error: DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return grpc.StatusCode.INTERNAL


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, table: ErrorTable, domain: str) -> None:
        self._table = table
        self._domain = domain

    async def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        inner_unary, inner_stream = inner_behaviours(handler)
        method = handler_call_details.method

        async def unary(request: Any, context: Context) -> Any:
            try:
                return await inner_unary(request, context)
            except DomainError as error:
                await self._abort(context, error)
            except Exception as error:
                await _internal(context, method, error)

        async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
            try:
                async for item in inner_stream(request, context):
                    yield item
            except DomainError as error:
                await self._abort(context, error)
            except Exception as error:
                await _internal(context, method, error)

        return rebuild(handler, unary, stream)

    async def _abort(self, context: Context, error: DomainError) -> None:
        status = status_for(error, _lookup(self._table, error), self._domain)
        await context.abort(status.code, status.details, status.trailing_metadata)


async def _internal(context: Context, method: str, error: Exception) -> None:
    # context.abort() raises to unwind the handler; those must pass through untouched.
    if isinstance(error, grpc.aio.AbortError) or context.done():
        raise error
    logger.exception("unexpected error serving %s", method)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


__all__ = ["DEFAULT_ERROR_TABLE", "ErrorInterceptor", "ErrorTable", "status_for"]
