"""Alembic environment for the case-status database (its own database, its own history)."""

from services.case_status.adapters.tables import metadata
from services.kit.migrations import run_online

run_online(metadata)
