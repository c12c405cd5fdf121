"""staged list imports

Imports get a state (staged, complete), their chunk count and who staged them; a staged
import's chunks are kept in import_chunks (rows as JSON until applied). Existing imports are
complete.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('imports', sa.Column('state', sa.SmallInteger(), server_default=sa.text('2'), nullable=False))
    op.add_column('imports', sa.Column('chunks', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('imports', sa.Column('staged_by_subject', sa.Text(), server_default='', nullable=False))
    op.add_column('imports', sa.Column('staged_wards', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False))
    op.create_table('import_chunks',
    sa.Column('import_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('chunk_number', sa.Integer(), nullable=False),
    sa.Column('row_numbers', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('rows', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('fingerprint', sa.Text(), nullable=False),
    sa.Column('staged_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('unchanged', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('needs_review', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('rejected', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['imports.import_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'chunk_number')
    )


def downgrade() -> None:
    op.drop_table('import_chunks')
    op.drop_column('imports', 'staged_wards')
    op.drop_column('imports', 'staged_by_subject')
    op.drop_column('imports', 'chunks')
    op.drop_column('imports', 'state')
