"""GetResident's audited reads, group-committed: one SQL statement answers many calls.

Every GetResident reads one resident and must commit one audit row before it answers. One
transaction per call (BEGIN, SELECT, INSERT, COMMIT) makes the registry's hottest read pay
four round trips and their overhead for very little work. Instead ``GroupCommit``
(``services.kit.group_commit``) gathers the calls that arrive while earlier batches are in the
database, and ``BatchedResidentReads`` answers a whole batch with one autocommitted statement
that reads the residents each caller may see and inserts every call's audit row ("ok" or
"not_found"). A single statement is atomic: no answer leaves before its audit row is
committed, and no audit row records a read that did not happen.

No call waits for a timer: a call that finds fewer than ``max_in_flight`` batches running is
sent at once (a batch of one); the others queue and the next batch to leave takes up to
``max_batch`` of them. Under light load every call is its own batch; under heavy load batches
grow and the database sees a few large statements instead of many small transactions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.auth import Identity
from services.kit.group_commit import GroupCommit
from services.kit.held_statements import HeldStatements
from services.kit.telemetry import current_trace_id
from services.registry.adapters.repository import resident_from_row
from services.registry.domain.model import Resident

MAX_BATCH = 256
# One batch at a time: the calls that arrive meanwhile leave together as soon as it returns.
# Measured with bench.get_resident (1M residents, 16 calls in flight, 2 cores, three runs
# each): one in flight made batches of 2.1-2.4 calls on average and served 1,750-1,940 calls/s
# (0.51-0.54 of the echo ceiling); two in flight let nearly every call leave alone (1.2 per
# batch) and served 1,300-1,350 calls/s (0.38-0.39).
MAX_IN_FLIGHT = 1


@dataclass(frozen=True)
class ReadCall:
    """One GetResident call: who asks for whom, on which day, in which trace."""

    identity: Identity
    citizen_id: str
    today: dt.date
    trace_id: str | None


# One statement per batch, one row of ``calls`` per call (its ordinal keeps duplicates apart).
# The calls travel as one JSON document: every text round-trips exactly, roles and wards
# included, and a single parameter keeps the prepared statement on one generic plan (with an
# array per column, PostgreSQL planned each execution anew, which cost more than running it).
# ``hit`` is what each caller may see: the rule of ``Resident.residence_wards`` and
# ``use_cases._visible`` (a test holds the two together). Every call gets its audit row,
# whatever it found; the statement commits on its own. Written for psycopg directly.
STATEMENT = """
WITH calls AS (
    SELECT *
    FROM jsonb_to_recordset(%(calls)s::jsonb) AS c(
        ordinal integer, citizen_id varchar, today date, subject varchar, agency varchar,
        roles varchar[], purpose varchar, trace_id varchar, nationwide boolean, wards varchar[]
    )
),
hit AS (
    SELECT c.ordinal, r.*
    FROM calls AS c
    JOIN residents AS r ON r.citizen_id = c.citizen_id
    WHERE c.nationwide
       OR r.perm_ward_code = ANY (c.wards)
       OR (
           r.temp_ward_code = ANY (c.wards)
           AND r.temp_valid_from <= c.today
           AND (r.temp_valid_to IS NULL OR c.today <= r.temp_valid_to)
       )
),
audited AS (
    INSERT INTO audit_log (
        subject, agency, roles, purpose, action, resource_type, resource_ids, outcome,
        request_id, trace_id
    )
    SELECT c.subject, c.agency, c.roles, c.purpose, 'GetResident', 'resident',
           ARRAY[c.citizen_id],
           CASE WHEN hit.ordinal IS NULL THEN 'not_found' ELSE 'ok' END,
           NULL, c.trace_id
    FROM calls AS c
    LEFT JOIN hit ON hit.ordinal = c.ordinal
    ORDER BY c.ordinal
)
SELECT * FROM hit
"""


def parameters(calls: Sequence[ReadCall]) -> dict[str, str]:
    """The statement's parameter for ``calls``: ordinals from 1, in call order."""
    return {
        "calls": json.dumps(
            [
                {
                    "ordinal": ordinal,
                    "citizen_id": call.citizen_id,
                    "today": call.today.isoformat(),
                    "subject": call.identity.subject,
                    "agency": call.identity.agency,
                    "roles": sorted(call.identity.roles),
                    "purpose": call.identity.purpose,
                    "trace_id": call.trace_id,
                    "nationwide": call.identity.nationwide,
                    "wards": sorted(call.identity.wards),
                }
                for ordinal, call in enumerate(calls, start=1)
            ]
        )
    }


class BatchedResidentReads:
    """``AuditedResidentReads`` over PostgreSQL, group-committed (see the module docstring).

    Each batch is one autocommitted statement on a connection held out of the engine's pool
    (``services.kit.held_statements``); ``aclose()`` gives the connections back and must run
    before ``engine.dispose()``.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._statements = HeldStatements(engine)
        self.group = GroupCommit(self.execute, max_batch=max_batch, max_in_flight=max_in_flight)

    async def get(self, identity: Identity, citizen_id: str, today: dt.date) -> Resident | None:
        # The trace id is the caller's: read here, in its context, not in the batch's task.
        return await self.group.submit(ReadCall(identity, citizen_id, today, current_trace_id()))

    async def execute(self, calls: Sequence[ReadCall]) -> list[Resident | None]:
        """Answers and audits one batch with one statement; the residents in call order."""
        rows = await self._statements.fetch(STATEMENT, parameters(calls))
        found = {row.ordinal: resident_from_row(row) for row in rows}
        return [found.get(ordinal) for ordinal in range(1, len(calls) + 1)]

    async def aclose(self) -> None:
        """Gives the held connections back to the pool (before ``engine.dispose()``)."""
        await self._statements.aclose()
