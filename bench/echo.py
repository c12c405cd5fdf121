"""A bare gRPC echo, served by the same server stack as a real service: the benchmarks' ceiling.

``EchoServicer`` does no work at all. ``server_with_echo`` builds one ``services.kit.server.Server``
carrying both the service under test and the echo, with the service's own policy extended by
one line that lets the benchmark's role call ``Echo``. Both RPCs therefore pass through the very
same tracing, authentication/authorisation and error interceptors, on the same event loop, in the
same process: the difference between their throughputs is the cost of the real RPC's own work
(for GetResident: the database read, the audit row, and the conversion to protobuf).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import grpc
from dancu.bench.v1 import echo_service_pb2, echo_service_pb2_grpc

from services.kit.auth import Policy, TokenVerifier
from services.kit.grpc_errors import ErrorTable
from services.kit.grpc_types import Context
from services.kit.server import Registration, Server

SERVICE_NAME = echo_service_pb2.DESCRIPTOR.services_by_name["EchoService"].full_name
ECHO_METHOD = f"/{SERVICE_NAME}/Echo"


class EchoServicer(echo_service_pb2_grpc.EchoServiceServicer):
    """Returns the payload unchanged."""

    async def Echo(
        self, request: echo_service_pb2.EchoRequest, context: Context
    ) -> echo_service_pb2.EchoResponse:
        return echo_service_pb2.EchoResponse(payload=request.payload)


def register_echo(server: grpc.aio.Server) -> None:
    echo_service_pb2_grpc.add_EchoServiceServicer_to_server(EchoServicer(), server)


def policy_with_echo(policy: Policy, roles: Iterable[str]) -> Mapping[str, frozenset[str]]:
    """``policy`` plus ``Echo`` for ``roles``: the echo is authorised like any other RPC."""
    return {**policy, ECHO_METHOD: frozenset(roles)}


def server_with_echo(
    *,
    registrations: Iterable[Registration],
    service_names: Sequence[str],
    verifier: TokenVerifier,
    policy: Policy,
    echo_roles: Iterable[str],
    error_table: ErrorTable,
    error_domain: str,
    address: str,
) -> Server:
    """The service's ``Server``, as its composition root builds it, with the echo added."""
    return Server(
        registrations=[*registrations, register_echo],
        service_names=[*service_names, SERVICE_NAME],
        verifier=verifier,
        policy=policy_with_echo(policy, echo_roles),
        error_table=error_table,
        error_domain=error_domain,
        address=address,
    )
