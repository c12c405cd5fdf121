"""The transaction every use case runs in, with the rows that travel with its change.

A service's unit of work subclasses ``SqlTransaction`` and binds its repositories to the
connection in ``bind``; the audit log, request log and outbox are the same in every service,
each in the service's own database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.audit import AuditEvent, AuditWriter
from services.kit.auth import Identity
from services.kit.errors import ConcurrentChange, DomainError, PreconditionFailed
from services.kit.outbox import OutboxWriter
from services.kit.request_ids import Claim, IdempotencyKey, RequestLog, StoredResponse
from services.kit.telemetry import current_trace_id

# deadlock_detected, serialization_failure: PostgreSQL aborted this transaction to let a
# concurrent one finish; nothing was written and the request may be retried as it is.
_CONFLICTS = frozenset({"40P01", "40001"})


class Transaction(Protocol):
    """What a use case may do with any service's transaction; a service's UnitOfWork port
    extends it with its repositories."""

    async def claim(self, method: str, key: IdempotencyKey, agency: str | None = None) -> Claim:
        """Claims ``key`` for the caller's agency, or for ``agency`` when a trusted caller
        records a request made to it on another's behalf."""
        ...

    async def complete(
        self, key: IdempotencyKey, response: bytes, agency: str | None = None
    ) -> None: ...

    async def audit(self, event: AuditEvent) -> None: ...

    async def publish(
        self, event_type: str, aggregate_id: str, payload: Mapping[str, Any]
    ) -> None: ...

    async def publish_all(
        self, event_type: str, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None: ...

    async def commit(self) -> None: ...

    async def __aexit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class Bookkeeping:
    """A service database's audit log, request log and outbox tables."""

    audit: AuditWriter
    requests: RequestLog
    outbox: OutboxWriter

    @staticmethod
    def of(audit_log: Table, request_log: Table, outbox: Table) -> Bookkeeping:
        return Bookkeeping(AuditWriter(audit_log), RequestLog(request_log), OutboxWriter(outbox))


class SqlTransaction:
    """Opens a transaction on enter; rolls back on exit unless ``commit()`` was called."""

    def __init__(self, engine: AsyncEngine, identity: Identity, books: Bookkeeping) -> None:
        self._engine = engine
        self._identity = identity
        self._books = books
        self._conn: AsyncConnection | None = None

    def bind(self, conn: AsyncConnection) -> None:
        """Binds the service's repositories to the transaction's connection."""

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        self.bind(self._conn)
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
        if isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in _CONFLICTS:
            raise ConcurrentChange(
                "CONCURRENT_UPDATE", "a concurrent change touched the same records; retry"
            ) from error

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._conn

    async def claim(self, method: str, key: IdempotencyKey, agency: str | None = None) -> Claim:
        return await self._books.requests.claim(
            self.connection, self._identity.agency if agency is None else agency, method, key
        )

    async def complete(
        self, key: IdempotencyKey, response: bytes, agency: str | None = None
    ) -> None:
        await self._books.requests.complete(
            self.connection,
            self._identity.agency if agency is None else agency,
            key.request_id,
            response,
        )

    async def audit(self, event: AuditEvent) -> None:
        await self._books.audit.write(self.connection, self._identity, event, current_trace_id())

    async def publish(self, event_type: str, aggregate_id: str, payload: Mapping[str, Any]) -> None:
        await self._books.outbox.append(self.connection, event_type, aggregate_id, payload)

    async def publish_all(
        self, event_type: str, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None:
        """Many events of one type (aggregate id, payload) in one round trip."""
        if events:
            await self._books.outbox.append_all(self.connection, event_type, events)

    async def commit(self) -> None:
        await self.connection.commit()


T = TypeVar("T", bound=Transaction)


@asynccontextmanager
async def audited(
    open_transaction: Callable[[], AbstractAsyncContextManager[T]],
    action: str,
    resource_type: str,
    resource_ids: Sequence[str],
    request_id: str | None = None,
) -> AsyncIterator[T]:
    """A transaction whose refusal is audited too.

    A rule that refuses the call rolls the transaction back, audit row included; the attempt
    itself (who tried what on whose record) is then recorded in a transaction of its own.
    ``resource_ids`` is read at that moment: a use case that learns whose record it touches
    only inside the transaction adds to it.
    """
    try:
        async with open_transaction() as transaction:
            yield transaction
    except DomainError as refusal:
        async with open_transaction() as transaction:
            await transaction.audit(
                AuditEvent(
                    action,
                    resource_type,
                    tuple(resource_ids),
                    f"refused:{refusal.reason}",
                    request_id,
                )
            )
            await transaction.commit()
        raise


async def replay(
    transaction: Transaction,
    method: str,
    key: IdempotencyKey,
    resource_type: str,
    resource_ids: Sequence[str],
) -> StoredResponse | None:
    """The first execution's response when ``key`` was seen before (audited as "replayed"),
    else None: go ahead, the request id is now claimed by this transaction."""
    claim = await transaction.claim(method, key)
    if claim.is_new:
        return None
    if claim.stored_response is None:
        # The response was completed with the claim, then dropped by the retention purge
        # (``RequestLog.purge_responses``): the request was done once and is not done again.
        raise PreconditionFailed(
            "REQUEST_RESPONSE_EXPIRED",
            "this request was carried out earlier and its response is no longer kept; "
            "read the current state instead of retrying",
        )
    await transaction.audit(
        AuditEvent(method, resource_type, tuple(resource_ids), "replayed", key.request_id)
    )
    await transaction.commit()
    return StoredResponse(claim.stored_response)
