"""benefit cases driven by a workflow

``benefit_cases.workflow_id``: the Temporal workflow that drives a case (NULL: officers' acts
are recorded directly). Cases opened before it have none, whatever runs for them.

Kept in a file of its own with only this change: when another 0002 lands first, renumber this
one (file name, ``revision``, ``down_revision``) to follow it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('benefit_cases', sa.Column('workflow_id', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('benefit_cases', 'workflow_id')
