"""The case-status database (SQLAlchemy Core tables). Alembic migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
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
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from services.kit.audit import audit_table
from services.kit.outbox import outbox_table
from services.kit.request_ids import request_log_table

metadata = MetaData()

# One row per resident the service has heard of: the row ``SELECT ... FOR UPDATE`` locks so
# that events of one resident are appended one at a time (append folds all of them).
case_residents = Table(
    "case_residents",
    metadata,
    Column("citizen_id", String(12), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Never updated or deleted: corrections are new rows naming the one they correct.
status_events = Table(
    "status_events",
    metadata,
    Column("event_id", UUID(as_uuid=False), primary_key=True),
    Column("citizen_id", String(12), nullable=False),
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("classification", SmallInteger, nullable=True),
    Column("outcome", SmallInteger, nullable=True),
    Column("care_setting", SmallInteger, nullable=True),
    Column("care_ward_code", String(5), nullable=True),
    Column("care_facility", Text, nullable=True),
    Column("condition", SmallInteger, nullable=True),
    Column("reason", Text, nullable=False),
    Column("corrects_event_id", UUID(as_uuid=False), nullable=True),
    Column("origin", SmallInteger, nullable=False),
    Column("source_agency", Text, nullable=False),
    Column("source_list_id", Text, nullable=False),
    Column("source_report_ref", Text, nullable=False),
    Column("recorded_by_subject", Text, nullable=False),
    Column("recorded_by_agency", Text, nullable=False),
    # For DERIVED events: the reported case the level comes from, and how many links away.
    Column("derived_from", String(12), nullable=True),
    Column("derived_distance", SmallInteger, nullable=True),
    # One correction per event (the domain's rule, kept by the database under concurrency).
    UniqueConstraint("corrects_event_id", name="status_events_one_correction"),
    Index("status_events_citizen", "citizen_id", "effective_at"),
    # Past-time listings by care place: residents with a care event in a ward.
    Index(
        "status_events_care_ward",
        "care_ward_code",
        "citizen_id",
        postgresql_where=text("care_ward_code IS NOT NULL"),
    ),
)

# Where a resident lives, as the registry said the last time this service asked: whenever the
# resident got an event (or was a household member or link end of one), and whenever the
# workflows delivered a registry.residence_changed event of theirs (RefreshResidence).
resident_wards = Table(
    "resident_wards",
    metadata,
    Column("citizen_id", String(12), primary_key=True),
    Column("permanent_ward_code", String(5), nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("temporary_ward_code", String(5), nullable=True),
    Column("temporary_valid_from", Date, nullable=True),
    Column("temporary_valid_to", Date, nullable=True),
    Column("refreshed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("resident_wards_permanent", "permanent_ward_code", "citizen_id"),
    Index("resident_wards_province", "province_code", "permanent_ward_code"),
    Index(
        "resident_wards_temporary",
        "temporary_ward_code",
        "citizen_id",
        postgresql_where=text("temporary_ward_code IS NOT NULL"),
    ),
)

# Each resident's status folded from all their events, written in the transaction of every
# event: what ListCases and CountCases read for "now".
current_status = Table(
    "current_status",
    metadata,
    Column("citizen_id", String(12), primary_key=True),
    Column("classification", SmallInteger, nullable=True),
    Column("origin", SmallInteger, nullable=True),
    Column("outcome", SmallInteger, nullable=True),
    Column("care_setting", SmallInteger, nullable=True),
    Column("care_ward_code", String(5), nullable=True),
    Column("isolation_end", Date, nullable=True),
    Column("classified_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("current_status_classification", "classification", "citizen_id"),
    Index(
        "current_status_care_ward",
        "care_ward_code",
        "citizen_id",
        postgresql_where=text("care_ward_code IS NOT NULL"),
    ),
)

# A contact is undirected: its identity is the ordered pair plus the day, so the same contact
# entered either way round is stored once.
exposure_links = Table(
    "exposure_links",
    metadata,
    Column("low_id", String(12), nullable=False),
    Column("high_id", String(12), nullable=False),
    Column("contact_date", Date, nullable=False),
    Column("contact_id", String(12), nullable=False),
    Column("source_id", String(12), nullable=False),
    Column("setting", SmallInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("recorded_by_subject", Text, nullable=False),
    Column("recorded_by_agency", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("low_id", "high_id", "contact_date", name="exposure_links_key"),
    CheckConstraint("low_id < high_id", name="exposure_links_ordered"),
    # Tracing walks links from a resident on either end.
    Index("exposure_links_high", "high_id"),
)

# Epidemic zones: read by id only (the primary key). Ended by setting end_at once.
zones = Table(
    "zones",
    metadata,
    Column("zone_id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False),
    Column("ward_codes", ARRAY(String(5)), nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=True),
    Column("reason", Text, nullable=False),
    Column("end_reason", Text, nullable=False, server_default=""),
    Column("declared_by_subject", Text, nullable=False),
    Column("declared_by_agency", Text, nullable=False),
    Column("declared_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("end_at IS NULL OR end_at > start_at", name="zones_period"),
)

# One row per daily list imported; its summary is stored as counted when it was imported.
imports = Table(
    "imports",
    metadata,
    Column("import_id", UUID(as_uuid=False), primary_key=True),
    Column("agency", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("list_id", Text, nullable=False),
    Column("list_date", Date, nullable=False),
    Column("ward_code", String(5), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("rows", Integer, nullable=False),
    Column("applied", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("needs_review", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("new_residents", Integer, nullable=False),
    Column("changed_residents", Integer, nullable=False),
    Column("dropped_residents", Integer, nullable=False),
    # The previous list of a ward: the latest one before (list_date, created_at).
    Index("imports_ward", "ward_code", "list_date", "created_at"),
    # ImportState: 1 staged (chunks arriving or being applied), 2 complete. Only complete
    # imports are a ward's previous list; the counts above are zero until then.
    Column("state", SmallInteger, nullable=False, server_default=text("2")),
    # Staged imports: the number of chunks, and who staged the list (subject and wards; the
    # agency is ``agency``): its chunks are applied with that caller's scope.
    Column("chunks", Integer, nullable=False, server_default=text("0")),
    Column("staged_by_subject", Text, nullable=False, server_default=""),
    Column("staged_wards", ARRAY(Text), nullable=False, server_default="{}"),
)

# The chunks of a staged import. ``rows`` holds the chunk's rows as sent (JSON) until it is
# applied, then NULL: import_rows holds them with their results from then on. ``row_numbers``
# (the numbers as sent, in order) stays: later chunks find repeated numbers with it.
import_chunks = Table(
    "import_chunks",
    metadata,
    Column(
        "import_id",
        UUID(as_uuid=False),
        ForeignKey("imports.import_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chunk_number", Integer, primary_key=True),
    Column("row_numbers", ARRAY(Integer), nullable=False),
    Column("rows", JSONB, nullable=True),
    Column("fingerprint", Text, nullable=False),
    Column("staged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("applied_at", DateTime(timezone=True), nullable=True),
    Column("applied", Integer, nullable=False, server_default=text("0")),
    Column("unchanged", Integer, nullable=False, server_default=text("0")),
    Column("needs_review", Integer, nullable=False, server_default=text("0")),
    Column("rejected", Integer, nullable=False, server_default=text("0")),
)

# Every submitted row with its result. ``row_key`` names the resident for day-over-day
# comparison (the matched citizen id, else the normalised name and birth date);
# ``row_signature`` is what the row says about them (classification, care, condition).
import_rows = Table(
    "import_rows",
    metadata,
    Column(
        "import_id",
        UUID(as_uuid=False),
        ForeignKey("imports.import_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("row_number", Integer, primary_key=True),
    Column("citizen_id_submitted", Text, nullable=False),
    Column("full_name", Text, nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("ward_code", Text, nullable=False),
    Column("street", Text, nullable=False),
    Column("classification", SmallInteger, nullable=True),
    Column("effective_date", Date, nullable=True),
    Column("care_setting", SmallInteger, nullable=True),
    Column("care_ward_code", Text, nullable=True),
    Column("care_facility", Text, nullable=True),
    Column("condition", SmallInteger, nullable=True),
    Column("outcome", SmallInteger, nullable=False),
    Column("citizen_id", String(12), nullable=True),
    Column("reason", Text, nullable=False),
    Column("differing_fields", ARRAY(Text), nullable=False),
    Column("candidates", JSONB, nullable=False),
    Column("event_id", UUID(as_uuid=False), nullable=True),
    Column("row_key", Text, nullable=False),
    Column("row_signature", Text, nullable=False),
    Index("import_rows_outcome", "import_id", "outcome", "row_number"),
)

audit_log = audit_table(metadata)
request_log = request_log_table(metadata)
outbox = outbox_table(metadata)
