"""``dancu import-list`` against the session's registry and case-status servers: a small CSV
with an applied, a needs-review, a server-rejected and a locally rejected row; the summary it
prints, the --report CSV, and re-runs (a replay, then the same list under a new request id)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from services.cli import import_list
from services.kit.auth import TokenIssuer
from tests.integration.case_status_client import HOAN_KIEM_POLICE
from tests.integration.registry_client import HOAN_KIEM, name_tag, register, today

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

    from services.kit.server import Server

BORN = dt.date(1979, 3, 14)


def _options(argv: list[str]) -> import_list.Options:
    parser = argparse.ArgumentParser(prog="dancu import-list")
    import_list.add_arguments(parser)
    return import_list.options_from(parser.parse_args(argv))


def _row(citizen_id: str, name: str, birth: str, classification: str) -> list[str]:
    """A CSV row of Hoàn Kiếm effective today, without care or condition."""
    day = today().isoformat()
    return [citizen_id, name, birth, HOAN_KIEM, "Hàng Bạc", classification, day, "", "", "", ""]


def _summary_numbers(printed: str) -> list[int]:
    """The data row of the summary table: the one line whose cells are all numbers."""
    for line in printed.splitlines():
        cells = [c.strip().replace(",", "") for c in line.split("│")[1:-1]]
        if len(cells) == 8 and all(c.isdigit() for c in cells):
            return [int(c) for c in cells]
    raise AssertionError(f"no summary row in:\n{printed}")


async def test_import_list_prints_summary_writes_report_and_replays(
    case_status_server: Server,
    registrar: RegistryServiceAsyncStub,
    token_issuer: TokenIssuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    tag = name_tag()
    applied = await register(registrar, full_name=f"{tag} Văn Áp", birth_date=BORN)
    differs = await register(registrar, full_name=f"{tag} Văn Khác", birth_date=BORN)
    day = today().isoformat()
    listing = tmp_path / "list.csv"
    with listing.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(import_list.COLUMNS)
        writer.writerow(_row(applied.citizen_id, applied.full_name, BORN.isoformat(), "F1"))
        writer.writerow(_row(differs.citizen_id, differs.full_name, "1979-03-15", "F1"))
        writer.writerow(_row("12AB", "Ai Đó", BORN.isoformat(), "F1"))
        writer.writerow(_row(applied.citizen_id, applied.full_name, BORN.isoformat(), "F9"))
    token_file = tmp_path / "police.jwt"
    token_file.write_text(token_issuer.issue(HOAN_KIEM_POLICE) + "\n")
    report = tmp_path / "results.csv"
    argv = [
        str(listing),
        "--ward",
        HOAN_KIEM,
        "--list-id",
        f"cdc-{tag}",
        "--date",
        day,
        "--server",
        f"127.0.0.1:{case_status_server.port}",
        "--token-file",
        str(token_file),
        "--report",
        str(report),
    ]

    assert await import_list.run(_options(argv)) == 0

    printed = capsys.readouterr().out
    # rows, applied, unchanged, needs review, rejected, then new, changed, dropped compared with
    # the ward's previous list (another test's, whichever ran last: not compared here).
    first = _summary_numbers(printed)
    assert first[:5] == [4, 1, 0, 1, 2]
    assert "MATCH_WITH_DIFFERENCES" in printed
    assert differs.citizen_id in printed
    assert "CITIZEN_ID_MALFORMED" in printed
    assert "CLASSIFICATION_UNKNOWN" in printed
    with report.open(newline="", encoding="utf-8") as got:
        lines = list(csv.DictReader(got))
    assert [(r["row_number"], r["outcome"], r["reason"]) for r in lines] == [
        ("2", "APPLIED", ""),
        ("3", "NEEDS_REVIEW", "MATCH_WITH_DIFFERENCES"),
        ("4", "REJECTED", "CITIZEN_ID_MALFORMED"),
        ("5", "REJECTED", "CLASSIFICATION_UNKNOWN"),
    ]
    assert lines[0]["citizen_id"] == applied.citizen_id
    assert lines[0]["event_id"]
    assert (lines[1]["differing_fields"], lines[1]["candidates"]) == (
        "birth_date",
        differs.citizen_id,
    )
    assert "rejected locally" in lines[3]["detail"]
    import_id_line = next(line for line in printed.splitlines() if "import " in line)

    # The same file again: the same request id, so the server replays the first import.
    assert await import_list.run(_options(argv)) == 0
    replay = capsys.readouterr().out
    assert _summary_numbers(replay) == first
    assert import_id_line in replay

    # The same list under a new request id: a new import, its applicable row unchanged; the
    # previous list is now the first import, so nobody is new, changed or dropped.
    assert await import_list.run(_options([*argv, "--request-id", f"again-{tag}"])) == 0
    again = capsys.readouterr().out
    assert _summary_numbers(again) == [4, 0, 1, 1, 2, 0, 0, 0]
    assert import_id_line not in again
    with report.open(newline="", encoding="utf-8") as got:
        assert [r["outcome"] for r in csv.DictReader(got)][:2] == ["UNCHANGED", "NEEDS_REVIEW"]


async def test_import_list_refused_by_the_server_exits_1_with_the_reason(
    case_status_server: Server,
    token_issuer: TokenIssuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(",".join(import_list.COLUMNS) + "\n", encoding="utf-8")
    token_file = tmp_path / "police.jwt"
    token_file.write_text(token_issuer.issue(HOAN_KIEM_POLICE))
    argv = [
        str(listing),
        *("--ward", "00103", "--list-id", f"cdc-{name_tag()}", "--date", today().isoformat()),
        *("--server", f"127.0.0.1:{case_status_server.port}", "--token-file", str(token_file)),
    ]

    assert await import_list.run(_options(argv)) == 1

    printed = capsys.readouterr()
    assert "PERMISSION_DENIED" in printed.err
    assert "Traceback" not in printed.err + printed.out


async def test_import_list_rejects_a_file_with_unknown_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("citizen_id,name\n001,An\n", encoding="utf-8")
    argv = [str(listing), "--ward", HOAN_KIEM, "--list-id", "x", "--date", "2021-09-18"]
    argv += ["--token-file", str(listing)]

    assert await import_list.run(_options(argv)) == 2

    assert "missing: full_name" in capsys.readouterr().err
