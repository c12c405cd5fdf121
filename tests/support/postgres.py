"""PostgreSQL for tests: one server per test run, a fresh database per fixture.

The server, in this order:

1. ``TEST_DATABASE_URL`` when set: a running server (``postgresql://user:pw@host:5432/postgres``).
   Databases are created on it with unique names and dropped when the provider closes.
2. An embedded server from the PyPI package ``pgserver`` in a temporary directory, deleted
   when the provider closes. It listens on a unix socket only: its URLs carry the socket
   directory as ``?host=/path``, which libpq, psycopg and SQLAlchemy all accept.
3. ``DANCU_TEST_TESTCONTAINERS=1`` and a reachable Docker engine: a testcontainers
   PostgresContainer (image ``DANCU_TEST_POSTGRES_IMAGE``, default ``postgres:16-alpine``),
   used only when pgserver cannot start on this platform.

Every URL handed out is a plain ``postgresql://`` URL; services pick their driver themselves
(``services.kit.db.async_url``).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import re
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

_log = logging.getLogger(__name__)

URL_ENV = "TEST_DATABASE_URL"
TESTCONTAINERS_ENV = "DANCU_TEST_TESTCONTAINERS"
IMAGE_ENV = "DANCU_TEST_POSTGRES_IMAGE"
DEFAULT_IMAGE = "postgres:16-alpine"
NAME_PREFIX = "dancu_test"
MAX_IDENTIFIER_LENGTH = 63  # PostgreSQL's NAMEDATALEN - 1


class DatabaseFactory(Protocol):
    """Makes a brand-new empty database whose name contains ``name``; returns its URL."""

    def __call__(self, name: str = "test") -> str: ...


class ProviderUnavailable(RuntimeError):
    """No PostgreSQL could be found or started for the tests."""


def plain_url(url: str) -> str:
    """``url`` with the scheme ``postgresql`` (drops a SQLAlchemy ``+driver``, ``postgres:``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme!r})")
    return urlunsplit(parts._replace(scheme="postgresql"))


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` instead; user, password, host and query stay as they are."""
    if not re.fullmatch(r"[a-z0-9_]+", database):
        raise ValueError(f"database name must be lower-case letters, digits and _: {database!r}")
    return urlunsplit(urlsplit(plain_url(url))._replace(path=f"/{database}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


class PostgresProvider:
    """A PostgreSQL server for one test run; hands out brand-new databases on it.

    ``kind`` is "url", "pgserver" or "testcontainers". ``server_url`` is the administrative
    URL (its own database is never handed out).
    """

    def __init__(
        self,
        kind: str,
        server_url: str,
        *,
        owns_server: bool,
        stop: Callable[[], None] = lambda: None,
    ) -> None:
        self.kind = kind
        self.server_url = plain_url(server_url)
        # A throwaway server is deleted whole; on a shared server each database is dropped.
        self._owns_server = owns_server
        self._stop = stop
        self._run = secrets.token_hex(3)
        self._serial = itertools.count(1)
        self._created: list[str] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresProvider(kind={self.kind!r}, server_url={self.server_url!r})"

    def _admin(self) -> psycopg.Connection[TupleRow]:
        return psycopg.connect(self.server_url, autocommit=True, connect_timeout=10)

    def create_database(self, name: str = "test") -> str:
        """Creates an empty database whose name contains ``name``; returns its URL.

        Names are unique per call and per test run (several runs may share one server).
        """
        if self._closed:
            raise RuntimeError("the PostgreSQL provider is closed")
        hint = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "db"
        full = f"{NAME_PREFIX}_{self._run}_{next(self._serial)}_{hint}"[:MAX_IDENTIFIER_LENGTH]
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(full)
                )
            )
        self._created.append(full)
        return with_database(self.server_url, full)

    def drop_database(self, url_or_name: str) -> None:
        """Drops a database handed out by ``create_database``, closing its connections."""
        name = database_name(url_or_name) if "://" in url_or_name else url_or_name
        if name not in self._created:
            raise ValueError(f"{name!r} was not created by this provider")
        with self._admin() as conn:
            _drop(conn, name)
        self._created.remove(name)

    @contextlib.contextmanager
    def database(self, name: str = "test") -> Iterator[str]:
        """A fresh database for the ``with`` block, dropped afterwards."""
        url = self.create_database(name)
        try:
            yield url
        finally:
            self.drop_database(url)

    @property
    def created(self) -> tuple[str, ...]:
        """Names of the databases handed out and not dropped yet."""
        return tuple(self._created)

    def close(self) -> None:
        """Drops what was created (shared server) or stops and deletes the server (own one)."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._owns_server and self._created:
                with self._admin() as conn:
                    for name in self._created:
                        _drop(conn, name)
            self._created.clear()
        finally:
            self._stop()


def _drop(conn: psycopg.Connection[TupleRow], name: str) -> None:
    if conn.info.server_version >= 130000:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    else:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        statement = sql.SQL("DROP DATABASE IF EXISTS {}")
    conn.execute(statement.format(sql.Identifier(name)))


def from_url(url: str) -> PostgresProvider:
    provider = PostgresProvider("url", url, owns_server=False)
    try:
        with provider._admin():
            pass
    except psycopg.OperationalError as exc:
        raise ProviderUnavailable(f"{URL_ENV} does not accept connections: {exc}") from exc
    return provider


def start_pgserver() -> PostgresProvider:
    """An embedded server (PyPI ``pgserver``) in a new temporary directory."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); harmless here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    root = Path(tempfile.mkdtemp(prefix="dancu-pg-"))
    # pgserver stops the server and deletes its data directory at exit on its own (atexit,
    # registered in get_server, so it runs before this): this removes the rest when the
    # provider is never closed, as in an interrupted run.
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    try:
        server = get_server(root / "data", cleanup_mode="delete")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    def stop() -> None:
        try:
            server.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return PostgresProvider("pgserver", server.get_uri(), owns_server=True, stop=stop)


def docker_available() -> bool:
    try:
        from testcontainers.core.docker_client import DockerClient

        client = DockerClient().client
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def start_testcontainer() -> PostgresProvider:
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(os.environ.get(IMAGE_ENV, DEFAULT_IMAGE), driver=None)
    container.start()
    try:
        url = container.get_connection_url(driver=None)
    except BaseException:
        container.stop()
        raise
    return PostgresProvider("testcontainers", url, owns_server=True, stop=container.stop)


def open_provider(environ: dict[str, str] | None = None) -> PostgresProvider:
    """Starts (or connects to) the server the environment asks for; see the module doc."""
    env = dict(os.environ) if environ is None else environ
    url = env.get(URL_ENV, "").strip()
    if url:
        return from_url(url)
    try:
        return start_pgserver()
    except Exception as exc:
        if env.get(TESTCONTAINERS_ENV) == "1" and docker_available():
            _log.warning("pgserver could not start (%s); using testcontainers", exc)
            return start_testcontainer()
        hint = f"set {URL_ENV} to a running server, or {TESTCONTAINERS_ENV}=1 with Docker running"
        raise ProviderUnavailable(f"the embedded PostgreSQL did not start ({exc}); {hint}") from exc


_shared: PostgresProvider | None = None


def shared_provider() -> PostgresProvider:
    """The provider of this process, opened on first use and closed at exit at the latest."""
    global _shared
    if _shared is None:
        _shared = open_provider()
        atexit.register(close_shared_provider)
    return _shared


def close_shared_provider() -> None:
    global _shared
    provider, _shared = _shared, None
    if provider is not None:
        provider.close()


def create_database(name: str = "test") -> str:
    """A URL to a brand-new empty database on this process's test server."""
    return shared_provider().create_database(name)
