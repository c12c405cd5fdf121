"""Container health check: exit 0 when a gRPC server's health service answers SERVING.

    python healthcheck.py HOST:PORT [SERVICE]

Each dancu service serves ``grpc.health.v1.Health`` without authentication; the Temporal
frontend serves it too (service ``temporal.api.workflowservice.v1.WorkflowService``). Standard
library and grpcio only, which the image already has, so no probe binary is needed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT_SECONDS = 3.0


def check(address: str, service: str = "", timeout: float = TIMEOUT_SECONDS) -> int:
    request = health_pb2.HealthCheckRequest(service=service)
    try:
        with grpc.insecure_channel(address) as channel:
            response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=timeout)
    except grpc.RpcError as error:
        code = error.code() if isinstance(error, grpc.Call) else None
        print(f"{address}: health check failed: {code.name if code else error}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"{address}: {status}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: healthcheck.py HOST:PORT [SERVICE]", file=sys.stderr)
        return 64
    return check(argv[0], argv[1] if len(argv) == 2 else "")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
