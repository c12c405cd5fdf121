"""One database transaction per use case, carrying its audit rows, request log and outbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.case_status.adapters.repository import SqlCaseRepository
from services.case_status.adapters.tables import audit_log, outbox, request_log
from services.kit.audit import AuditEvent, AuditWriter
from services.kit.auth import Identity
from services.kit.errors import ConcurrentChange
from services.kit.outbox import OutboxWriter
from services.kit.request_ids import Claim, IdempotencyKey, RequestLog
from services.kit.telemetry import current_trace_id

# deadlock_detected, serialization_failure
_CONFLICTS = frozenset({"40P01", "40001"})


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


_AUDIT = AuditWriter(audit_log)
_REQUESTS = RequestLog(request_log)
_OUTBOX = OutboxWriter(outbox)


class SqlUnitOfWork:
    """Opens a transaction on enter; rolls back on exit unless ``commit()`` was called."""

    cases: SqlCaseRepository

    def __init__(self, engine: AsyncEngine, identity: Identity) -> None:
        self._engine = engine
        self._identity = identity
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        self.cases = SqlCaseRepository(self._conn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()
        error = exc[1] if len(exc) > 1 else None
        if isinstance(error, DBAPIError) and _sqlstate(error) in _CONFLICTS:
            # Two appends locking overlapping residents in different orders: PostgreSQL broke
            # the deadlock by aborting this one. Nothing was written; the request may be
            # retried as it is (ABORTED).
            raise ConcurrentChange(
                "CONCURRENT_UPDATE", "a concurrent change touched the same residents; retry"
            ) from error

    @property
    def _connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._conn

    async def claim(self, method: str, key: IdempotencyKey) -> Claim:
        return await _REQUESTS.claim(self._connection, self._identity.agency, method, key)

    async def complete(self, key: IdempotencyKey, response: bytes) -> None:
        await _REQUESTS.complete(self._connection, self._identity.agency, key.request_id, response)

    async def audit(self, event: AuditEvent) -> None:
        await _AUDIT.write(self._connection, self._identity, event, current_trace_id())

    async def publish(self, event_type: str, aggregate_id: str, payload: Mapping[str, Any]) -> None:
        await _OUTBOX.append(self._connection, event_type, aggregate_id, payload)

    async def commit(self) -> None:
        await self._connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self, identity: Identity) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, identity)
