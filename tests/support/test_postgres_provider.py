"""The PostgreSQL provider against a real server: the URLs it hands out work with psycopg and
with the services' SQLAlchemy engine, databases are fresh and isolated, and they go away."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from services.kit.db import create_engine
from tests.support.postgres import (
    DatabaseFactory,
    PostgresProvider,
    ProviderUnavailable,
    database_name,
    open_provider,
)


def _exists(server_url: str, name: str) -> bool:
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
    return row is not None and row[0] == 1


def test_fresh_databases_are_empty_distinct_and_isolated(
    fresh_database_url: DatabaseFactory,
) -> None:
    first = fresh_database_url("isolation")
    second = fresh_database_url("isolation")

    assert first != second
    assert database_name(first).startswith("dancu_test_")
    with psycopg.connect(first, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE only_in_first (id int)")
    with psycopg.connect(second, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('public.only_in_first') IS NOT NULL").fetchone()
        assert found == (False,)
        assert conn.execute("SELECT current_database()").fetchone() == (database_name(second),)


async def test_urls_work_with_the_services_async_engine(
    fresh_database_url: DatabaseFactory,
) -> None:
    url = fresh_database_url("engine")
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            name = await conn.scalar(text("SELECT current_database()"))
            encoding = await conn.scalar(text("SHOW server_encoding"))
    finally:
        await engine.dispose()
    assert name == database_name(url)
    assert encoding == "UTF8"


def test_database_context_drops_it_even_with_open_connections(
    postgres_server: PostgresProvider,
) -> None:
    with postgres_server.database("dropped") as url:
        name = database_name(url)
        lingering = psycopg.connect(url)
        assert _exists(postgres_server.server_url, name)
    try:
        assert not _exists(postgres_server.server_url, name)
        assert name not in postgres_server.created
    finally:
        lingering.close()


def test_empty_database_url_names_the_test(empty_database_url: str) -> None:
    assert "empty_database_url_names" in database_name(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_url_mode_creates_on_a_running_server_and_drops_on_close(
    postgres_server: PostgresProvider,
) -> None:
    # TEST_DATABASE_URL mode, pointed at this run's server (given in SQLAlchemy's form).
    server_url = postgres_server.server_url.replace("postgresql://", "postgresql+psycopg://", 1)
    provider = open_provider({"TEST_DATABASE_URL": server_url})
    assert provider.kind == "url"
    names = [database_name(provider.create_database(hint)) for hint in ("a", "b")]
    assert all(_exists(postgres_server.server_url, name) for name in names)

    provider.close()

    assert not any(_exists(postgres_server.server_url, name) for name in names)
    with pytest.raises(RuntimeError, match="closed"):
        provider.create_database("late")


def test_unreachable_test_database_url_is_reported() -> None:
    with pytest.raises(ProviderUnavailable, match="TEST_DATABASE_URL"):
        open_provider({"TEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/postgres"})
