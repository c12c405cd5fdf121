"""The scan recorder's answers: one per scan, in call order, retries answered like the first."""

from __future__ import annotations

import datetime as dt
import json
from collections import namedtuple

from services.alerts.adapters.scan_recorder import answers, parameters
from services.alerts.domain.model import (
    AlertWard,
    Checkpoint,
    Classification,
    ScanDecision,
    Verdict,
    WardRole,
)
from services.alerts.ports import RecordedScan, ScanRecord
from services.kit.auth import Identity

Row = namedtuple(
    "Row",
    "ordinal new earlier_scan_id earlier_verdict earlier_level earlier_checkpoint earlier_citizen",
)
OPERATOR = Identity("op-1", "agency-1", frozenset({"checkpoint"}), frozenset({"00070"}))
CHECKPOINT = Checkpoint("HK-01", "Chốt", "00070", "agency-1", False)
PASS = ScanDecision(Verdict.PASS, None, (), None)
WARN = ScanDecision(Verdict.WARN, None, (AlertWard("00070", WardRole.CHECKPOINT),), "event-1")


def scan(scan_id: str, request_id: str, citizen_id: str, decision: ScanDecision) -> ScanRecord:
    level = Classification.F0 if decision.verdict is Verdict.WARN else None
    return ScanRecord(
        scan_id,
        request_id,
        OPERATOR,
        None,
        CHECKPOINT,
        citizen_id,
        dt.datetime(2021, 9, 16, tzinfo=dt.UTC),
        decision,
        level,
    )


def fresh(ordinal: int) -> Row:
    return Row(ordinal, True, None, None, None, None, None)


def test_new_scans_are_answered_as_decided() -> None:
    batch = [scan("s1", "r1", "001085000001", PASS), scan("s2", "r2", "001085000002", WARN)]

    assert answers(batch, [fresh(2), fresh(1)]) == [
        RecordedScan("s1", Verdict.PASS, None, replayed=False),
        RecordedScan("s2", Verdict.WARN, Classification.F0, replayed=False),
    ]


def test_a_request_id_stored_before_answers_the_stored_scan_or_a_conflict() -> None:
    batch = [scan("s9", "r1", "001085000001", PASS), scan("s10", "r2", "001085000002", PASS)]
    rows = [
        Row(1, False, "s1", Verdict.WARN, Classification.F1, "HK-01", "001085000001"),
        Row(2, False, "s2", Verdict.PASS, None, "HK-01", "001085000999"),
    ]

    assert answers(batch, rows) == [
        RecordedScan("s1", Verdict.WARN, Classification.F1, replayed=True),
        RecordedScan("s2", Verdict.PASS, None, replayed=True, conflict=True),
    ]


def test_the_same_request_id_twice_in_one_batch_gets_the_first_scan() -> None:
    batch = [
        scan("s1", "r1", "001085000001", WARN),
        scan("s2", "r1", "001085000001", WARN),
        scan("s3", "r1", "001085000777", PASS),
    ]
    rows = [fresh(1), Row(2, False, *([None] * 5)), Row(3, False, *([None] * 5))]

    assert answers(batch, rows) == [
        RecordedScan("s1", Verdict.WARN, Classification.F0, replayed=False),
        RecordedScan("s1", Verdict.WARN, Classification.F0, replayed=True),
        RecordedScan("s1", Verdict.WARN, Classification.F0, replayed=True, conflict=True),
    ]


def test_the_statement_gets_every_scan_and_a_warn_s_wards_in_one_document() -> None:
    batch = [scan("s1", "r1", "001085000001", PASS), scan("s2", "r2", "001085000002", WARN)]

    sent = json.loads(parameters(batch)["scans"])

    assert [(s["ordinal"], s["scan_id"], s["verdict"]) for s in sent] == [
        (1, "s1", 1),
        (2, "s2", 2),
    ]
    assert sent[0]["wards"] == []
    assert sent[1]["wards"] == [{"ward_code": "00070", "role": WardRole.CHECKPOINT}]
    assert (sent[1]["subject"], sent[1]["purpose"], sent[1]["roles"]) == (
        "op-1",
        "unspecified",
        ["checkpoint"],
    )
