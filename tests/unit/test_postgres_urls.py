"""URLs of the test PostgreSQL provider, as psycopg and the services' SQLAlchemy read them."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from services.kit.db import async_url
from tests.support.postgres import database_name, plain_url, with_database

SOCKET_SERVER = "postgresql://postgres:@/postgres?host=/tmp/dancu-pg-abc123/data"
TCP_SERVER = "postgresql://app:s3cret@db.internal:6543/postgres?sslmode=require"


def test_socket_url_names_the_new_database_and_keeps_the_socket_dir() -> None:
    url = with_database(SOCKET_SERVER, "dancu_test_1_registry")
    assert url == "postgresql://postgres:@/dancu_test_1_registry?host=/tmp/dancu-pg-abc123/data"
    assert database_name(url) == "dancu_test_1_registry"

    libpq = conninfo_to_dict(url)
    assert libpq["host"] == "/tmp/dancu-pg-abc123/data"
    assert libpq["dbname"] == "dancu_test_1_registry"
    assert libpq["user"] == "postgres"


def test_socket_url_survives_the_services_driver_conversion() -> None:
    url = with_database(SOCKET_SERVER, "dancu_test_1_registry")
    converted = make_url(async_url(url))
    assert converted.drivername == "postgresql+psycopg"
    assert converted.database == "dancu_test_1_registry"
    assert converted.host is None
    assert converted.query["host"] == "/tmp/dancu-pg-abc123/data"
    # What SQLAlchemy's psycopg dialect hands to psycopg.connect.
    _, kwargs = converted.get_dialect()().create_connect_args(converted)
    assert kwargs["host"] == "/tmp/dancu-pg-abc123/data"
    assert kwargs["dbname"] == "dancu_test_1_registry"


def test_tcp_url_keeps_credentials_port_and_options() -> None:
    url = with_database(TCP_SERVER, "dancu_test_2_x")
    assert url == "postgresql://app:s3cret@db.internal:6543/dancu_test_2_x?sslmode=require"
    converted = make_url(async_url(url))
    assert (converted.username, converted.password) == ("app", "s3cret")
    assert (converted.host, converted.port) == ("db.internal", 6543)
    assert converted.query["sslmode"] == "require"


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        ("postgresql+psycopg://u@h/db", "postgresql://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql://u@h/db"),
        ("postgres://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_server_urls_are_reduced_to_the_plain_scheme(given: str, plain: str) -> None:
    assert plain_url(given) == plain


def test_non_postgres_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        plain_url("mysql://root@localhost/test")


@pytest.mark.parametrize("name", ["Registry", "a-b", "x;DROP DATABASE y", ""])
def test_database_names_must_be_plain_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="database name"):
        with_database(TCP_SERVER, name)
