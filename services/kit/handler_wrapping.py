"""Rebuilding a gRPC method handler around new behaviour, for server interceptors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from services.kit.grpc_types import Context, MethodHandler

UnaryBehaviour = Callable[[Any, Context], Awaitable[Any]]
StreamBehaviour = Callable[[Any, Context], AsyncIterator[Any]]


def inner_behaviours(handler: MethodHandler) -> tuple[UnaryBehaviour, StreamBehaviour]:
    """The handler's own function, as (returns one response, yields responses)."""
    # grpc's stubs type handlers as synchronous; under grpc.aio they are coroutine functions
    # and async generators.
    unary: Any = handler.unary_unary or handler.stream_unary
    stream: Any = handler.unary_stream or handler.stream_stream
    return unary, stream


def rebuild(
    handler: MethodHandler, unary: UnaryBehaviour, stream: StreamBehaviour
) -> MethodHandler:
    """A handler of the same shape and serializers as ``handler`` running the given behaviour."""
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary, **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream, **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary, **kwargs)
    return grpc.stream_stream_rpc_method_handler(stream, **kwargs)
