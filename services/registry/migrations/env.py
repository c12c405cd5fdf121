"""Alembic environment for the registry database (its own database, its own history)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from services.kit.db import sync_url
from services.registry.adapters.tables import metadata

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "the database URL is passed by services.registry.migrations.upgrade"
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
