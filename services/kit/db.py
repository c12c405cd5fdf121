"""Async database engine and URL handling (SQLAlchemy 2 over psycopg 3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, cast, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import TypeEngine


def async_url(url: str) -> str:
    """Returns ``url`` with the psycopg (v3) driver, whatever driver it named.

    psycopg 3 serves both the async engine and the sync one (migrations) under one name.
    """
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


sync_url = async_url


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    # pool_pre_ping costs a round trip per checkout; connections are recycled instead so that
    # a restarted database is noticed within the recycle period without taxing hot paths.
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=300,
        echo=echo,
    )


def array_parameter(
    values: Sequence[Any], item_type: TypeEngine[Any] | None = None
) -> ColumnElement[Any]:
    """``values`` as ONE typed array parameter (``$1::varchar[]``), for ``= ANY(...)`` and
    ``unnest(...)``: an IN or VALUES list of a large batch would pass PostgreSQL's limit of
    65,535 parameters per statement, and an untyped array confuses function overloads."""
    array_type = ARRAY(item_type if item_type is not None else String())
    return cast(literal(list(values), array_type), array_type)
