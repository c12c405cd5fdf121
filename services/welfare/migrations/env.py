"""Alembic environment for the welfare database (its own database, its own history)."""

from services.kit.migrations import run_online
from services.welfare.adapters.tables import metadata

run_online(metadata)
