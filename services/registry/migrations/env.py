"""Alembic environment for the registry database (its own database, its own history)."""

from services.kit.migrations import run_online
from services.registry.adapters.tables import metadata

run_online(metadata)
