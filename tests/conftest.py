"""Fixtures shared by every kind of test. Nothing service-specific lives here.

PostgreSQL (see tests/support/postgres.py for how the server is chosen):

- ``postgres_server`` (session): the ``PostgresProvider`` of this run; started on first use.
- ``fresh_database_url`` (session): a factory ``(name: str = "test") -> str`` returning the URL
  of a brand-new empty database; usable from fixtures of any scope. The databases live until
  the end of the run (or ``postgres_server.drop_database(url)``).
- ``empty_database_url`` (function): one brand-new empty database for one test, dropped after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import (
    DatabaseFactory,
    PostgresProvider,
    close_shared_provider,
    shared_provider,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresProvider]:
    provider = shared_provider()
    try:
        yield provider
    finally:
        close_shared_provider()


@pytest.fixture(scope="session")
def fresh_database_url(postgres_server: PostgresProvider) -> DatabaseFactory:
    return postgres_server.create_database


@pytest.fixture
def empty_database_url(
    postgres_server: PostgresProvider, request: pytest.FixtureRequest
) -> Iterator[str]:
    with postgres_server.database(request.node.name) as url:
        yield url
