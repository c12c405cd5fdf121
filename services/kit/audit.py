"""Append-only audit log: who read or changed which personal data, for what purpose.

Every service keeps an ``audit_log`` table in its own database and writes the row in the same
transaction as the read or change it records, so an audited effect and its audit row commit
or vanish together. Rows are never updated or deleted: a trigger refuses both.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.auth import Identity


def audit_table(metadata: MetaData) -> Table:
    return Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("subject", String, nullable=False),
        Column("agency", String, nullable=False),
        Column("roles", ARRAY(String), nullable=False),
        Column("purpose", String, nullable=False),
        Column("action", String, nullable=False),
        Column("resource_type", String, nullable=False),
        Column("resource_ids", ARRAY(String), nullable=False),
        Column("outcome", String, nullable=False),
        Column("request_id", String, nullable=True),
        Column("trace_id", String, nullable=True),
        # "Who saw resident X?" is the question auditors ask most.
        Index("audit_log_resource_ids", "resource_ids", postgresql_using="gin"),
        Index("audit_log_occurred_at", "occurred_at"),
    )


# Applied by each service's first migration: the audit log is evidence, so the database
# itself refuses to rewrite it, whatever the application does.
APPEND_ONLY_DDL = (
    """
    CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()
    """,
)
DROP_APPEND_ONLY_DDL = (
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_is_append_only()",
)


@dataclass(frozen=True)
class AuditEvent:
    action: str
    resource_type: str
    resource_ids: tuple[str, ...]
    outcome: str
    request_id: str | None = None


class AuditWriter:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def write(
        self, conn: AsyncConnection, identity: Identity, event: AuditEvent, trace_id: str | None
    ) -> None:
        await conn.execute(
            self._table.insert().values(
                subject=identity.subject,
                agency=identity.agency,
                roles=sorted(identity.roles),
                purpose=identity.purpose,
                action=event.action,
                resource_type=event.resource_type,
                resource_ids=list(event.resource_ids),
                outcome=event.outcome,
                request_id=event.request_id,
                trace_id=trace_id,
            )
        )
