"""Transactional outbox: events written in the same transaction as the change they announce.

A relay (in the workflows worker) turns each unpublished row into a Temporal workflow start
whose workflow id is the event id, so a row relayed twice still starts one workflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import copy_rows


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
                payload=dict(payload),
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
        await copy_rows(
            conn,
            self._table,
            ("event_id", "event_type", "aggregate_id", "payload"),
            (
                (uuid.uuid4(), event_type, aggregate, Jsonb(dict(payload)))
                for aggregate, payload in events
            ),
        )
