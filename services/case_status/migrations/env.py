"""Alembic environment for the case-status database (its own database, its own history)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from services.case_status.adapters.tables import metadata
from services.kit.db import sync_url

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "the database URL is passed by services.case_status.migrations.upgrade"
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
