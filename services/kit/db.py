"""Async database engine and URL handling (SQLAlchemy 2 over psycopg 3)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy import engine as sql_tracing
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.trace import Status, StatusCode
from psycopg import sql
from sqlalchemy import ColumnElement, Select, String, Table, cast, event, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import TypeEngine


def async_url(url: str) -> str:
    """Returns ``url`` with the psycopg (v3) driver, whatever driver it named.

    psycopg 3 serves both the async engine and the sync one (migrations) under one name.
    """
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


sync_url = async_url


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    tracer_provider: trace.TracerProvider | None = None,
) -> AsyncEngine:
    # pool_pre_ping costs a round trip per checkout; connections are recycled instead so that
    # a restarted database is noticed within the recycle period without taxing hot paths.
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=300,
        echo=echo,
    )
    _trace_statements(engine, tracer_provider)
    return engine


def _trace_statements(engine: AsyncEngine, tracer_provider: trace.TracerProvider | None) -> None:
    """A client span per SQL statement, child of the call that runs it. The span holds the
    statement with its placeholders, never the bound values. COPY (``copy_rows``) goes
    through the driver directly and has no span of its own.

    The instrumentation's pool-usage counter is left out: it skips checkouts made while
    instrumentation is suppressed (background polling is, to keep it out of the traces) but
    not the matching check-ins, so it would drift."""
    EngineTracer(  # type: ignore[no-untyped-call]
        trace.get_tracer("services.kit.db", tracer_provider=tracer_provider),
        engine.sync_engine,
        metrics.NoOpUpDownCounter("db.client.connections.usage"),
    )
    # The instrumentation describes a failed statement by the database's message, which can
    # quote a value ("Key (citizen_id)=(...) already exists"); ours names the error's type.
    event.remove(engine.sync_engine, "handle_error", sql_tracing._handle_error)
    event.listen(engine.sync_engine, "handle_error", _end_failed_statement)


def _end_failed_statement(context: ExceptionContext) -> None:
    span = getattr(context.execution_context, "_otel_span", None)
    if span is None:
        return
    if span.is_recording():
        error = context.original_exception
        cause = getattr(error, "sqlstate", None)
        description = type(error).__name__ + (f" (SQLSTATE {cause})" if cause else "")
        span.set_status(Status(StatusCode.ERROR, description))
    span.end()


def array_parameter(
    values: Sequence[Any], item_type: TypeEngine[Any] | None = None
) -> ColumnElement[Any]:
    """``values`` as ONE typed array parameter (``$1::varchar[]``), for ``= ANY(...)`` and
    ``unnest(...)``: an IN or VALUES list of a large batch would pass PostgreSQL's limit of
    65,535 parameters per statement, and an untyped array confuses function overloads."""
    array_type = ARRAY(item_type if item_type is not None else String())
    return cast(literal(list(values), array_type), array_type)


def unnested(table: Table, rows: Sequence[Mapping[str, Any]]) -> Select[Any]:
    """``SELECT * FROM unnest($1, $2, ...)``: ``rows`` (all with the same keys, columns of
    ``table``) as ONE typed array parameter per column, for ``INSERT ... SELECT`` upserts of
    any number of rows in one statement."""
    names = list(rows[0])
    arrays = [array_parameter([row[name] for row in rows], table.c[name].type) for name in names]
    return select(func.unnest(*arrays).table_valued(*names).render_derived())


async def copy_rows(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Writes ``rows`` (column name -> value, the same columns in each) into ``table`` with
    COPY, inside the connection's transaction: a large batch (a daily list's events, outbox
    rows and results) costs one round trip instead of one INSERT per row. Enums are written
    as their numbers; JSON values must be wrapped (``psycopg.types.json.Jsonb``)."""
    if not rows:
        return
    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row([_copyable(row[column]) for column in columns])


def _copyable(value: Any) -> Any:
    return int(value) if isinstance(value, enum.IntEnum) else value
