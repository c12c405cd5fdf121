"""``dancu welfare`` against the session's servers: the queue, a case with its eligibility
explanation, and a decision by a second officer (the maker is refused)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from dancu.case_status.v1 import case_pb2 as cpb

from services.cli import welfare
from services.kit.auth import Identity, TokenIssuer
from services.welfare.domain.examples import MEAL_SUPPORT
from tests.integration.registry_client import register
from tests.integration.welfare_client import CHECKER, OFFICER, open_request, record_stay

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

    from services.kit.server import Server


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dancu welfare")
    welfare.add_arguments(parser)
    return parser.parse_args(argv)


def _token_file(tmp_path: Path, issuer: TokenIssuer, identity: Identity) -> str:
    path = tmp_path / f"{identity.subject}.jwt"
    path.write_text(issuer.issue(identity))
    return str(path)


async def test_an_officer_reads_the_queue_and_the_explanation_and_a_checker_decides(
    welfare_server: Server,
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
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
    case = (
        await officer.OpenBenefitCase(open_request(MEAL_SUPPORT, resident.citizen_id))
    ).benefit_case
    server = ["--server", f"127.0.0.1:{welfare_server.port}"]
    maker = ["--token-file", _token_file(tmp_path, token_issuer, OFFICER)]
    checker = ["--token-file", _token_file(tmp_path, token_issuer, CHECKER)]

    queued = await welfare.run(
        _args(["queue", "--state", "open", "--limit", "200", *server, *maker])
    )
    queue = capsys.readouterr().out
    shown = await welfare.run(_args(["show", case.case_id, *server, *maker]))
    explained = capsys.readouterr().out
    taken = await welfare.run(_args(["assign", case.case_id, *server, *maker]))
    assigned = capsys.readouterr().out
    refused = await welfare.run(
        _args(["decide", case.case_id, "--approve", "--reason", "ok", *server, *maker])
    )
    refusal = capsys.readouterr().err
    decided = await welfare.run(
        _args(["decide", case.case_id, "--approve", "--reason", "giấy tờ đủ", *server, *checker])
    )
    decision = capsys.readouterr().out

    assert (queued, shown, taken, refused, decided) == (0, 0, 0, 1, 0)
    row = next(line for line in queue.splitlines() if case.case_id in line)
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
