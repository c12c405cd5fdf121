"""A scan acknowledged is never lost: the alerts server, a process of its own, is killed
(SIGKILL: no shutdown code runs) right after answering, and the restarted server lists every
acknowledged scan."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb
from dancu.alerts.v1 import alerts_service_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit.auth import TokenIssuer, public_key_pem
from services.kit.server import Server
from tests.integration.alerts_client import (
    CHECKPOINT_OPERATOR,
    HOAN_KIEM_POLICE,
    new_checkpoint_code,
    now,
    scan_request,
    timestamp,
)
from tests.integration.registry_client import (
    HOAN_KIEM,
    SERVICE_CALLER,
    RegistryDatabase,
    new_citizen_id,
    new_request_id,
)

START_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AlertsProcess:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env = env
        self.address = f"127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "services.alerts"], env=self.env)

    async def wait_serving(self) -> None:
        async with grpc.aio.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            async with asyncio.timeout(START_SECONDS):
                while True:
                    assert self.process is not None
                    assert self.process.poll() is None, "the alerts server exited"
                    try:
                        reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                        if reply.status == health_pb2.HealthCheckResponse.SERVING:
                            return
                    except grpc.aio.AioRpcError:
                        pass
                    await asyncio.sleep(0.1)

    def kill(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def alerts_process(
    alerts_database_url: str,
    registry_server: Server,
    case_status_server: Server,
    signing_key: bytes,
    token_issuer: TokenIssuer,
) -> Iterator[AlertsProcess]:
    port = _free_port()
    env = {
        **os.environ,
        "DANCU_ALERTS_DATABASE_URL": alerts_database_url,
        "DANCU_ALERTS_PORT": str(port),
        "DANCU_ALERTS_DATABASE_POOL_SIZE": "4",
        "DANCU_AUTH_PUBLIC_KEY": public_key_pem(signing_key).decode(),
        "DANCU_ALERTS_SERVICE_TOKEN": token_issuer.issue(SERVICE_CALLER),
        "DANCU_ALERTS_REGISTRY_ADDRESS": f"127.0.0.1:{registry_server.port}",
        "DANCU_ALERTS_CASE_STATUS_ADDRESS": f"127.0.0.1:{case_status_server.port}",
        "DANCU_LOG_LEVEL": "WARNING",
    }
    running = AlertsProcess(env, port)
    try:
        yield running
    finally:
        running.stop()


async def test_acknowledged_scans_survive_a_kill_of_the_server(
    alerts_process: AlertsProcess, token_issuer: TokenIssuer, alerts_db: RegistryDatabase
) -> None:
    operator = (("authorization", f"Bearer {token_issuer.issue(CHECKPOINT_OPERATOR)}"),)
    police = (("authorization", f"Bearer {token_issuer.issue(HOAN_KIEM_POLICE)}"),)
    residents = [new_citizen_id() for _ in range(40)]
    code = new_checkpoint_code()
    alerts_process.start()
    await alerts_process.wait_serving()
    async with grpc.aio.insecure_channel(alerts_process.address) as channel:
        stub = pb_grpc.AlertsServiceStub(channel)
        await stub.RegisterCheckpoint(
            pb.RegisterCheckpointRequest(
                request_id=new_request_id(),
                checkpoint=apb.Checkpoint(
                    code=code,
                    name="Chốt Tràng Tiền",
                    ward_code=HOAN_KIEM,
                    operating_agency=CHECKPOINT_OPERATOR.agency,
                ),
            ),
            metadata=police,
        )
        # Many at once, so that they share statements (the group commit under test).
        answers = await asyncio.gather(
            *(stub.Scan(scan_request(code, cid), metadata=operator) for cid in residents)
        )
        # Killed the moment the last answer is in: nothing may depend on a clean shutdown.
        exit_code = alerts_process.kill()
    assert exit_code == -signal.SIGKILL

    alerts_process.start()
    await alerts_process.wait_serving()
    async with grpc.aio.insecure_channel(alerts_process.address) as channel:
        stub = pb_grpc.AlertsServiceStub(channel)
        start, end = (
            timestamp(now() - dt.timedelta(hours=1)),
            timestamp(now() + dt.timedelta(hours=1)),
        )
        listed = await asyncio.gather(
            *(
                stub.ListScans(
                    pb.ListScansRequest(citizen_id=cid, start_time=start, end_time=end),
                    metadata=police,
                )
                for cid in residents
            )
        )

    for cid, answer, found in zip(residents, answers, listed, strict=True):
        assert [(s.scan_id, s.citizen_id, s.verdict) for s in found.scans] == [
            (answer.scan_id, cid, apb.VERDICT_PASS)
        ]
    statements = await alerts_db.scalar(
        "SELECT count(DISTINCT recorded_at) FROM scans WHERE checkpoint_code = %s", code
    )
    assert statements < len(residents)  # scans shared transactions
