"""Transactional outbox: events written in the same transaction as the change they announce.

A relay (in the workflows worker) turns each unpublished row into a Temporal workflow start
whose workflow id is the event id, so a row relayed twice still starts one workflow.

A row written while a trace is current carries that trace's W3C ``traceparent`` in its payload
under the reserved key ``_trace``: the relay starts the workflow as part of that trace, so one
trace runs from the call that made the change to every service the workflow touches. The
relay takes the key out again; workflows never see it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from psycopg.types.json import Jsonb
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import copy_rows

# The payload key holding the writing call's trace context (see the module's docstring).
TRACE_KEY = "_trace"
_PROPAGATOR = TraceContextTextMapPropagator()


def _traced(payload: Mapping[str, Any], traceparent: str | None) -> dict[str, Any]:
    if traceparent is None:
        return dict(payload)
    return {**payload, TRACE_KEY: traceparent}


def current_traceparent() -> str | None:
    """The current span's context as a W3C ``traceparent``; None outside any trace."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("event_type", String, nullable=False),
        Column("aggregate_id", String, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
    )


class OutboxWriter:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def append(
        self,
        conn: AsyncConnection,
        event_type: str,
        aggregate_id: str,
        payload: Mapping[str, Any],
        event_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        event_id = event_id or uuid.uuid4()
        await conn.execute(
            self._table.insert().values(
                event_id=event_id,
                event_type=event_type,
                aggregate_id=aggregate_id,
                payload=_traced(payload, current_traceparent()),
            )
        )
        return event_id

    async def append_all(
        self,
        conn: AsyncConnection,
        event_type: str,
        events: Iterable[tuple[str, Mapping[str, Any]]],
    ) -> None:
        """Many events of one type (aggregate id, payload), written with one COPY."""
        traceparent = current_traceparent()
        await copy_rows(
            conn,
            self._table,
            [
                {
                    "event_id": uuid.uuid4(),
                    "event_type": event_type,
                    "aggregate_id": aggregate,
                    "payload": Jsonb(_traced(payload, traceparent)),
                }
                for aggregate, payload in events
            ],
        )
