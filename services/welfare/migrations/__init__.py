"""Schema migrations of the welfare database."""

from __future__ import annotations

from pathlib import Path

from services.kit.migrations import MigrationSet

MIGRATIONS = MigrationSet(Path(__file__).parent)
