"""The alerts database (SQLAlchemy Core tables). Alembic migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from services.kit.audit import audit_table
from services.kit.outbox import outbox_table
from services.kit.request_ids import request_log_table

metadata = MetaData()

# Both feeds take their numbers under one transaction-scoped advisory lock (FEED_LOCK in
# repository.py), so numbers become visible in the order they were taken and a reader that
# has seen number n has seen every number below it.
watchlist_change_seq = Sequence("watchlist_change_seq", metadata=metadata)
alerts_cursor_seq = Sequence("alerts_cursor_seq", metadata=metadata)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("ward_code", String(5), nullable=False),
    Column("operating_agency", Text, nullable=False),
    Column("reveal_level", Boolean, nullable=False),
    Column("created_by_agency", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per scan, written before the checkpoint gets its answer. It is also the scan's audit
# record (who, for which agency and purpose, in which trace): append-only, like audit_log.
scans = Table(
    "scans",
    metadata,
    Column("scan_id", UUID(as_uuid=False), primary_key=True),
    Column("agency", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("checkpoint_code", String(32), nullable=False),
    Column("citizen_id", String(12), nullable=False),
    Column("scanned_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("verdict", SmallInteger, nullable=False),
    Column("level", SmallInteger, nullable=True),
    # The status event that made the resident flagged, for a WARN.
    Column("event_id", Text, nullable=True),
    Column("subject", Text, nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("trace_id", Text, nullable=True),
    UniqueConstraint("agency", "request_id", name="scans_request"),
    Index("scans_citizen", "citizen_id", "scanned_at"),
    Index("scans_checkpoint", "checkpoint_code", "scanned_at"),
)

# The residents currently flagged. A row whose level is NULL says "no longer flagged": it
# stays so that replicas learn of the change by its sequence number.
watchlist = Table(
    "watchlist",
    metadata,
    Column("citizen_id", String(12), primary_key=True),
    Column("level", SmallInteger, nullable=True),
    Column("event_id", Text, nullable=False),
    Column("effective_at", DateTime(timezone=True), nullable=False),
    # [{"ward_code": "00070", "role": 1}, ...]: where a warning about the resident goes.
    Column("wards", JSONB, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("watchlist_change_seq_idx", "change_seq", unique=True),
)

# Every case-status event applied, once: the claim that makes ApplyStatusChange idempotent.
status_changes = Table(
    "status_changes",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("citizen_id", String(12), nullable=False),
    Column("classification", SmallInteger, nullable=True),
    Column("level_origin", SmallInteger, nullable=True),
    Column("outcome", SmallInteger, nullable=True),
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("isolation_end", Date, nullable=True),
    Column("corrects_event_id", Text, nullable=True),
    Column("care_ward_code", String(5), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", UUID(as_uuid=False), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
    # The status event id, or the scan id of a warning: one alert per source and ward.
    Column("source_id", Text, nullable=False),
    Column("ward_code", String(5), nullable=False),
    Column("ward_role", SmallInteger, nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("citizen_id", String(12), nullable=False),
    Column("classification", SmallInteger, nullable=True),
    Column("outcome", SmallInteger, nullable=True),
    Column("event_id", Text, nullable=True),
    Column("checkpoint_code", String(32), nullable=True),
    Column("scan_id", Text, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("state", SmallInteger, nullable=False),
    Column("acknowledged_by", Text, nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("source_id", "ward_code", name="alerts_once_per_ward"),
    # The ward's feed (WatchAlerts) and its listing, newest first (ListAlerts).
    Index("alerts_ward_cursor", "ward_code", "cursor", unique=True),
    Index("alerts_created", "created_at"),
)

alert_verifications = Table(
    "alert_verifications",
    metadata,
    Column("alert_id", UUID(as_uuid=False), ForeignKey("alerts.alert_id"), primary_key=True),
    Column("outcome", SmallInteger, nullable=False),
    Column("care_setting", SmallInteger, nullable=True),
    Column("note", Text, nullable=False),
    Column("verified_by_subject", Text, nullable=False),
    Column("verified_by_agency", Text, nullable=False),
    Column("verified_at", DateTime(timezone=True), nullable=False),
)

review_items = Table(
    "review_items",
    metadata,
    Column("review_item_id", UUID(as_uuid=False), primary_key=True),
    Column("alert_id", UUID(as_uuid=False), ForeignKey("alerts.alert_id"), nullable=False),
    Column("ward_code", String(5), nullable=False),
    Column("citizen_id", String(12), nullable=False),
    Column("reason", Text, nullable=False),
    Column("case_classification", SmallInteger, nullable=True),
    Column("case_outcome", SmallInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("review_items_ward", "ward_code", "created_at"),
)

audit_log = audit_table(metadata)
request_log = request_log_table(metadata)
outbox = outbox_table(metadata)
