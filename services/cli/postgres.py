"""The database server the suite runs on: a given one, or an embedded one from ``pgserver``."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

SERVICE_DATABASES = {
    "registry": "dancu_registry",
    "case_status": "dancu_case_status",
    "alerts": "dancu_alerts",
    "welfare": "dancu_welfare",
}


@contextmanager
def embedded_server(pgdata: Path) -> Iterator[str]:
    """Starts (or reuses) an embedded PostgreSQL in ``pgdata``; yields its admin URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(  # type: ignore[attr-defined]
        pgdata, cleanup_mode="stop"
    )
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


def database_url(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def ensure_database(server_url: str, database: str) -> str:
    """Creates ``database`` on the server if missing; returns its URL."""
    conninfo = (
        make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return database_url(server_url, database)
