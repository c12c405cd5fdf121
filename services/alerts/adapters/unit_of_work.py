"""One database transaction per use case, carrying its audit rows, request log and outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.alerts.adapters.repository import SqlAlertRepository
from services.alerts.adapters.tables import audit_log, outbox, request_log
from services.kit.auth import Identity
from services.kit.transactions import Bookkeeping, SqlTransaction

_BOOKS = Bookkeeping.of(audit_log, request_log, outbox)


class SqlUnitOfWork(SqlTransaction):
    alerts: SqlAlertRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.alerts = SqlAlertRepository(conn)


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self, identity: Identity) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, identity, _BOOKS)
