"""gRPC server bootstrap shared by every service.

One stack for all: tracing, per-method metrics, authentication and authorisation, error
mapping, the standard health service and reflection. Shutdown is graceful: health turns
NOT_SERVING first so load balancers stop routing, then in-flight calls get ``grace`` seconds
to finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.metrics import MeterProvider

from services.kit.auth import AuthInterceptor, Policy, TokenVerifier
from services.kit.config import ServerTls
from services.kit.grpc_errors import ErrorInterceptor, ErrorTable
from services.kit.rpc_metrics import RpcMetricsInterceptor
from services.kit.telemetry import server_interceptor as tracing_interceptor

logger = logging.getLogger(__name__)

# Adds a servicer to a server, e.g. a closure over add_RegistryServiceServicer_to_server.
Registration = Callable[[grpc.aio.Server], None]

MAX_MESSAGE_BYTES = 32 * 1024 * 1024


class Server:
    """A started gRPC server with its health service; ``stop()`` shuts it down gracefully."""

    def __init__(
        self,
        *,
        registrations: Iterable[Registration],
        service_names: Sequence[str],
        verifier: TokenVerifier,
        policy: Policy,
        error_table: ErrorTable,
        error_domain: str,
        address: str,
        meter_provider: MeterProvider | None = None,
        tls: ServerTls | None = None,
    ) -> None:
        self._server = grpc.aio.server(
            interceptors=[
                tracing_interceptor(),
                RpcMetricsInterceptor(meter_provider),
                AuthInterceptor(verifier, policy),
                ErrorInterceptor(error_table, error_domain),
            ],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        for register in registrations:
            register(self._server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._service_names = tuple(service_names)
        reflection.enable_server_reflection(
            (*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server
        )
        # Health and reflection are served on the same port, so with TLS on, probes and grpcurl
        # speak TLS too (and with a client CA, present a certificate).
        if tls is None:
            self.port = self._server.add_insecure_port(address)
        else:
            self.port = self._server.add_secure_port(address, _credentials(tls))
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")

    async def start(self) -> None:
        await self._server.start()
        for name in ("", *self._service_names):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float, drain_delay: float = 0.0) -> None:
        """NOT_SERVING first; after ``drain_delay`` (time for load balancers to see it) the
        server refuses new calls and in-flight ones get ``grace`` seconds to finish."""
        await self._health.enter_graceful_shutdown()
        if drain_delay > 0:
            await asyncio.sleep(drain_delay)
        await self._server.stop(grace)

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()


def _credentials(tls: ServerTls) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(tls.private_key, tls.certificate_chain)],
        root_certificates=tls.client_ca,
        require_client_auth=tls.client_ca is not None,
    )


async def serve_until_signalled(server: Server, grace: float, drain_delay: float = 0.0) -> None:
    """Runs ``server`` until SIGTERM or SIGINT, then shuts it down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    logger.info(
        "shutting down: NOT_SERVING for %.1fs, then draining up to %.1fs", drain_delay, grace
    )
    await server.stop(grace, drain_delay)
