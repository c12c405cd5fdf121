"""The scan batch statement's plan: its cost must not grow with the scans already stored."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg

from services.alerts.adapters.scan_recorder import STATEMENT, parameters
from services.alerts.domain.model import Checkpoint, ScanDecision, Verdict
from services.alerts.migrations import MIGRATIONS
from services.alerts.ports import ScanRecord
from services.kit.auth import Identity
from tests.support.postgres import DatabaseFactory

STORED = 20_000
OPERATOR = Identity("op-1", "agency-1", frozenset({"checkpoint"}), frozenset({"00070"}))
CHECKPOINT = Checkpoint("HK-01", "Chốt", "00070", "agency-1", False)
PASS = ScanDecision(Verdict.PASS, None, (), None)


def _scan(n: int) -> ScanRecord:
    return ScanRecord(
        str(uuid.uuid4()),
        f"batch-{n}",
        OPERATOR,
        None,
        CHECKPOINT,
        f"001085{n:06d}",
        dt.datetime.now(dt.UTC),
        PASS,
        None,
    )


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def test_a_batch_probes_the_request_index_however_stale_the_statistics(
    fresh_database_url: DatabaseFactory,
) -> None:
    """Stored scans the statistics do not know of yet (the table grew since it was last
    analysed): the batch must still look its request ids up by index, not read every row."""
    url = fresh_database_url("alerts_scan_statement")
    MIGRATIONS.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE scans SET (autovacuum_enabled = false)")
        conn.execute("ANALYZE scans")  # empty: what the planner knows from now on
        conn.execute(
            "INSERT INTO scans (scan_id, agency, request_id, checkpoint_code, citizen_id,"
            " scanned_at, verdict, subject, roles, purpose)"
            " SELECT gen_random_uuid(), 'agency-1', 'stored-' || n, 'HK-01',"
            " lpad(n::text, 12, '0'), now(), 1, 'op-1', '{checkpoint}', ''"
            " FROM generate_series(1, %s) AS n",
            (STORED,),
        )
        batch = [_scan(n) for n in range(6)]
        explained = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + STATEMENT, parameters(batch)
        ).fetchone()
        assert explained is not None
        document = explained[0]
        plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
        stored = conn.execute("SELECT count(*) FROM scans").fetchone()

    scans_read = [
        n
        for n in _nodes(plan)
        if n.get("Relation Name") == "scans" and n["Node Type"] != "ModifyTable"
    ]
    assert stored == (STORED + len(batch),)  # the statement ran and inserted the batch
    assert scans_read  # the lookup of earlier scans is in the plan
    assert {n["Node Type"] for n in scans_read} <= {"Index Scan", "Index Only Scan"}
    # Only a request id seen before is looked up: a new batch reads no stored scan at all.
    assert sum(n.get("Actual Rows", 0) for n in scans_read) == 0
