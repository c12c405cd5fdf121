"""The run command, as a newcomer uses it: start the suite, call it with grpcurl, stop it.

Starts ``dancu start --demo`` as a process with an embedded PostgreSQL in a fresh home,
follows the printed instructions (reflection listing, health check, GetResident with a
persona token, a checkpoint scan), then stops it with SIGINT and checks that no process it
started survives.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from tests.e2e.suite import Suite, running_suite

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with running_suite(tmp_path_factory.mktemp("dancu-home"), population=3000) as running:
        yield running


def test_reflection_lists_the_registry(suite: Suite) -> None:
    services = suite.grpcurl(suite.address, "list").split()
    assert "dancu.registry.v1.RegistryService" in services
    assert "grpc.health.v1.Health" in services


def test_health_reports_serving(suite: Suite) -> None:
    reply = json.loads(suite.grpcurl(suite.address, "grpc.health.v1.Health/Check"))
    assert reply["status"] == "SERVING"


def test_printed_get_resident_example_works(suite: Suite) -> None:
    printed = "".join(suite.output)
    match = re.search(r'"citizen_id": "(\d{12})"', printed)
    assert match, "the welcome text shows a GetResident example with a demo citizen id"
    token = (suite.home / "tokens" / "ward-police-hoan-kiem.jwt").read_text().strip()
    reply = json.loads(
        suite.grpcurl(
            "-d",
            json.dumps({"citizen_id": match.group(1)}),
            suite.address,
            "dancu.registry.v1.RegistryService/GetResident",
            token=token,
        )
    )
    resident = reply["resident"]
    assert resident["citizen_id"] == match.group(1)
    assert resident["permanent_residence"]["ward_code"] == "00070"
    assert resident["permanent_residence"]["ward_name"] == "Phường Hoàn Kiếm"


def test_case_status_records_an_f0_checked_against_the_running_registry(suite: Suite) -> None:
    printed = "".join(suite.output)
    match = re.search(r'"citizen_id": "(\d{12})"', printed)
    assert match
    citizen_id = match.group(1)
    token = (suite.home / "tokens" / "health-agency.jwt").read_text().strip()
    assert "dancu.case_status.v1.CaseStatusService" in suite.grpcurl(suite.case_status, "list")
    event = {
        "request_id": f"e2e-{citizen_id}",
        "event": {
            "citizen_id": citizen_id,
            "effective_time": "2021-09-18T08:00:00+07:00",
            "classification": "CLASSIFICATION_F0",
            "care": {"setting": "CARE_SETTING_HOME_ISOLATION", "ward_code": "00070"},
            "source": {"agency": "cdc-ha-noi", "list_id": "e2e"},
        },
    }
    suite.grpcurl(
        "-d",
        json.dumps(event),
        suite.case_status,
        "dancu.case_status.v1.CaseStatusService/RecordStatus",
        token=token,
    )
    reply = json.loads(
        suite.grpcurl(
            "-d",
            json.dumps({"citizen_id": citizen_id}),
            suite.case_status,
            "dancu.case_status.v1.CaseStatusService/GetCaseStatus",
            token=token,
        )
    )
    assert reply["status"]["classification"] == "CLASSIFICATION_F0"
    assert len(reply["timeline"]) == 1


def test_a_case_recorded_in_case_status_reaches_the_checkpoint_through_the_workflows(
    suite: Suite,
) -> None:
    """Case status's outbox relay, the Temporal dev server, the worker's propagation workflow
    and alerts' watchlist, as started by the run command."""
    printed = "".join(suite.output)
    assert "dancu.alerts.v1.AlertsService/Scan" in printed, "the welcome text shows a Scan"
    police = (suite.home / "tokens" / "ward-police-hoan-kiem.jwt").read_text().strip()
    operator = (suite.home / "tokens" / "checkpoint-hoan-kiem.jwt").read_text().strip()
    health = (suite.home / "tokens" / "health-agency.jwt").read_text().strip()
    # A resident of the ward other than the one the welcome text shows (an earlier test made
    # that one F0).
    found = json.loads(
        suite.grpcurl(
            "-d",
            json.dumps({"ward_code": "00070", "page_size": 5}),
            suite.address,
            "dancu.registry.v1.RegistryService/SearchResidents",
            token=police,
        )
    )
    citizen_id = found["residents"][-1]["citizen_id"]
    checkpoint = {
        "request_id": "e2e-checkpoint",
        "checkpoint": {
            "code": "HK-E2E-1",
            "name": "Chốt Hàng Bài",
            "ward_code": "00070",
            "operating_agency": "cong-an-phuong-hoan-kiem",
        },
    }
    alerts_service = "dancu.alerts.v1.AlertsService"
    suite.grpcurl(
        "-d",
        json.dumps(checkpoint),
        suite.alerts,
        f"{alerts_service}/RegisterCheckpoint",
        token=police,
    )

    def scan(request_id: str) -> dict[str, Any]:
        scan = {
            "request_id": request_id,
            "checkpoint_code": "HK-E2E-1",
            "qr_payload": f"DC1:{citizen_id}",
        }
        reply: dict[str, Any] = json.loads(
            suite.grpcurl(
                "-d", json.dumps(scan), suite.alerts, f"{alerts_service}/Scan", token=operator
            )
        )
        return reply

    before = scan("e2e-scan-0")
    # Exposed an hour ago: the quarantine runs for days, so the isolation follow-up does not
    # clear the resident (and unflag them) while the test looks.
    exposed = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    event = {
        "request_id": f"e2e-f1-{citizen_id}",
        "event": {
            "citizen_id": citizen_id,
            "effective_time": exposed,
            "classification": "CLASSIFICATION_F1",
            "source": {"agency": "cdc-ha-noi", "list_id": "e2e"},
        },
    }
    suite.grpcurl(
        "-d",
        json.dumps(event),
        suite.case_status,
        "dancu.case_status.v1.CaseStatusService/RecordStatus",
        token=health,
    )
    # The relay polls every 0.2 s and the workflow runs two activities: well under the bound.
    after: dict[str, Any] = {}
    for attempt in range(1, 61):
        after = scan(f"e2e-scan-{attempt}")
        if after["verdict"] == "VERDICT_WARN":
            break
        time.sleep(0.5)

    assert before["verdict"] == "VERDICT_PASS"
    assert set(after) == {"scan_id", "verdict"}
    assert after["verdict"] == "VERDICT_WARN"
    listed = json.loads(
        suite.grpcurl(
            "-d",
            json.dumps({"ward_code": "00070"}),
            suite.alerts,
            f"{alerts_service}/ListAlerts",
            token=police,
        )
    )
    mine = [a for a in listed["alerts"] if a["citizen_id"] == citizen_id]
    assert {a["kind"] for a in mine} == {
        "ALERT_KIND_STATUS_CHANGE",
        "ALERT_KIND_CHECKPOINT_WARNING",
    }
    assert [a["scan_id"] for a in mine if "scan_id" in a] == [after["scan_id"]]


def test_welfare_serves_the_example_programs_and_the_printed_check(suite: Suite) -> None:
    printed = "".join(suite.output)
    match = re.search(r'"beneficiary_citizen_id": "(\d{12})"', printed)
    assert match, "the welcome text shows a CheckEligibility example"
    token = (suite.home / "tokens" / "welfare-officer.jwt").read_text().strip()
    programs = json.loads(
        suite.grpcurl(suite.welfare, "dancu.welfare.v1.WelfareService/ListPrograms", token=token)
    )
    reply = json.loads(
        suite.grpcurl(
            "-d",
            json.dumps({"beneficiary_citizen_id": match.group(1)}),
            suite.welfare,
            "dancu.welfare.v1.WelfareService/CheckEligibility",
            token=token,
        )
    )
    assert sorted(p["code"] for p in programs["programs"]) == [
        "CHILD_F0_F1_ONE_TIME",
        "COVID_FUNERAL_SUPPORT",
        "MEAL_SUPPORT_F0_F1",
        "ORPHAN_MONTHLY_SUPPORT",
    ]
    assert all(p["example"] for p in programs["programs"])
    # The self programs, each explained clause by clause.
    assert {a["program_code"] for a in reply["assessments"]} == {
        "CHILD_F0_F1_ONE_TIME",
        "MEAL_SUPPORT_F0_F1",
    }
    assert all(a["clauses"][0]["name"] == "program_in_force" for a in reply["assessments"])


def test_sigint_stops_every_process(suite: Suite) -> None:
    parent = psutil.Process(suite.process.pid)
    started = parent.children(recursive=True)
    commands = [" ".join(p.cmdline()) for p in started]
    assert any("services.registry" in c for c in commands)
    assert any("services.case_status" in c for c in commands)
    assert any("services.alerts" in c for c in commands)
    assert any("services.welfare" in c for c in commands)
    assert any("-m workflows" in c for c in commands)
    assert any("start-dev" in c for c in commands)
    suite.process.send_signal(signal.SIGINT)
    assert suite.process.wait(60) == 0
    _, alive = psutil.wait_procs(started, timeout=30)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"
    # The embedded PostgreSQL runs detached from the supervisor; it must be stopped too.
    pgdata = str(suite.home / "pgdata")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _postgres_running(pgdata):
        time.sleep(0.5)
    assert not _postgres_running(pgdata)


def _postgres_running(pgdata: str) -> bool:
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(pgdata in part for part in cmdline):
            return True
    return False
