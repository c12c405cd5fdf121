"""Per-method RPC metrics for every service: how long calls take and how many fail, by code.

The interceptor sits outermost in the server stack so that what it counts is what the caller
got: refusals by the authorisation layer and errors mapped to statuses included. Attributes
are the method's full name and the status code's name only; nothing from a request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import metrics

from services.kit.grpc_types import Context, MethodHandler
from services.kit.handler_wrapping import inner_behaviours, rebuild

METHOD = "rpc.method"
STATUS_CODE = "rpc.grpc.status_code"
# From a cached read (under a millisecond) to a large import (tens of seconds).
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


def _status(context: Context, error: BaseException | None) -> grpc.StatusCode:
    """The status the caller receives: set by an abort or ``set_code``; otherwise OK, or
    UNKNOWN when the handler raised (grpc's own answer to an unhandled exception)."""
    code: Any = context.code()
    if isinstance(code, int):
        code = next((c for c in grpc.StatusCode if c.value[0] == code), None)
    if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
        return code
    if isinstance(error, asyncio.CancelledError):
        # The caller went away (or the server is stopping) before the call ended.
        return grpc.StatusCode.CANCELLED
    if error is not None and not isinstance(error, grpc.aio.AbortError):
        return grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.OK


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = metrics.get_meter(__name__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "rpc.server.call.duration",
            unit="s",
            description="Duration of served RPCs, by method and status code",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        self._errors = meter.create_counter(
            "rpc.server.errors",
            unit="{call}",
            description="Served RPCs that ended with a status other than OK, by method and code",
        )

    def _record(self, method: str, started: float, code: grpc.StatusCode) -> None:
        attributes = {METHOD: method, STATUS_CODE: code.name}
        self._duration.record(time.perf_counter() - started, attributes)
        if code is not grpc.StatusCode.OK:
            self._errors.add(1, attributes)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[MethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        inner_unary, inner_stream = inner_behaviours(handler)

        async def unary(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                return await inner_unary(request, context)
            except BaseException as raised:
                error = raised
                raise
            finally:
                self._record(method, started, _status(context, error))

        async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                async for response in inner_stream(request, context):
                    yield response
            except BaseException as raised:
                error = raised
                raise
            finally:
                self._record(method, started, _status(context, error))

        return rebuild(handler, unary, stream)
