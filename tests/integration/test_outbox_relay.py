"""The outbox relay over case status's real outbox and a real Temporal server: one workflow per
event, whose id is the event id, started once however often the row is relayed."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from dancu.case_status.v1 import case_pb2 as cpb
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.case_status.adapters.tables import outbox
from services.case_status.use_cases.recompute import STATUS_CHANGED
from services.kit.db import create_engine
from services.kit.outbox import OutboxWriter
from services.kit.outbox_relay import OutboxEvent, OutboxRelay, Route
from tests.integration.case_status_client import status_request
from tests.integration.registry_client import RegistryDatabase, register
from tests.support.metrics import points

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

SINK = "OutboxSinkForTest"


@workflow.defn(name=SINK, sandboxed=False)
class OutboxSink:
    """Returns what the relay handed it (unsandboxed: it lives in this test module, whose
    imports the sandbox would refuse)."""

    @workflow.run
    async def run(self, event: OutboxEvent) -> OutboxEvent:
        return event


async def test_each_event_starts_one_workflow_named_by_its_id(
    time_skipping: WorkflowEnvironment,
    case_status_database_url: str,
    cdc: CaseStatusServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    case_db: RegistryDatabase,
) -> None:
    await case_db.publish_pending_outbox()
    resident = await register(registrar)
    cid = resident.citizen_id
    await cdc.RecordStatus(status_request(cid, classification=cpb.CLASSIFICATION_F1))
    [row] = await case_db.outbox(cid, STATUS_CHANGED)
    event_id = str(row["event_id"])
    queue = f"relay-{uuid.uuid4().hex}"
    engine = create_engine(case_status_database_url, pool_size=2)
    relay = OutboxRelay(
        engine, outbox, time_skipping.client, {STATUS_CHANGED: Route(SINK, queue)}, batch=10_000
    )
    try:
        async with Worker(time_skipping.client, task_queue=queue, workflows=[OutboxSink]):
            assert await relay.relay_once() >= 1
            handle = time_skipping.client.get_workflow_handle(event_id, result_type=OutboxEvent)
            delivered = await handle.result()
            first_run = (await handle.describe()).run_id
            # A relay that crashed before its commit delivers the row again: the workflow id
            # is taken, so no second run starts.
            await case_db.rows(
                "UPDATE outbox SET published_at = NULL WHERE event_id = %s RETURNING 1", event_id
            )
            assert await relay.relay_once() >= 1
            assert (await handle.describe()).run_id == first_run
    finally:
        await engine.dispose()
    assert delivered.event_type == STATUS_CHANGED
    assert delivered.aggregate_id == cid
    assert delivered.payload["citizen_id"] == cid
    assert delivered.payload["classification"] == "F1"
    assert delivered.created_at
    [after] = await case_db.outbox(cid, STATUS_CHANGED)
    assert after["published_at"] is not None


async def test_the_workflow_start_joins_the_trace_of_the_change_and_its_lag_is_recorded(
    time_skipping: WorkflowEnvironment, case_status_database_url: str
) -> None:
    spans = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    queue = f"relay-{uuid.uuid4().hex}"
    engine = create_engine(case_status_database_url, pool_size=2)
    relay = OutboxRelay(
        engine,
        outbox,
        time_skipping.client,
        {STATUS_CHANGED: Route(SINK, queue)},
        batch=10_000,
        tracer_provider=tracing,
        meter_provider=meters,
    )
    try:
        with tracing.get_tracer("test").start_as_current_span("agency call") as call:
            async with engine.begin() as conn:
                event_id = await OutboxWriter(outbox).append(
                    conn, STATUS_CHANGED, "aggregate", {"classification": "F1"}
                )
        async with Worker(time_skipping.client, task_queue=queue, workflows=[OutboxSink]):
            assert await relay.relay_once() >= 1
            handle = time_skipping.client.get_workflow_handle(
                str(event_id), result_type=OutboxEvent
            )
            delivered = await handle.result()
    finally:
        await engine.dispose()
    [start] = [
        s
        for s in spans.get_finished_spans()
        if (s.attributes or {}).get("dancu.event_id") == str(event_id)
    ]
    assert start.context.trace_id == call.get_span_context().trace_id
    assert start.parent is not None
    assert start.parent.span_id == call.get_span_context().span_id
    # The trace context is transport, not part of the event the workflow sees.
    assert delivered.payload == {"classification": "F1"}
    [lag] = [
        p
        for p in points(reader, "dancu.outbox.lag")
        if p.attributes["event_type"] == STATUS_CHANGED
    ]
    assert lag.count >= 1
    assert lag.min >= 0


async def test_rows_written_together_by_copy_carry_the_writing_calls_trace_too(
    case_status_database_url: str,
) -> None:
    tracing = TracerProvider()
    engine = create_engine(case_status_database_url, pool_size=1)
    aggregates = [f"copy-{uuid.uuid4().hex}" for _ in range(2)]
    try:
        with tracing.get_tracer("test").start_as_current_span("import") as call:
            async with engine.begin() as conn:
                await OutboxWriter(outbox).append_all(
                    conn, "test.copied.v1", [(a, {"n": i}) for i, a in enumerate(aggregates)]
                )
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(outbox.c.aggregate_id, outbox.c.payload).where(
                        outbox.c.aggregate_id.in_(aggregates)
                    )
                )
            ).all()
    finally:
        await engine.dispose()

    context = call.get_span_context()
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert sorted((r.aggregate_id, r.payload) for r in rows) == sorted(
        (a, {"n": i, "_trace": traceparent}) for i, a in enumerate(aggregates)
    )
