"""The registry database (SQLAlchemy Core tables). Alembic migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from services.kit.audit import audit_table
from services.kit.outbox import outbox_table
from services.kit.request_ids import request_log_table

metadata = MetaData()

households = Table(
    "households",
    metadata,
    Column("household_id", UUID(as_uuid=False), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

residents = Table(
    "residents",
    metadata,
    Column("citizen_id", String(12), primary_key=True),
    Column("full_name", Text, nullable=False),
    # names.fold(full_name): lower case, no diacritics, single spaces. Collation "C" (it is
    # plain ASCII anyway) lets one btree index serve both a prefix LIKE and ORDER BY name_key.
    Column("name_key", Text(collation="C"), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", SmallInteger, nullable=False),
    Column(
        "household_id", UUID(as_uuid=False), ForeignKey("households.household_id"), nullable=False
    ),
    Column("relationship_to_head", SmallInteger, nullable=False),
    Column("perm_ward_code", String(5), nullable=False),
    Column("perm_street", Text, nullable=False),
    Column("temp_ward_code", String(5), nullable=True),
    Column("temp_street", Text, nullable=True),
    Column("temp_valid_from", Date, nullable=True),
    Column("temp_valid_to", Date, nullable=True),
    Column("civil_status", SmallInteger, nullable=False),
    Column("death_date", Date, nullable=True),
    Column("death_time", DateTime(timezone=True), nullable=True),
    Column("death_place", Text, nullable=True),
    Column("death_cause", SmallInteger, nullable=True),
    Column("death_cause_detail", Text, nullable=True),
    Column("death_registration_ref", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("citizen_id ~ '^[0-9]{12}$'", name="citizen_id_is_12_digits"),
    CheckConstraint(
        "(civil_status = 2) = (death_date IS NOT NULL)", name="deceased_iff_death_date"
    ),
    Index("residents_name_key_birth", "name_key", "birth_date"),
    # Name search pages in (name_key, citizen_id) order: prefix range and keyset in one index.
    Index("residents_name_key", "name_key", "citizen_id"),
    Index("residents_birth_date", "birth_date"),
    Index("residents_perm_ward", "perm_ward_code", "citizen_id"),
    Index(
        "residents_temp_ward",
        "temp_ward_code",
        "citizen_id",
        postgresql_where="temp_ward_code IS NOT NULL",
    ),
    Index("residents_household", "household_id"),
)

# Dated residence records (di biến động). A move closes the current record (valid_to) and
# opens a new one; nothing is updated otherwise.
residence_history = Table(
    "residence_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("citizen_id", String(12), ForeignKey("residents.citizen_id"), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("ward_code", String(5), nullable=False),
    Column("street", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_agency", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("residence_history_citizen", "citizen_id", "id"),
)

civil_status_history = Table(
    "civil_status_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("citizen_id", String(12), ForeignKey("residents.citizen_id"), nullable=False),
    Column("civil_status", SmallInteger, nullable=False),
    Column("death_date", Date, nullable=True),
    Column("death_time", DateTime(timezone=True), nullable=True),
    Column("death_place", Text, nullable=True),
    Column("death_cause", SmallInteger, nullable=True),
    Column("death_cause_detail", Text, nullable=True),
    Column("death_registration_ref", Text, nullable=True),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_agency", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("correction_id", UUID(as_uuid=False), nullable=True),
    Column("approved_by", Text, nullable=True),
    Column("approved_agency", Text, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("civil_status_history_citizen", "citizen_id", "id"),
)

civil_status_corrections = Table(
    "civil_status_corrections",
    metadata,
    Column("correction_id", UUID(as_uuid=False), primary_key=True),
    Column("citizen_id", String(12), ForeignKey("residents.citizen_id"), nullable=False),
    Column("corrected_status", SmallInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("resident_version", Integer, nullable=False),
    Column("proposed_by", Text, nullable=False),
    Column("proposed_agency", Text, nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("approved_by", Text, nullable=True),
    Column("approved_agency", Text, nullable=True),
    Column("applied_at", DateTime(timezone=True), nullable=True),
    Index("civil_status_corrections_citizen", "citizen_id"),
)

audit_log = audit_table(metadata)
request_log = request_log_table(metadata)
outbox = outbox_table(metadata)
