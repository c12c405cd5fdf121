"""``dancu welfare`` against the session's servers: the queue, a case with its eligibility
explanation, and a decision by a second officer (the maker is refused)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.welfare.v1 import welfare_service_pb2 as pb

from services.cli import welfare
from services.kit.auth import Identity, TokenIssuer
from services.welfare.domain.examples import MEAL_SUPPORT
from tests.integration.registry_client import new_request_id, register
from tests.integration.welfare_client import (
    CHECKER,
    OFFICER,
    WelfareClients,
    open_request,
    publish_monthly_program,
    record_stay,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

    from services.kit.server import Server


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dancu welfare")
    welfare.add_arguments(parser)
    return parser.parse_args(argv)


def _case_id(printed: str) -> str:
    """The id in the title of the case table ("benefit case <id>")."""
    match = re.search(r"benefit case ([0-9a-f-]{36})", printed)
    assert match, printed
    return match.group(1)


def _token_file(tmp_path: Path, issuer: TokenIssuer, identity: Identity) -> str:
    path = tmp_path / f"{identity.subject}.jwt"
    path.write_text(issuer.issue(identity))
    return str(path)


async def test_an_officer_checks_opens_and_reads_the_queue_and_a_checker_decides(
    welfare_server: Server,
    welfare_clients: WelfareClients,  # publishes the example programs
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    token_issuer: TokenIssuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    resident = await register(registrar)
    await record_stay(
        cdc,
        resident.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_CENTRALISED_QUARANTINE,
        dt.date(2021, 8, 2),
        dt.date(2021, 8, 16),
    )
    server = ["--server", f"127.0.0.1:{welfare_server.port}"]
    maker = ["--token-file", _token_file(tmp_path, token_issuer, OFFICER)]
    checker = ["--token-file", _token_file(tmp_path, token_issuer, CHECKER)]

    checked = await welfare.run(
        _args(["check", resident.citizen_id, "--date", "2021-08-10", *server, *maker])
    )
    check_output = capsys.readouterr().out
    opened = await welfare.run(_args(["open", MEAL_SUPPORT, resident.citizen_id, *server, *maker]))
    case_id = _case_id(capsys.readouterr().out)
    queued = await welfare.run(
        _args(["queue", "--state", "open", "--limit", "200", *server, *maker])
    )
    queue = capsys.readouterr().out
    shown = await welfare.run(_args(["show", case_id, *server, *maker]))
    explained = capsys.readouterr().out
    taken = await welfare.run(_args(["assign", case_id, *server, *maker]))
    assigned = capsys.readouterr().out
    refused = await welfare.run(
        _args(["decide", case_id, "--approve", "--reason", "ok", *server, *maker])
    )
    refusal = capsys.readouterr().err
    decided = await welfare.run(
        _args(["decide", case_id, "--approve", "--reason", "giấy tờ đủ", *server, *checker])
    )
    decision = capsys.readouterr().out

    assert (checked, opened, queued, shown, taken, refused, decided) == (0, 0, 0, 0, 0, 1, 0)
    # On 10 August the stay had lasted 8 days; both self programs are explained.
    assert "MEAL_SUPPORT_F0_F1 version 1" in check_output
    assert "CHILD_F0_F1_ONE_TIME version 1" in check_output
    assert "8 days × 80,000 VND per day" in check_output
    assert "beneficiary.age = 36" in check_output
    row = next(line for line in queue.splitlines() if case_id in line)
    assert "MEAL_SUPPORT_F0_F1 v1" in row
    assert "1,120,000 ₫" in row
    assert "open" in row
    assert "ELIGIBLE" in explained
    assert "treated_or_quarantined" in explained
    assert '"CENTRALISED_QUARANTINE": 14' in explained
    assert "14 days × 80,000 VND per day" in explained
    assert "DECIDER_IS_MAKER" in refusal
    assert f"assigned to {OFFICER.subject}" in assigned
    assert "approved" in decision
    assert "giấy tờ đủ" in decision


async def test_show_lists_the_months_paid_and_a_stop(
    welfare_server: Server,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
    checker: WelfareServiceAsyncStub,
    supervisor: WelfareServiceAsyncStub,
    token_issuer: TokenIssuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    program = await publish_monthly_program(supervisor, months=4, amount_vnd=1_500_000)
    resident = await register(registrar)
    await record_stay(
        cdc,
        resident.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        dt.date(2021, 8, 2),
        dt.date(2021, 8, 16),
    )
    case_id = (
        await officer.OpenBenefitCase(open_request(program, resident.citizen_id))
    ).benefit_case.case_id
    await officer.AssignBenefitCase(
        pb.AssignBenefitCaseRequest(request_id=new_request_id(), case_id=case_id)
    )
    await checker.DecideBenefitCase(
        pb.DecideBenefitCaseRequest(
            request_id=new_request_id(),
            case_id=case_id,
            decision=pb.DECISION_APPROVE,
            reason="đủ hồ sơ",
        )
    )
    for period in (1, 2):
        await officer.RecordPayment(
            pb.RecordPaymentRequest(
                request_id=new_request_id(),
                case_id=case_id,
                payment_reference=f"KBNN-{case_id[:8]}-{period}",
                period=period,
            )
        )
    await checker.WithdrawBenefitCase(
        pb.WithdrawBenefitCaseRequest(
            request_id=new_request_id(), case_id=case_id, reason="death revoked"
        )
    )
    server = ["--server", f"127.0.0.1:{welfare_server.port}"]
    maker = ["--token-file", _token_file(tmp_path, token_issuer, OFFICER)]

    shown = await welfare.run(_args(["show", case_id, *server, *maker]))
    printed = capsys.readouterr().out

    assert shown == 0
    assert "2 of 4 monthly payments" in printed
    # The payments table's rows (the history names the first payment too, without an amount).
    rows = [line for line in printed.splitlines() if f"KBNN-{case_id[:8]}-" in line and "₫" in line]
    assert len(rows) == 2
    assert "1/4" in rows[0]
    assert "1,500,000 ₫" in rows[0]
    assert "2/4" in rows[1]
    assert "stopped" in printed
    assert "death revoked" in printed
