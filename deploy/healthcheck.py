"""Container health check: exit 0 when a gRPC server's health service answers SERVING.

    python healthcheck.py HOST:PORT [SERVICE]

Each dancu service serves ``grpc.health.v1.Health`` without authentication; the Temporal
frontend serves it too (service ``temporal.api.workflowservice.v1.WorkflowService``). Standard
library and grpcio only, which the image already has, so no probe binary is needed.

With ``DANCU_TLS_CA_FILE`` set (as in a service container whose port is TLS) the check speaks
TLS, presents ``DANCU_TLS_CERT_FILE``/``DANCU_TLS_KEY_FILE`` when set (mutual TLS) and checks
the server's certificate against ``DANCU_TLS_SERVER_NAME`` when set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT_SECONDS = 3.0


def channel(address: str, environ: Mapping[str, str] = os.environ) -> grpc.Channel:
    ca = environ.get("DANCU_TLS_CA_FILE")
    if not ca:
        return grpc.insecure_channel(address)
    cert, key = environ.get("DANCU_TLS_CERT_FILE"), environ.get("DANCU_TLS_KEY_FILE")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(ca).read_bytes(),
        private_key=Path(key).read_bytes() if cert and key else None,
        certificate_chain=Path(cert).read_bytes() if cert and key else None,
    )
    name = environ.get("DANCU_TLS_SERVER_NAME")
    options = [("grpc.ssl_target_name_override", name)] if name else []
    return grpc.secure_channel(address, credentials, options=options)


def check(address: str, service: str = "", timeout: float = TIMEOUT_SECONDS) -> int:
    request = health_pb2.HealthCheckRequest(service=service)
    try:
        with channel(address) as opened:
            response = health_pb2_grpc.HealthStub(opened).Check(request, timeout=timeout)
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
