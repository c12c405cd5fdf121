"""Running a service's Alembic migrations from code, and checking the schema is current.

Each service keeps its own migration folder and its own database; nothing here is shared
between them except this machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, pool

from services.kit.db import sync_url


class SchemaBehind(Exception):
    """The database is not at the code's migration head; run the migrations first."""


@dataclass(frozen=True)
class MigrationSet:
    folder: Path

    def config(self, database_url: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.folder))
        # ConfigParser interpolation would read "%" in passwords as syntax.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
        return config

    def upgrade(self, database_url: str, revision: str = "head") -> None:
        command.upgrade(self.config(database_url), revision)

    def head(self) -> str | None:
        return ScriptDirectory(str(self.folder)).get_current_head()

    def current(self, database_url: str) -> str | None:
        engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        finally:
            engine.dispose()

    def ensure_current(self, database_url: str) -> None:
        current, head = self.current(database_url), self.head()
        if current == head:
            return
        known = {script.revision for script in ScriptDirectory(str(self.folder)).walk_revisions()}
        if current is None or current in known:
            raise SchemaBehind(
                f"database schema is at {current or 'nothing'}, code expects {head}; "
                "run `dancu migrate` first"
            )
        raise SchemaBehind(
            f"database schema is at {current}, which this code does not know (newer code "
            "migrated it?); deploy the version that matches the database"
        )


def run_online(metadata: MetaData) -> None:
    """The body of a service's Alembic ``env.py``: migrate the URL ``MigrationSet`` passed."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("run migrations through MigrationSet.upgrade, which passes the URL")
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
