"""One autocommitted statement at a time on connections held out of an engine's pool.

A group-committed batch (``services.kit.group_commit``) is one SQL statement that is its own
transaction: no BEGIN and COMMIT round trips. It is sent through the psycopg connection under
SQLAlchemy, because per statement SQLAlchemy's execution and a pool checkout cost more than
the whole batch's work in Python. So the connections (as many as batches run at once) stay
checked out between statements; ``aclose()`` gives them back and must run before
``engine.dispose()``. A connection whose statement was interrupted or whose link broke is
invalidated, and the next statement takes a fresh one from the pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import namedtuple_row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class HeldStatements:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._idle: list[_Held] = []
        self._closed = False

    async def fetch(self, statement: str, parameters: Mapping[str, Any]) -> list[Any]:
        """Runs ``statement`` in autocommit; its rows as named tuples."""
        held = await self._checkout()
        reusable = False
        try:
            cursor: psycopg.AsyncCursor[Any] = held.driver.cursor(row_factory=namedtuple_row)
            try:
                await cursor.execute(statement, parameters)
                rows = await cursor.fetchall()
            except psycopg.Error:
                # A statement the server refused leaves the connection idle and usable.
                reusable = _idle(held.driver)
                raise
            reusable = True
        finally:
            await self._release(held, reusable)
        return rows

    async def _checkout(self) -> _Held:
        if self._idle:
            return self._idle.pop()
        pooled = await self._engine.connect()
        try:
            raw = await pooled.get_raw_connection()
        except BaseException:
            await pooled.close()
            raise
        return _Held(pooled, cast("psycopg.AsyncConnection[Any]", raw.driver_connection))

    async def _release(self, held: _Held, reusable: bool) -> None:
        if not reusable:
            await held.pooled.invalidate()
            await held.pooled.close()
        elif self._closed:
            await held.pooled.close()
        else:
            self._idle.append(held)

    async def aclose(self) -> None:
        """Gives the idle connections back to the pool; a statement still running gives its
        own back when it ends. Later statements (there should be none) check out and return
        one each."""
        self._closed = True
        idle, self._idle = self._idle, []
        for held in idle:
            await held.pooled.close()


@dataclass(frozen=True)
class _Held:
    """A connection checked out of the engine's pool, and the psycopg connection under it."""

    pooled: AsyncConnection
    driver: psycopg.AsyncConnection[Any]


def _idle(driver: psycopg.AsyncConnection[Any]) -> bool:
    return not driver.broken and driver.info.transaction_status == TransactionStatus.IDLE
