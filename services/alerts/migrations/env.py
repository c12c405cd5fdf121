"""Alembic environment for the alerts database (its own database, its own history)."""

from services.alerts.adapters.tables import metadata
from services.kit.migrations import run_online

run_online(metadata)
