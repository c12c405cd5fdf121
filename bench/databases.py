"""The database a benchmark runs on: a server from ``BENCH_DATABASE_URL`` or an embedded one,
and a fresh, uniquely named database on it that is dropped afterwards; the registry's
population loaded into such a database."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DATABASE_URL_ENV = "BENCH_DATABASE_URL"


def libpq(url: str) -> str:
    """``url`` as psycopg takes it (whatever SQLAlchemy driver name it carried)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The server to create benchmark databases on: ``BENCH_DATABASE_URL``, or pgserver."""
    given = os.environ.get(DATABASE_URL_ENV, "").strip()
    if given:
        yield given
        return
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); harmless here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="dancu-bench-pg-"))
    try:
        server = get_server(root / "data", cleanup_mode="delete")
        try:
            yield str(server.get_uri())
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A new empty database ``<prefix>_<random>``; dropped afterwards unless ``keep``."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    url = with_database(server_url, name)
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {name}: {url}")
        else:
            with psycopg.connect(libpq(server_url), autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def prepare_registry(database_url: str, residents: int, seed: int) -> None:
    """Migrates an empty registry database and bulk-loads ``residents`` demo residents."""
    from services.registry.demo import load_population
    from services.registry.migrations import MIGRATIONS

    started = time.perf_counter()
    MIGRATIONS.upgrade(database_url)
    print(load_population(database_url, residents, seed=seed, replace=False))
    with psycopg.connect(libpq(database_url), autocommit=True) as conn:
        # Sets hint bits and the visibility map, so the measured reads do not write pages.
        conn.execute("VACUUM (ANALYZE)")
    print(f"registry ready in {time.perf_counter() - started:.1f} s", flush=True)
