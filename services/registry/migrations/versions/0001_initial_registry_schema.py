"""initial registry schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 03:37:07.186981
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.kit.audit import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('agency', sa.String(), nullable=False),
    sa.Column('roles', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('purpose', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('resource_type', sa.String(), nullable=False),
    sa.Column('resource_ids', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('outcome', sa.String(), nullable=False),
    sa.Column('request_id', sa.String(), nullable=True),
    sa.Column('trace_id', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('audit_log_occurred_at', 'audit_log', ['occurred_at'], unique=False)
    op.create_index('audit_log_resource_ids', 'audit_log', ['resource_ids'], unique=False, postgresql_using='gin')
    op.create_table('households',
    sa.Column('household_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('household_id')
    )
    op.create_table('outbox',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_type', sa.String(), nullable=False),
    sa.Column('aggregate_id', sa.String(), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index(op.f('ix_outbox_published_at'), 'outbox', ['published_at'], unique=False)
    op.create_table('request_log',
    sa.Column('agency', sa.String(), nullable=False),
    sa.Column('request_id', sa.String(), nullable=False),
    sa.Column('method', sa.String(), nullable=False),
    sa.Column('fingerprint', sa.String(), nullable=False),
    sa.Column('response', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('agency', 'request_id')
    )
    op.create_table('residents',
    sa.Column('citizen_id', sa.String(length=12), nullable=False),
    sa.Column('full_name', sa.Text(), nullable=False),
    sa.Column('name_key', sa.Text(collation='C'), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('sex', sa.SmallInteger(), nullable=False),
    sa.Column('household_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('relationship_to_head', sa.SmallInteger(), nullable=False),
    sa.Column('perm_ward_code', sa.String(length=5), nullable=False),
    sa.Column('perm_street', sa.Text(), nullable=False),
    sa.Column('temp_ward_code', sa.String(length=5), nullable=True),
    sa.Column('temp_street', sa.Text(), nullable=True),
    sa.Column('temp_valid_from', sa.Date(), nullable=True),
    sa.Column('temp_valid_to', sa.Date(), nullable=True),
    sa.Column('civil_status', sa.SmallInteger(), nullable=False),
    sa.Column('death_date', sa.Date(), nullable=True),
    sa.Column('death_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('death_place', sa.Text(), nullable=True),
    sa.Column('death_cause', sa.SmallInteger(), nullable=True),
    sa.Column('death_cause_detail', sa.Text(), nullable=True),
    sa.Column('death_registration_ref', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("citizen_id ~ '^[0-9]{12}$'", name='citizen_id_is_12_digits'),
    sa.CheckConstraint('(civil_status = 2) = (death_date IS NOT NULL)', name='deceased_iff_death_date'),
    sa.ForeignKeyConstraint(['household_id'], ['households.household_id'], ),
    sa.PrimaryKeyConstraint('citizen_id')
    )
    op.create_index('residents_birth_date', 'residents', ['birth_date'], unique=False)
    op.create_index('residents_household', 'residents', ['household_id'], unique=False)
    op.create_index('residents_name_key', 'residents', ['name_key', 'citizen_id'], unique=False)
    op.create_index('residents_name_key_birth', 'residents', ['name_key', 'birth_date'], unique=False)
    op.create_index('residents_perm_ward', 'residents', ['perm_ward_code', 'citizen_id'], unique=False)
    op.create_index('residents_temp_ward', 'residents', ['temp_ward_code', 'citizen_id'], unique=False, postgresql_where='temp_ward_code IS NOT NULL')
    op.create_table('civil_status_corrections',
    sa.Column('correction_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('citizen_id', sa.String(length=12), nullable=False),
    sa.Column('corrected_status', sa.SmallInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', sa.SmallInteger(), nullable=False),
    sa.Column('resident_version', sa.Integer(), nullable=False),
    sa.Column('proposed_by', sa.Text(), nullable=False),
    sa.Column('proposed_agency', sa.Text(), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('approved_by', sa.Text(), nullable=True),
    sa.Column('approved_agency', sa.Text(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['residents.citizen_id'], ),
    sa.PrimaryKeyConstraint('correction_id')
    )
    op.create_index('civil_status_corrections_citizen', 'civil_status_corrections', ['citizen_id'], unique=False)
    op.create_table('civil_status_history',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('citizen_id', sa.String(length=12), nullable=False),
    sa.Column('civil_status', sa.SmallInteger(), nullable=False),
    sa.Column('death_date', sa.Date(), nullable=True),
    sa.Column('death_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('death_place', sa.Text(), nullable=True),
    sa.Column('death_cause', sa.SmallInteger(), nullable=True),
    sa.Column('death_cause_detail', sa.Text(), nullable=True),
    sa.Column('death_registration_ref', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('recorded_agency', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('correction_id', sa.UUID(as_uuid=False), nullable=True),
    sa.Column('approved_by', sa.Text(), nullable=True),
    sa.Column('approved_agency', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['residents.citizen_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('civil_status_history_citizen', 'civil_status_history', ['citizen_id', 'id'], unique=False)
    op.create_table('residence_history',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('citizen_id', sa.String(length=12), nullable=False),
    sa.Column('kind', sa.SmallInteger(), nullable=False),
    sa.Column('ward_code', sa.String(length=5), nullable=False),
    sa.Column('street', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('recorded_agency', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['residents.citizen_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('residence_history_citizen', 'residence_history', ['citizen_id', 'id'], unique=False)

    for statement in APPEND_ONLY_DDL:
        op.execute(statement)

def downgrade() -> None:
    for statement in DROP_APPEND_ONLY_DDL:
        op.execute(statement)
    op.drop_index('residence_history_citizen', table_name='residence_history')
    op.drop_table('residence_history')
    op.drop_index('civil_status_history_citizen', table_name='civil_status_history')
    op.drop_table('civil_status_history')
    op.drop_index('civil_status_corrections_citizen', table_name='civil_status_corrections')
    op.drop_table('civil_status_corrections')
    op.drop_index('residents_temp_ward', table_name='residents', postgresql_where='temp_ward_code IS NOT NULL')
    op.drop_index('residents_perm_ward', table_name='residents')
    op.drop_index('residents_name_key_birth', table_name='residents')
    op.drop_index('residents_name_key', table_name='residents')
    op.drop_index('residents_household', table_name='residents')
    op.drop_index('residents_birth_date', table_name='residents')
    op.drop_table('residents')
    op.drop_table('request_log')
    op.drop_index(op.f('ix_outbox_published_at'), table_name='outbox')
    op.drop_table('outbox')
    op.drop_table('households')
    op.drop_index('audit_log_resource_ids', table_name='audit_log', postgresql_using='gin')
    op.drop_index('audit_log_occurred_at', table_name='audit_log')
    op.drop_table('audit_log')
