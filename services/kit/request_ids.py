"""Request-id store (AIP-155): a retried mutation returns the first result, exactly once.

Stored responses hold personal data, so they are kept for a retention period only
(``purge_responses``, run by ``dancu purge-responses``); the claim itself stays, so a request
retried after that is refused (REQUEST_RESPONSE_EXPIRED) rather than carried out twice.

The use case claims ``(agency, request_id)`` at the start of its transaction with an
``INSERT ... ON CONFLICT DO NOTHING``. A concurrent retry blocks on that row until the first
transaction ends, then either finds the stored response (same payload: replay it) or a
different payload fingerprint (reject). If the first transaction rolls back, the claim
vanishes with it and the retry proceeds as the first attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from google.protobuf.message import Message
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.errors import AlreadyExists, FieldViolation, InvalidInput

MAX_REQUEST_ID_LENGTH = 128


def request_log_table(metadata: MetaData) -> Table:
    return Table(
        "request_log",
        metadata,
        Column("agency", String, primary_key=True),
        Column("request_id", String, primary_key=True),
        Column("method", String, nullable=False),
        Column("fingerprint", String, nullable=False),
        Column("response", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def fingerprint(method: str, request: Message) -> str:
    """Identifies a request's payload; deterministic serialisation keeps it stable."""
    digest = hashlib.sha256(method.encode())
    digest.update(request.SerializeToString(deterministic=True))
    return digest.hexdigest()


def validate_request_id(request_id: str, field: str = "request_id") -> None:
    if not request_id or len(request_id) > MAX_REQUEST_ID_LENGTH or not request_id.isprintable():
        raise InvalidInput(
            [
                FieldViolation(
                    field,
                    "REQUEST_ID_INVALID",
                    f"must be 1 to {MAX_REQUEST_ID_LENGTH} printable characters",
                )
            ]
        )


@dataclass(frozen=True)
class IdempotencyKey:
    """What a mutation is retried by: its request id and the fingerprint of its payload."""

    request_id: str
    fingerprint: str


@dataclass(frozen=True)
class StoredResponse:
    """The serialized response of a request's first execution, returned again on replay."""

    data: bytes


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming a request id: either new work, or the stored earlier response."""

    is_new: bool
    stored_response: bytes | None = None


class RequestLog:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def claim(
        self, conn: AsyncConnection, agency: str, method: str, key: IdempotencyKey
    ) -> Claim:
        inserted = await conn.execute(
            insert(self._table)
            .values(
                agency=agency,
                request_id=key.request_id,
                method=method,
                fingerprint=key.fingerprint,
            )
            .on_conflict_do_nothing()
            .returning(self._table.c.request_id)
        )
        if inserted.first() is not None:
            return Claim(is_new=True)
        row = (
            await conn.execute(
                select(
                    self._table.c.method, self._table.c.fingerprint, self._table.c.response
                ).where(self._table.c.agency == agency, self._table.c.request_id == key.request_id)
            )
        ).one()
        if row.method != method or row.fingerprint != key.fingerprint:
            raise AlreadyExists(
                "REQUEST_ID_REUSED", "request_id was already used for a different request"
            )
        return Claim(is_new=False, stored_response=row.response)

    async def complete(
        self, conn: AsyncConnection, agency: str, request_id: str, response: bytes
    ) -> None:
        await conn.execute(
            self._table.update()
            .where(self._table.c.agency == agency, self._table.c.request_id == request_id)
            .values(response=response)
        )


async def purge_responses(conn: AsyncConnection, table: Table, older_than: dt.datetime) -> int:
    """Drops the stored responses of requests claimed before ``older_than``; how many."""
    purged = await conn.execute(
        table.update()
        .where(table.c.created_at < older_than, table.c.response.is_not(None))
        .values(response=None)
    )
    return int(purged.rowcount or 0)
