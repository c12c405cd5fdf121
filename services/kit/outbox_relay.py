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

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.kit.temporal import TemporalSettings, connect

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200
DEFAULT_IDLE_SECONDS = 0.2
CONNECT_RETRY_SECONDS = 2.0


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
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._client = client
        self._routes = dict(routes)
        self._batch = batch
        self._idle_seconds = idle_seconds

    async def relay_once(self) -> int:
        """Starts the workflows of up to one batch of unpublished rows; how many it took."""
        o = self._outbox.c
        async with self._engine.begin() as conn:
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
                await self._start(
                    OutboxEvent(
                        event_id=str(row.event_id),
                        event_type=row.event_type,
                        aggregate_id=row.aggregate_id,
                        payload=dict(row.payload),
                        created_at=row.created_at.isoformat(),
                    )
                )
            if rows:
                await conn.execute(
                    update(self._outbox)
                    .where(o.event_id.in_([row.event_id for row in rows]))
                    .values(published_at=dt.datetime.now(dt.UTC))
                )
        return len(rows)

    async def _start(self, event: OutboxEvent) -> None:
        route = self._routes[event.event_type]
        with contextlib.suppress(WorkflowAlreadyStartedError):
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
