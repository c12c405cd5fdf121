"""The outbox relay: every unpublished outbox row becomes the start of a Temporal workflow
whose workflow id is the event id.

It runs inside the service that owns the outbox (its database is nobody else's). One pass
takes the oldest unpublished rows of the routed event types with ``FOR UPDATE SKIP LOCKED``
(replicas share the work, none waits for another), starts one workflow per row and marks the
rows published in the same transaction. A crash between the start and the commit leaves the
rows unpublished: the next pass starts them again, and Temporal refuses the second start of
the same workflow id (running or finished), so each event runs its workflow once.

Rows of event types without a route stay unpublished until a route exists: nothing is
dropped because no one consumes it yet.

Each start runs in a span whose parent is the trace of the call that wrote the row (the
payload's ``_trace``), and the Temporal client carries it on into the workflow. The polling
queries themselves are kept out of the traces: a pass every fraction of a second would
otherwise be a trace of its own. ``dancu.outbox.lag`` records, per published row, the
seconds from the change's commit to its workflow's start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.kit.outbox import TRACE_KEY
from services.kit.temporal import TemporalSettings, connect

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200
DEFAULT_IDLE_SECONDS = 0.2
CONNECT_RETRY_SECONDS = 2.0
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class OutboxEvent:
    """The input of every workflow the relay starts."""

    event_id: str
    event_type: str
    aggregate_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    # When the change committed (ISO 8601): workflows measure their lag from it.
    created_at: str = ""


@dataclass(frozen=True)
class Route:
    """The workflow that handles one event type."""

    workflow: str
    task_queue: str


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        client: Client,
        routes: Mapping[str, Route],
        *,
        batch: int = DEFAULT_BATCH,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._client = client
        self._routes = dict(routes)
        self._batch = batch
        self._idle_seconds = idle_seconds
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._lag = metrics.get_meter(__name__, meter_provider=meter_provider).create_histogram(
            "dancu.outbox.lag",
            unit="s",
            description="Seconds from an outbox row's commit to the start of its workflow",
            explicit_bucket_boundaries_advisory=LAG_BUCKETS,
        )

    async def relay_once(self) -> int:
        """Starts the workflows of up to one batch of unpublished rows; how many it took."""
        o = self._outbox.c
        async with self._engine.begin() as conn:
            with suppress_instrumentation():
                rows = (
                    await conn.execute(
                        select(o.event_id, o.event_type, o.aggregate_id, o.payload, o.created_at)
                        .where(o.published_at.is_(None), o.event_type.in_(list(self._routes)))
                        .order_by(o.created_at, o.event_id)
                        .limit(self._batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            for row in rows:
                payload = dict(row.payload)
                traceparent = payload.pop(TRACE_KEY, None)
                await self._start(
                    OutboxEvent(
                        event_id=str(row.event_id),
                        event_type=row.event_type,
                        aggregate_id=row.aggregate_id,
                        payload=payload,
                        created_at=row.created_at.isoformat(),
                    ),
                    traceparent,
                )
            published_at = dt.datetime.now(dt.UTC)
            if rows:
                with suppress_instrumentation():
                    await conn.execute(
                        update(self._outbox)
                        .where(o.event_id.in_([row.event_id for row in rows]))
                        .values(published_at=published_at)
                    )
        # Recorded once committed: a pass that fails publishes nothing.
        for row in rows:
            lag = max(0.0, (published_at - row.created_at).total_seconds())
            self._lag.record(lag, {"event_type": row.event_type})
        return len(rows)

    async def _start(self, event: OutboxEvent, traceparent: str | None) -> None:
        route = self._routes[event.event_type]
        parent = _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
        with (
            self._tracer.start_as_current_span(
                f"relay {event.event_type}",
                context=parent,
                kind=trace.SpanKind.PRODUCER,
                attributes={"dancu.event_id": event.event_id, "dancu.workflow": route.workflow},
            ),
            contextlib.suppress(WorkflowAlreadyStartedError),
        ):
            await self._client.start_workflow(
                route.workflow,
                event,
                id=event.event_id,
                task_queue=route.task_queue,
                # A workflow of this id that ran already (or runs): the event is delivered.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Relays until ``stop`` is set; a failed pass (Temporal or the database away) is
        logged and tried again after the idle pause."""
        while not stop.is_set():
            try:
                taken = await self.relay_once()
            except Exception as error:
                # The type only: a database error's text may quote an event's payload.
                logger.warning("outbox relay pass failed (%s); retrying", type(error).__name__)
                taken = 0
            if taken < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._idle_seconds)


@asynccontextmanager
async def relaying(
    engine: AsyncEngine,
    outbox: Table,
    temporal: TemporalSettings | None,
    workflows: Mapping[str, str],
) -> AsyncIterator[None]:
    """Relays ``outbox`` in the background while the block runs (``workflows``: event type ->
    workflow type, on the worker's task queue). Without Temporal settings nothing is relayed;
    while Temporal cannot be reached the relay keeps trying, and the service serves anyway."""
    if temporal is None:
        yield
        return
    routes = {kind: Route(name, temporal.task_queue) for kind, name in workflows.items()}
    stop = asyncio.Event()
    task = asyncio.create_task(_relay_until(stop, engine, outbox, temporal, routes))
    try:
        yield
    finally:
        stop.set()
        await task


async def _relay_until(
    stop: asyncio.Event,
    engine: AsyncEngine,
    outbox: Table,
    temporal: TemporalSettings,
    routes: Mapping[str, Route],
) -> None:
    while not stop.is_set():
        try:
            client = await connect(temporal.address, temporal.namespace)
        except RuntimeError:
            logger.warning("outbox relay: Temporal at %s unreachable; retrying", temporal.address)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CONNECT_RETRY_SECONDS)
            continue
        await OutboxRelay(engine, outbox, client, routes).run(stop)
