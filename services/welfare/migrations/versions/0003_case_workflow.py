"""benefit cases driven by a workflow

``benefit_cases.workflow_id``: the Temporal workflow that drives a case (NULL: officers' acts
are recorded directly). Cases opened before it have none, whatever runs for them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('benefit_cases', sa.Column('workflow_id', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('benefit_cases', 'workflow_id')
