"""The welfare database (SQLAlchemy Core tables). Alembic migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from services.kit.audit import audit_table
from services.kit.outbox import outbox_table
from services.kit.request_ids import request_log_table

metadata = MetaData()

# Every published version of every program; never updated (a change is a new version).
programs = Table(
    "programs",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("benefit_kind", SmallInteger, nullable=False),
    Column("amount_vnd", BigInteger, nullable=False),
    Column("quantity_expression", Text, nullable=False),
    Column("max_units", Integer, nullable=False),
    Column("until_age", Integer, nullable=False),
    Column("beneficiary", SmallInteger, nullable=False),
    # [{"name", "description", "expression"}, ...] in rule order.
    Column("clauses", JSONB, nullable=False),
    Column("review_days", Integer, nullable=False),
    Column("example", Boolean, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("published_by", Text, nullable=False),
    CheckConstraint("amount_vnd > 0", name="programs_amount_positive"),
)

benefit_cases = Table(
    "benefit_cases",
    metadata,
    Column("case_id", UUID(as_uuid=False), primary_key=True),
    Column("program_code", String(64), nullable=False),
    Column("program_version", Integer, nullable=False),
    Column("beneficiary_id", String(12), nullable=False),
    Column("subject_id", String(12), nullable=False),
    Column("ward_code", String(5), nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("assignee", Text, nullable=False),
    Column("opened_by_subject", Text, nullable=False),
    Column("opened_by_agency", Text, nullable=False),
    Column("assessed_by", Text, nullable=False),
    Column("decided_by", Text, nullable=False),
    Column("decision_reason", Text, nullable=False),
    # The assessment made when the case was opened, clauses and facts included.
    Column("assessment", JSONB, nullable=False),
    Column("amount_vnd", BigInteger, nullable=False),
    Column("payment_reference", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # 1 when opened, +1 per transition or payment: the source of the etag W/"<version>".
    Column("version", Integer, nullable=False),
    # Payments the case makes (the months of a monthly benefit, else 1), and those recorded
    # (kept here so that a queue row shows them without reading the payments).
    Column("payment_periods", Integer, nullable=False),
    Column("periods_paid", Integer, nullable=False),
    CheckConstraint(
        "periods_paid BETWEEN 0 AND payment_periods", name="benefit_cases_periods_paid"
    ),
    # The Temporal workflow driving the case (officers' acts go to it first); NULL: none.
    Column("workflow_id", Text, nullable=True),
    # One active claim per program, beneficiary and subject: opening it twice finds the first.
    # States 4 and 6 are REJECTED and WITHDRAWN (a STOPPED case, 7, was paid: still active).
    Index(
        "benefit_cases_active_claim",
        "program_code",
        "beneficiary_id",
        "subject_id",
        unique=True,
        postgresql_where=text("state NOT IN (4, 6)"),
    ),
    Index("benefit_cases_subject", "program_code", "subject_id"),
    # The queues: by ward, by state, by assignee, each in open-time order.
    Index("benefit_cases_ward", "ward_code", "opened_at", "case_id"),
    Index("benefit_cases_state", "state", "opened_at", "case_id"),
    Index("benefit_cases_assignee", "assignee", "opened_at", "case_id"),
    Index("benefit_cases_opened", "opened_at", "case_id"),
    # The overdue queue: cases awaiting a decision (OPEN, IN_REVIEW) by due time.
    Index("benefit_cases_due", "due_at", postgresql_where=text("state IN (1, 2)")),
)

# Every state change of every case, never updated.
case_transitions = Table(
    "case_transitions",
    metadata,
    Column(
        "case_id",
        UUID(as_uuid=False),
        ForeignKey("benefit_cases.case_id"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("from_state", SmallInteger, nullable=True),
    Column("to_state", SmallInteger, nullable=False),
    Column("actor_subject", Text, nullable=False),
    Column("actor_agency", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
)

# Every payment of every case, one per period; never updated or deleted.
case_payments = Table(
    "case_payments",
    metadata,
    Column(
        "case_id",
        UUID(as_uuid=False),
        ForeignKey("benefit_cases.case_id"),
        primary_key=True,
    ),
    Column("period", Integer, primary_key=True),
    Column("payment_reference", Text, nullable=False),
    Column("amount_vnd", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by_subject", Text, nullable=False),
    Column("recorded_by_agency", Text, nullable=False),
    CheckConstraint("period >= 1", name="case_payments_period_positive"),
    # One payment per reference in the paying system, whichever case it pays.
    Index("case_payments_reference", "payment_reference", unique=True),
)

audit_log = audit_table(metadata)
request_log = request_log_table(metadata)
outbox = outbox_table(metadata)
