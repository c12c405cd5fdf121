"""Client channels to other services: a deadline on every call, retries only where safe.

Retries are enabled by gRPC service config for the methods the caller names as idempotent
(reads, and mutations carrying a request_id), on UNAVAILABLE only: a call that may have taken
effect is never blindly repeated unless the server deduplicates it.

Every call carries the caller's trace context, so one trace runs through all the services a
request touches.

Channels are TLS when the process is given the CA of the services' certificates
(``DANCU_TLS_CA_FILE``), and present the process's own certificate when it has one (mutual
TLS): read from the environment once per process, so every caller gets it unasked.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc

from services.kit.config import ClientTls, Env
from services.kit.telemetry import client_interceptors

DEFAULT_DEADLINE_SECONDS = 10.0


class _DeadlineInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        if client_call_details.timeout is None:
            client_call_details = grpc.aio.ClientCallDetails(
                method=client_call_details.method,
                timeout=self._seconds,
                metadata=client_call_details.metadata,
                credentials=client_call_details.credentials,
                wait_for_ready=client_call_details.wait_for_ready,
            )
        return await continuation(client_call_details, request)


class _TokenCredentials(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call; ``token`` is asked each time so
    short-lived tokens can be renewed underneath."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        metadata.add("authorization", f"Bearer {self._token()}")
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout,
            metadata=metadata,
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def retry_service_config(service: str, idempotent_methods: Iterable[str]) -> str:
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": service, "method": m} for m in idempotent_methods],
                    "retryPolicy": {
                        "maxAttempts": 4,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "2s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


@functools.cache
def client_tls() -> ClientTls | None:
    """This process's client TLS settings; None: plaintext. Raises ConfigError when they are
    incomplete, so a process calls it at start-up to refuse to start rather than fail later."""
    return ClientTls.from_env(Env())


def open_channel(
    target: str,
    *,
    token: Callable[[], str] | None = None,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    service_config: str | None = None,
) -> grpc.aio.Channel:
    # Tracing first: its span covers the whole call, and the metadata it adds is kept by the
    # interceptors after it.
    interceptors: list[grpc.aio.ClientInterceptor] = [
        *client_interceptors(),
        _DeadlineInterceptor(deadline_seconds),
    ]
    if token is not None:
        interceptors.append(_TokenCredentials(token))
    options: list[tuple[str, Any]] = [("grpc.max_receive_message_length", 32 * 1024 * 1024)]
    if service_config is not None:
        options += [("grpc.service_config", service_config), ("grpc.enable_retries", 1)]
    tls = client_tls()
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    if tls.server_name is not None:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls.root_certificates,
        private_key=tls.private_key,
        certificate_chain=tls.certificate_chain,
    )
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)
