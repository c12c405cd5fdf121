"""payments per period

A payment row per period of a case (a monthly benefit is paid month by month), and on each
case how many periods it pays and how many are paid. Cases paid before this revision were paid
their whole amount in one payment: they keep one period, and that payment becomes their
period 1 (who and when from the transition to PAID). Cases not paid yet under a monthly
program get one period per month of their entitlement.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'benefit_cases',
        sa.Column('payment_periods', sa.Integer(), server_default='1', nullable=False),
    )
    op.add_column(
        'benefit_cases',
        sa.Column('periods_paid', sa.Integer(), server_default='0', nullable=False),
    )
    # States 5 (PAID) and 3 (MONTHLY) as numbered in services/welfare/domain/model.py.
    op.execute(
        """
        UPDATE benefit_cases AS c
           SET payment_periods = GREATEST((c.assessment->'entitlement'->>'units')::int, 1)
          FROM programs AS p
         WHERE p.code = c.program_code AND p.version = c.program_version
           AND p.benefit_kind = 3 AND c.state <> 5
           AND c.assessment->'entitlement' IS NOT NULL
           AND c.assessment->'entitlement' <> 'null'::jsonb
        """
    )
    op.execute("UPDATE benefit_cases SET periods_paid = 1 WHERE payment_reference <> ''")
    op.alter_column('benefit_cases', 'payment_periods', server_default=None)
    op.alter_column('benefit_cases', 'periods_paid', server_default=None)
    op.create_check_constraint(
        'benefit_cases_periods_paid',
        'benefit_cases',
        'periods_paid BETWEEN 0 AND payment_periods',
    )
    op.create_table('case_payments',
    sa.Column('case_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('payment_reference', sa.Text(), nullable=False),
    sa.Column('amount_vnd', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_subject', sa.Text(), nullable=False),
    sa.Column('recorded_by_agency', sa.Text(), nullable=False),
    sa.CheckConstraint('period >= 1', name='case_payments_period_positive'),
    sa.ForeignKeyConstraint(['case_id'], ['benefit_cases.case_id'], ),
    sa.PrimaryKeyConstraint('case_id', 'period')
    )
    op.create_index('case_payments_reference', 'case_payments', ['payment_reference'], unique=True)
    # The one payment of each case paid so far, as the transition to PAID recorded it.
    op.execute(
        """
        INSERT INTO case_payments (case_id, period, payment_reference, amount_vnd, recorded_at,
                                   recorded_by_subject, recorded_by_agency)
        SELECT c.case_id, 1, c.payment_reference, c.amount_vnd, t.at, t.actor_subject,
               t.actor_agency
          FROM benefit_cases AS c
          JOIN case_transitions AS t ON t.case_id = c.case_id AND t.to_state = 5
         WHERE c.payment_reference <> ''
        """
    )


def downgrade() -> None:
    op.drop_index('case_payments_reference', table_name='case_payments')
    op.drop_table('case_payments')
    op.drop_constraint('benefit_cases_periods_paid', 'benefit_cases', type_='check')
    op.drop_column('benefit_cases', 'periods_paid')
    op.drop_column('benefit_cases', 'payment_periods')
