"""One database transaction per use case, carrying its audit rows, request log and outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.auth import Identity
from services.kit.transactions import Bookkeeping, SqlTransaction
from services.welfare.adapters.repository import SqlWelfareRepository
from services.welfare.adapters.tables import audit_log, outbox, request_log

_BOOKS = Bookkeeping.of(audit_log, request_log, outbox)


class SqlUnitOfWork(SqlTransaction):
    welfare: SqlWelfareRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.welfare = SqlWelfareRepository(conn)


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self, identity: Identity) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, identity, _BOOKS)
