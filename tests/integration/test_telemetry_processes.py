"""Traces, metrics and logs of the suite run as processes, as deployed.

The registry, case status and alerts run as ``python -m services.<name>`` and the worker as
``python -m workflows``, each on a database of its own, with a Temporal dev server, all
exporting spans to an in-test OTLP collector. One agency call to case status must yield one
trace holding spans of every process it reaches: case status, the registry it asks, the
worker that relays the change and alerts, which the worker calls. The services' Prometheus
endpoints must count the calls, and no process may log the resident's citizen id. A metrics
port that cannot be bound stops a service at start, with one line saying so.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2_grpc as case_grpc
from dancu.registry.v1 import registry_service_pb2_grpc as registry_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.alerts.migrations import MIGRATIONS as ALERTS_MIGRATIONS
from services.case_status.migrations import MIGRATIONS as CASE_STATUS_MIGRATIONS
from services.kit.auth import TokenIssuer, public_key_pem
from services.registry.migrations import MIGRATIONS as REGISTRY_MIGRATIONS
from tests.integration.alerts_client import resident_with_temporary_stay
from tests.integration.case_status_client import CDC, status_request
from tests.integration.registry_client import REGISTRAR, SERVICE_CALLER
from tests.support.otlp import CollectedSpan, Collector, collector
from tests.support.postgres import DatabaseFactory
from tests.support.temporal import dev_server

STARTUP_SECONDS = 60
TRACE_SECONDS = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    async def stop(self) -> None:
        """Waits without blocking the loop: the in-test collector must still answer the
        process's last export."""
        self.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Suite:
    collector: Collector
    processes: dict[str, Process]
    ports: dict[str, int]
    metrics_ports: dict[str, int]
    issuer: TokenIssuer

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def scrape(self, name: str) -> str:
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text: str = reply.read().decode()
            return text


def _start(name: str, module: str, env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DANCU_", "OTEL_"))}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**clean, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Process(name, process, log)


async def _wait_serving(process: Process, address: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.process.poll() is not None:
                break
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"{process.name} did not start:\n{process.output()[-3000:]}")


@pytest.fixture(scope="module")
def databases(fresh_database_url: DatabaseFactory) -> dict[str, str]:
    """Databases of their own: the relay here must not take other tests' outbox rows."""
    urls = {
        "registry": fresh_database_url("telemetry_registry"),
        "case_status": fresh_database_url("telemetry_case_status"),
        "alerts": fresh_database_url("telemetry_alerts"),
    }
    REGISTRY_MIGRATIONS.upgrade(urls["registry"])
    CASE_STATUS_MIGRATIONS.upgrade(urls["case_status"])
    ALERTS_MIGRATIONS.upgrade(urls["alerts"])
    return urls


@pytest.fixture(scope="module")
async def suite(
    databases: dict[str, str],
    signing_key: bytes,
    token_issuer: TokenIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Suite]:
    logs = tmp_path_factory.mktemp("telemetry-logs")
    ports = {name: _free_port() for name in ("registry", "case_status", "alerts")}
    metrics_ports = {name: _free_port() for name in ("case_status", "alerts", "workflows")}
    token = token_issuer.issue(SERVICE_CALLER, ttl_seconds=3600)
    queue = f"telemetry-{uuid.uuid4().hex}"
    async with dev_server() as temporal, collector() as spans:
        common = {
            "DANCU_AUTH_PUBLIC_KEY": public_key_pem(signing_key).decode(),
            "OTEL_EXPORTER_OTLP_ENDPOINT": spans.endpoint,
            # Spans reach the collector within a fraction of a second, not the default 5 s.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "DANCU_TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
            "DANCU_TEMPORAL_TASK_QUEUE": queue,
            # The most the processes could say: none of it may name a resident.
            "DANCU_LOG_LEVEL": "DEBUG",
            "PYTHONUNBUFFERED": "1",
            **{f"DANCU_{name.upper()}_GRACE_SECONDS": "1" for name in ports},
        }
        registry = f"127.0.0.1:{ports['registry']}"
        case_status = f"127.0.0.1:{ports['case_status']}"
        alerts = f"127.0.0.1:{ports['alerts']}"
        processes = {
            "registry": _start(
                "registry",
                "services.registry",
                {
                    **common,
                    "DANCU_REGISTRY_DATABASE_URL": databases["registry"],
                    "DANCU_REGISTRY_PORT": str(ports["registry"]),
                },
                logs,
            ),
            "case_status": _start(
                "case_status",
                "services.case_status",
                {
                    **common,
                    "DANCU_CASE_STATUS_DATABASE_URL": databases["case_status"],
                    "DANCU_CASE_STATUS_PORT": str(ports["case_status"]),
                    "DANCU_CASE_STATUS_METRICS_PORT": str(metrics_ports["case_status"]),
                    "DANCU_CASE_STATUS_REGISTRY_ADDRESS": registry,
                    "DANCU_CASE_STATUS_REGISTRY_TOKEN": token,
                },
                logs,
            ),
            "alerts": _start(
                "alerts",
                "services.alerts",
                {
                    **common,
                    "DANCU_ALERTS_DATABASE_URL": databases["alerts"],
                    "DANCU_ALERTS_PORT": str(ports["alerts"]),
                    "DANCU_ALERTS_METRICS_PORT": str(metrics_ports["alerts"]),
                    "DANCU_ALERTS_REGISTRY_ADDRESS": registry,
                    "DANCU_ALERTS_CASE_STATUS_ADDRESS": case_status,
                    "DANCU_ALERTS_SERVICE_TOKEN": token,
                },
                logs,
            ),
            "workflows": _start(
                "workflows",
                "workflows",
                {
                    **common,
                    "DANCU_WORKFLOWS_TOKEN": token,
                    "DANCU_WORKFLOWS_CASE_STATUS_ADDRESS": case_status,
                    "DANCU_WORKFLOWS_ALERTS_ADDRESS": alerts,
                    "DANCU_WORKFLOWS_METRICS_PORT": str(metrics_ports["workflows"]),
                },
                logs,
            ),
        }
        try:
            for name in ("registry", "case_status", "alerts"):
                await _wait_serving(processes[name], f"127.0.0.1:{ports[name]}")
            yield Suite(spans, processes, ports, metrics_ports, token_issuer)
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                await process.stop()


# Per service, the spans the trace must hold (as name prefixes, or for gRPC, a method path):
# case status served the call, asked the registry to verify the resident and, in the relay,
# started the workflow inside the call's trace; the worker ran the workflow and its activity,
# which called alerts; alerts asked the registry where the resident lives. SQL statements are
# spans of the same trace.
EXPECTED = {
    "dancu-case-status": (
        "/dancu.case_status.v1.CaseStatusService/RecordStatus",
        "/dancu.registry.v1.RegistryService/",
        "relay case_status.status_changed.v1",
        "StartWorkflow:StatusChangePropagation",
        "INSERT",
    ),
    "dancu-registry": (
        "/dancu.registry.v1.RegistryService/GetResident",
        # The read is group-committed; a batch of one is part of its call's trace.
        "group commit",
    ),
    "dancu-workflows": (
        "RunWorkflow:StatusChangePropagation",
        "RunActivity:deliver_to_alerts",
        "/dancu.alerts.v1.AlertsService/ApplyStatusChange",
    ),
    "dancu-alerts": (
        "/dancu.alerts.v1.AlertsService/ApplyStatusChange",
        "/dancu.registry.v1.RegistryService/",
        "SELECT",
    ),
}


def _names_by_service(spans: list[CollectedSpan], trace_id: str) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {service: [] for service in EXPECTED}
    for span in spans:
        if span.trace_id == trace_id and span.service in names:
            names[span.service].append(span.name)
    return names


def _missing(names: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [
        (service, prefix)
        for service, prefixes in EXPECTED.items()
        for prefix in prefixes
        if not any(name.startswith(prefix) for name in names[service])
    ]


@dataclass(frozen=True)
class Recorded:
    citizen_id: str
    trace_id: str


def _channel(address: str, token: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, interceptors=[_Bearer(token)])


class _Bearer(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        metadata.add("authorization", f"Bearer {self._token}")
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


@pytest.fixture(scope="module")
async def recorded(suite: Suite) -> Recorded:
    """One agency call: an F1 recorded for a resident who lives in two wards."""
    async with (
        _channel(suite.address("registry"), suite.issuer.issue(REGISTRAR)) as registry,
        _channel(suite.address("case_status"), suite.issuer.issue(CDC)) as case_status,
    ):
        resident = await resident_with_temporary_stay(registry_grpc.RegistryServiceStub(registry))
        await case_grpc.CaseStatusServiceStub(case_status).RecordStatus(
            status_request(resident.citizen_id, classification=cpb.CLASSIFICATION_F1)
        )
    started = time.monotonic()
    trace_id = None
    while time.monotonic() - started < TRACE_SECONDS:
        trace_id = _record_status_trace(suite.collector.spans)
        if trace_id and not _missing(_names_by_service(suite.collector.spans, trace_id)):
            break
        await asyncio.sleep(0.2)
    assert trace_id is not None, "case status exported no span of the call"
    return Recorded(resident.citizen_id, trace_id)


def _record_status_trace(spans: list[CollectedSpan]) -> str | None:
    return next(
        (
            s.trace_id
            for s in spans
            if s.service == "dancu-case-status" and s.name.endswith("/RecordStatus")
        ),
        None,
    )


def test_one_agency_call_is_one_trace_through_every_process_it_reaches(
    suite: Suite, recorded: Recorded
) -> None:
    names = _names_by_service(suite.collector.spans, recorded.trace_id)

    # What is missing: (service, expected span), none when the trace is whole.
    assert _missing(names) == []


def test_the_services_prometheus_endpoints_count_the_calls(
    suite: Suite, recorded: Recorded
) -> None:
    case_status = suite.scrape("case_status")
    alerts = suite.scrape("alerts")
    workflows = suite.scrape("workflows")

    record_status = re.search(
        r"^rpc_server_call_duration_seconds_count\{[^}]*"
        r'rpc_method="/dancu\.case_status\.v1\.CaseStatusService/RecordStatus"[^}]*\} (\S+)$',
        case_status,
        re.MULTILINE,
    )
    assert record_status is not None, case_status[-2000:]
    assert float(record_status.group(1)) >= 1
    assert re.search(r"^dancu_outbox_lag_seconds_count\{[^}]*\} [1-9]", case_status, re.MULTILINE)
    assert re.search(
        r"^rpc_server_call_duration_seconds_count\{[^}]*"
        r'rpc_method="/dancu\.alerts\.v1\.AlertsService/[^"]+"[^}]*\} [1-9]',
        alerts,
        re.MULTILINE,
    )
    # The F1 put the resident on the watchlist, which caught up moments ago.
    assert re.search(r"^dancu_watchlist_entries(\{[^}]*\})? 1\.0$", alerts, re.MULTILINE)
    assert re.search(r"^dancu_watchlist_age_seconds(\{[^}]*\})? \d", alerts, re.MULTILINE)
    # The worker's SDK counts the workflow it completed and times the activity it ran.
    assert re.search(
        r'^temporal_workflow_completed\{[^}]*workflow_type="StatusChangePropagation"[^}]*\} 1$',
        workflows,
        re.MULTILINE,
    )
    assert 'activity_type="deliver_to_alerts"' in workflows
    assert recorded.citizen_id not in case_status + alerts + workflows


def test_no_process_logs_the_residents_citizen_id(suite: Suite, recorded: Recorded) -> None:
    for process in suite.processes.values():
        output = process.output()
        # Each process did log (its start at least), so the check below checks something.
        assert " DEBUG " in output or " INFO " in output, process.name
        assert recorded.citizen_id not in output, process.name


def test_a_service_whose_metrics_port_is_taken_says_so_and_does_not_start(
    registry_database_url: str, signing_key: bytes
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DANCU_", "OTEL_"))}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        finished = subprocess.run(
            [sys.executable, "-m", "services.registry"],
            env={
                **clean,
                "DANCU_REGISTRY_DATABASE_URL": registry_database_url,
                "DANCU_REGISTRY_PORT": str(_free_port()),
                "DANCU_REGISTRY_METRICS_PORT": str(taken.getsockname()[1]),
                "DANCU_AUTH_PUBLIC_KEY": public_key_pem(signing_key).decode(),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert finished.returncode == 2
    [line] = [line for line in finished.stderr.splitlines() if "cannot start" in line]
    assert line.startswith("registry: cannot start: metrics endpoint:")
    assert "Traceback" not in finished.stderr
